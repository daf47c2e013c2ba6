//! The HTTP surface: thin handlers that parse, call a domain function and render its result.

pub mod customers;
pub mod openapi;
pub mod orders;
pub mod reconciliation;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use printflow_auth::{Auth, RequireExt, Role};

/// Only the Shop records orders: customers order through it, never in CRM directly.
const INTAKE: &[Role] = &[Role::OrderIntake];
/// Who reads orders: staff, and the Shop (which answers its customers about their own).
const ORDER_READERS: &[Role] = &[Role::Support, Role::Admin, Role::OrderIntake];
/// Who may see customers and cancel orders: staff.
const STAFF: &[Role] = &[Role::Support, Role::Admin];
/// Who reads the reconciler's report: staff and operations.
const RECONCILIATION_READERS: &[Role] = &[Role::Support, Role::Sre, Role::Admin];
/// Who repairs an order the reconciler reported: admin alone.
const REPAIRERS: &[Role] = &[Role::Admin];

/// The CRM's own routes, each group behind its roles (the runtime adds the health routes,
/// `/openapi.json`, `/metrics` and the common layers).
pub fn router(state: AppState, auth: &Auth) -> Router {
    let intake = Router::new()
        .route("/orders", post(orders::create))
        .require(auth, INTAKE);
    let read = Router::new()
        .route("/orders", get(orders::list))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/status", get(orders::status))
        .route("/orders/{id}/history", get(orders::history))
        .route("/orders/{id}/events", get(orders::events))
        .require(auth, ORDER_READERS);
    let staff = Router::new()
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/customers/{id}", get(customers::get))
        .require(auth, STAFF);
    let reconciliation = Router::new()
        .route("/reconciliation", get(reconciliation::report))
        .require(auth, RECONCILIATION_READERS);
    let repair = Router::new()
        .route("/orders/{id}/repair", post(reconciliation::repair_order))
        .require(auth, REPAIRERS);
    intake
        .merge(read)
        .merge(staff)
        .merge(reconciliation)
        .merge(repair)
        .with_state(state)
}
