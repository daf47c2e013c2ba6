//! `/openapi.json` is an OpenAPI 3.0 document that lists exactly the routes the router serves
//! (the list below, in the order `routes::router` declares them, plus the shared ones), each
//! of them routed.

mod common;

use common::spawn_app;
use printflow_test_support::openapi::{assert_documents_routes, FAULT_ROUTES};

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/orders"),
    ("GET", "/orders"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/status"),
    ("GET", "/orders/{id}/history"),
    ("GET", "/orders/{id}/events"),
    ("POST", "/orders/{id}/cancel"),
    ("GET", "/customers/{id}"),
    ("GET", "/reconciliation"),
    ("POST", "/orders/{id}/repair"),
];

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    assert_documents_routes(&app.app.base, &[ROUTES, FAULT_ROUTES].concat()).await;
}
