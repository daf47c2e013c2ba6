//! The HTTP surface: thin handlers that parse, call a domain function and render its result.

pub mod customers;
pub mod openapi;
pub mod orders;

use crate::db::Db;
use crate::metrics::CrmMetrics;
use axum::routing::{get, post};
use axum::Router;
use printflow_messaging::{Broker, OutboxSignal};
use printflow_metrics::Metrics;
use printflow_web::server::{database_check, health_routes, with_common_layers, Check, Limits};
use std::sync::Arc;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database with the per-request query timeout.
    pub db: Db,
    /// Wakes the outbox relay after a commit that enqueued an event.
    pub outbox: OutboxSignal,
    /// Order metrics (status changes made by cancellation are observed here).
    pub metrics: CrmMetrics,
}

/// Every route, with the health routes, `/openapi.json` and the common middleware (including
/// `GET /metrics`, serving `metrics`).
pub fn router(state: AppState, broker: Arc<Broker>, metrics: &Metrics) -> Router {
    let api = Router::new()
        .route("/orders", post(orders::create).get(orders::list))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/status", get(orders::status))
        .route("/orders/{id}/history", get(orders::history))
        .route("/orders/{id}/events", get(orders::events))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/customers/{id}", get(customers::get))
        .route("/openapi.json", get(openapi::document))
        .with_state(state.clone());
    let broker_check: Check = Arc::new(move || {
        let broker = broker.clone();
        Box::pin(async move { broker.check().await })
    });
    let health = health_routes(vec![
        ("database", database_check(state.db.pool.clone())),
        ("broker", broker_check),
    ]);
    with_common_layers(api.merge(health), Limits::default(), metrics)
}
