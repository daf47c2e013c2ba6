//! HTTP routes. Handlers are thin: they parse, call one function and map its error.

pub mod jobs;
pub mod printers;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use printflow_auth::{Auth, RequireExt, Role};

/// Who reads jobs and printers: the shop floor, support (answering customers), SRE, admin, and
/// CRM's reconciler (`job-reader`).
const READERS: &[Role] = &[
    Role::Production,
    Role::Support,
    Role::Sre,
    Role::Admin,
    Role::JobReader,
];
/// Who acts on the shop floor: production alone.
const OPERATORS: &[Role] = &[Role::Production];

/// The hand-written OpenAPI document describing every endpoint, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The service's own routes (the runtime adds the health routes, `/openapi.json`, `/metrics`
/// and the common layers).
pub fn router(state: AppState, auth: &Auth) -> Router {
    let read = Router::new()
        .route("/jobs", get(jobs::list))
        .route("/jobs/states", post(jobs::states))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/events", get(jobs::events))
        .route("/orders/{order_id}/job", get(jobs::for_order))
        .route("/printers", get(printers::list))
        .route("/printers/{id}", get(printers::get))
        .require(auth, READERS);
    let operate = Router::new()
        .route("/jobs/{id}/qc", post(jobs::quality_check))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/printers/{id}/pause", post(printers::pause))
        .route("/printers/{id}/resume", post(printers::resume))
        .require(auth, OPERATORS);
    read.merge(operate).with_state(state)
}
