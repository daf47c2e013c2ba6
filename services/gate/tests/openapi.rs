//! `GET /openapi.json` lists exactly the gate's routes, each documenting what it answers, with
//! the same security rules as the other services.

use printflow_gate::app::Application;
use printflow_gate::config::Config;
use printflow_test_support::{identity, openapi};
use std::collections::HashMap;

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let env = HashMap::from([
        ("GATE_HTTP_PORT", "0".to_owned()),
        ("GATE_AUTH_ISSUER_URL", identity::issuer()),
    ]);
    let gate = Application::build(Config::from_source(&env).unwrap())
        .await
        .unwrap()
        .spawn();
    openapi::assert_documents_routes(&gate.base_url, &[("POST", "/v1/traces")]).await;
}
