//! The hand-written OpenAPI 3.0 description of every endpoint, served at `GET /openapi.json` by
//! the runtime.

/// The document, checked into `services/crm/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");
