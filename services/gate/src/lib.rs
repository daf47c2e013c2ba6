//! printflow's telemetry gate: Jaeger checks nothing, so everything that writes or reads trace
//! data goes through this service, with the realm's tokens (docs/security.md, docs/telemetry.md).
//! It owns the well-known addresses (OTLP 4317 and 4318, the query API on 16686); Jaeger sits
//! behind it on internal ports.
//!
//! Writing: a batch (OTLP/HTTP `POST /v1/traces` or OTLP/gRPC `TraceService/Export`) is accepted
//! only from a client with the `telemetry-writer` role, and only when every resource in it names
//! that client as its `service.name`; values matching the redaction rules are masked; the batch
//! is buffered and sent on to Jaeger with retries, and what cannot be kept is counted.
//!
//! Reading: Jaeger's query API (v1, v3, SPM) with the caller's view of the trace-access policy
//! applied, every access audited.
//!
//! - [`ingest`] ([`ingest::check_batch`], the shared [`ingest::Ingest`], the HTTP handler),
//!   [`grpc`], [`redact`], [`forward`] (the retry buffer);
//! - [`query`] (the handlers), [`policy`] (who sees what), [`filter`] (applying a view to
//!   Jaeger's JSON), [`audit`], [`ui`] (Jaeger's own UI, where it has one);
//! - [`login`] and [`session`] (browsers sign in through Keycloak), [`console`] (the pages
//!   people look at);
//! - [`metrics`], [`config`], [`app`] (what the gate adds to the shared runtime).
//!
//! Errors: handlers answer `printflow_web::ApiError` (JSON `{code, message}`); OTLP exporters
//! act on the status code (400/401/403/413/415 final, 503 retry), gRPC ones on the status
//! (`UNAUTHENTICATED`, `PERMISSION_DENIED`, `INVALID_ARGUMENT` final, `UNAVAILABLE` retried).
//!
//! Layering, top-down: `app`; `console`; `grpc`, `query`, `ui`, `session`; `login`, `ingest`, `audit`;
//! `forward`, `redact`, `filter`; `policy`, `config`, `metrics`.

pub mod app;
pub mod audit;
pub mod config;
pub mod console;
pub mod filter;
pub mod forward;
pub mod grpc;
pub mod ingest;
pub mod login;
pub mod metrics;
pub mod policy;
pub mod query;
pub mod redact;
pub mod session;
pub mod ui;
