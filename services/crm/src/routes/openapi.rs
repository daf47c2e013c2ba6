//! `GET /openapi.json`: the hand-written OpenAPI 3.0 description of every endpoint.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, checked into `services/crm/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// Serves [`OPENAPI_JSON`].
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}
