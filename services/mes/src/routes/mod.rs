//! HTTP routes. Handlers are thin: they parse, call one function and map its error.

pub mod jobs;
pub mod printers;

use crate::production::Production;
use axum::routing::{get, post};
use axum::Router;
use printflow_messaging::OutboxSignal;
use sqlx::PgPool;
use std::sync::Arc;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// MES database.
    pub pool: PgPool,
    /// Phase timings, for transitions made by operator actions.
    pub production: Arc<Production>,
    /// Wakes the outbox relay after an operator action committed.
    pub signal: OutboxSignal,
}

/// The hand-written OpenAPI document describing every endpoint.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The service's own routes (without health routes and common layers).
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
        .route("/openapi.json", get(openapi))
        .with_state(state)
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
