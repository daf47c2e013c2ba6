//! `/openapi.json` is an OpenAPI 3.0 document that lists exactly the routes the router serves
//! (`routes::ROUTES` plus the shared ones), each of them routed.

mod common;

use common::spawn_app;
use printflow_shop::routes::ROUTES;
use printflow_test_support::openapi::{assert_documents_routes, FAULT_ROUTES};

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    assert_documents_routes(&app.url(""), &[ROUTES, FAULT_ROUTES].concat()).await;
}
