//! HTTP handlers: thin adapters from requests to the domain functions, which carry the
//! tracing instrumentation and the logic.

pub mod catalog;
pub mod designs;
pub mod orders;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

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

/// The Shop's own routes (the runtime adds the health routes, `/openapi.json`, `/metrics` and
/// the common layers).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/catalog/products", get(catalog::search_products))
        .route("/catalog/products/{id}", get(catalog::get_product))
        .route("/catalog/categories", get(catalog::categories))
        .route("/designs", post(designs::create))
        .route("/designs/{id}", get(designs::get))
        .route(
            "/designs/{id}/edits",
            post(designs::edit).get(designs::list_edits),
        )
        .route(
            "/designs/{id}/versions",
            post(designs::save_version).get(designs::list_versions),
        )
        .route(
            "/designs/{id}/versions/{version}",
            get(designs::get_version),
        )
        .route(
            "/designs/{id}/versions/{version}/model",
            get(designs::download_model),
        )
        .route("/designs/{id}/saves", get(designs::list_saves))
        .route("/orders", post(orders::create))
        .route("/orders/{id}", get(orders::get))
        .route("/orders/{id}/status", get(orders::status))
        .with_state(state)
}
