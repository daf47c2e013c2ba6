//! HTTP routes. Handlers are thin: they parse, call one function and map its error.

pub mod jobs;
pub mod printers;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The hand-written OpenAPI document describing every endpoint, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The service's own routes (the runtime adds the health routes, `/openapi.json`, `/metrics`
/// and the common layers).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/jobs/{id}/qc", post(jobs::quality_check))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/orders/{order_id}/job", get(jobs::for_order))
        .route("/printers", get(printers::list))
        .route("/printers/{id}", get(printers::get))
        .route("/printers/{id}/pause", post(printers::pause))
        .route("/printers/{id}/resume", post(printers::resume))
        .with_state(state)
}
