//! `/openapi.json` is an OpenAPI 3.0 document that lists exactly the routes the router serves
//! (the list below, in the order `routes::router` declares them, plus the shared ones), each
//! of them routed.

mod common;

use common::spawn_app;
use printflow_test_support::openapi::{assert_documents_routes, FAULT_ROUTES};

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/jobs"),
    ("POST", "/jobs/states"),
    ("GET", "/jobs/{id}"),
    ("GET", "/jobs/{id}/events"),
    ("POST", "/jobs/{id}/qc"),
    ("POST", "/jobs/{id}/retry"),
    ("GET", "/orders/{order_id}/job"),
    ("GET", "/printers"),
    ("GET", "/printers/{id}"),
    ("POST", "/printers/{id}/pause"),
    ("POST", "/printers/{id}/resume"),
];

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    // No model is downloaded in this test, so the Shop URL is never called.
    let app = spawn_app("http://127.0.0.1:9", &[]).await;
    assert_documents_routes(&app.base, &[ROUTES, FAULT_ROUTES].concat()).await;
}
