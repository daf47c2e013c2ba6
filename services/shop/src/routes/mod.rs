//! HTTP handlers: thin adapters from requests to the domain functions, which carry the
//! tracing instrumentation and the logic.

pub mod catalog;
pub mod designs;
pub mod orders;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use printflow_auth::{Auth, RequireExt, Role};

/// The hand-written OpenAPI document, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// Every service route as (method, path), in the order the router declares them. The OpenAPI
/// test checks this list, the router and `openapi.json` against each other.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/catalog/products"),
    ("GET", "/catalog/products/{id}"),
    ("GET", "/catalog/categories"),
    ("POST", "/designs"),
    ("GET", "/designs/{id}"),
    ("POST", "/designs/{id}/edits"),
    ("GET", "/designs/{id}/edits"),
    ("POST", "/designs/{id}/versions"),
    ("GET", "/designs/{id}/versions"),
    ("GET", "/designs/{id}/versions/{version}"),
    ("GET", "/designs/{id}/versions/{version}/model"),
    ("GET", "/designs/{id}/saves"),
    ("POST", "/orders"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/status"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
];

/// Who may read a design or an order: its owner (a customer; handlers check ownership) and the
/// staff who look after any customer's.
const READERS: &[Role] = &[Role::Customer, Role::Support, Role::Admin];
/// Who may change a design or place an order: customers, for their own designs only.
const CUSTOMERS: &[Role] = &[Role::Customer];
/// Who may download a model file: the readers and MES (printing it).
const MODEL_READERS: &[Role] = &[
    Role::Customer,
    Role::Support,
    Role::Admin,
    Role::ModelReader,
];

/// The Shop's catalog: public, as a shop window is (docs/security.md).
pub fn public_router(state: AppState) -> Router {
    Router::new()
        .route("/catalog/products", get(catalog::search_products))
        .route("/catalog/products/{id}", get(catalog::get_product))
        .route("/catalog/categories", get(catalog::categories))
        .with_state(state)
}

/// The Shop's authenticated routes, each group behind its roles (the runtime adds the health
/// routes, `/openapi.json`, `/metrics` and the common layers).
pub fn router(state: AppState, auth: &Auth) -> Router {
    let change = Router::new()
        .route("/designs", post(designs::create))
        .route("/designs/{id}/edits", post(designs::edit))
        .route("/designs/{id}/versions", post(designs::save_version))
        .route("/orders", post(orders::create))
        .require(auth, CUSTOMERS);
    let read = Router::new()
        .route("/designs/{id}", get(designs::get))
        .route("/designs/{id}/edits", get(designs::list_edits))
        .route("/designs/{id}/versions", get(designs::list_versions))
        .route(
            "/designs/{id}/versions/{version}",
            get(designs::get_version),
        )
        .route("/designs/{id}/saves", get(designs::list_saves))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/status", get(orders::status))
        .require(auth, READERS);
    let model = Router::new()
        .route(
            "/designs/{id}/versions/{version}/model",
            get(designs::download_model),
        )
        .require(auth, MODEL_READERS);
    change.merge(read).merge(model).with_state(state)
}
