//! HTTP plumbing written once for Shop, CRM and MES.
//!
//! - [`error::ApiError`] is the one error type a handler returns: it renders as
//!   `{"code", "message", "field"}` with the right 4xx/5xx status. Each service keeps its own
//!   domain error enum and converts it into `ApiError` at the handler boundary.
//! - [`extract`] wraps axum's extractors so a malformed body, path or query is a 400/422 JSON
//!   error instead of axum's plain-text rejection.
//! - [`server`] builds the common middleware stack (body limit, timeout, panic catcher, request
//!   logging, `GET /metrics` and the request-duration histogram) and waits for the shutdown
//!   signal; `printflow-runtime` serves it with the health routes and background tasks.
//! - [`metrics`] is the HTTP side of the metrics: the `/metrics` handler and the histogram
//!   middleware (the registry itself is `printflow_metrics::Metrics`, one per application).
//! - [`typed`] parses a JSON body or a query string into a typed request, naming the field at
//!   fault (`operations[1].value`) when a value has the wrong type or is missing.
//! - [`config`] reads settings through a trait, so tests pass a map and never touch process env
//!   (re-exported from `printflow-config`).
//! - [`client`] builds outgoing HTTP clients that always have timeouts.

pub mod client;
pub mod config;
pub mod error;
pub mod extract;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod typed;

pub use error::ApiError;
pub use extract::{Json, Path, Query};
