//! The HTTP surface: thin handlers that parse, call a domain function and render its result.

pub mod customers;
pub mod openapi;
pub mod orders;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The CRM's own routes (the runtime adds the health routes, `/openapi.json`, `/metrics` and
/// the common layers).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", post(orders::create).get(orders::list))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/status", get(orders::status))
        .route("/orders/{id}/history", get(orders::history))
        .route("/orders/{id}/events", get(orders::events))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/customers/{id}", get(customers::get))
        .with_state(state)
}
