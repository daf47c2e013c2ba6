//! printflow's telemetry gate: Jaeger checks nothing, so everything that writes or reads trace
//! data goes through this service, with the realm's tokens (docs/security.md, docs/telemetry.md).
//!
//! This first part is the ingestion side: `POST /v1/traces` (OTLP/HTTP, protobuf) accepts a
//! batch only from a client with the `telemetry-writer` role, and only when every resource in
//! it names that client as its `service.name` (a service cannot write spans as another); an
//! accepted batch is forwarded to Jaeger's own OTLP endpoint unchanged.
//!
//! - [`ingest`]: the handler, [`ingest::check_batch`] (the pure rules) and the forwarding;
//! - [`metrics`]: batches and spans by client and outcome;
//! - [`config`], [`app`] (what the gate adds to the shared runtime), [`state`].
//!
//! Errors: the handler answers `printflow_web::ApiError` (JSON `{code, message}`), which OTLP
//! exporters read by status code: 400/403/413/415 are final, 503 means "retry later".
//!
//! Layering, top-down: `app`; `ingest`; `state`; `config`, `metrics`.

pub mod app;
pub mod config;
pub mod ingest;
pub mod metrics;
pub mod state;
