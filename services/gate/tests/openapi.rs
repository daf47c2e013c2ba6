//! `GET /openapi.json` lists exactly the gate's routes, each documenting what it answers, with
//! the same security rules as the other services.

use printflow_gate::app::Application;
use printflow_gate::config::Config;
use printflow_test_support::{identity, openapi};
use std::collections::HashMap;

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let env = HashMap::from([
        // Free ports: the well-known ones (16686, 4317, 4318) may be a running stack's gate.
        ("GATE_HTTP_PORT", "0".to_owned()),
        ("GATE_OTLP_GRPC_PORT", "0".to_owned()),
        ("GATE_OTLP_HTTP_PORT", "0".to_owned()),
        ("GATE_AUTH_ISSUER_URL", identity::issuer()),
    ]);
    let gate = Application::build(Config::from_source(&env).unwrap())
        .await
        .unwrap()
        .spawn();
    openapi::assert_documents_routes(
        &gate.base_url,
        &[
            // Ingestion (OTLP/HTTP; the OTLP/gRPC method on the same router is no OpenAPI
            // operation: the document describes it in `info`).
            ("POST", "/v1/traces"),
            // The query side (Jaeger's API, v1, SPM and v3, filtered by the caller's view).
            ("GET", "/api/services"),
            ("GET", "/api/services/{service}/operations"),
            ("GET", "/api/operations"),
            ("GET", "/api/traces"),
            ("GET", "/api/traces/{trace_id}"),
            ("GET", "/api/dependencies"),
            ("GET", "/api/metrics/{kind}"),
            ("GET", "/api/v3/services"),
            ("GET", "/api/v3/operations"),
            ("GET", "/api/v3/traces"),
            ("GET", "/api/v3/traces/{trace_id}"),
            ("GET", "/auth/me"),
            // Jaeger's own UI behind the login (its `/jaeger/api/...` requests are the routes
            // above under that prefix).
            ("GET", "/jaeger"),
            ("GET", "/jaeger/"),
            ("GET", "/jaeger/{path}"),
            // Browser login (public).
            ("GET", "/auth/login"),
            ("GET", "/auth/callback"),
            ("GET", "/auth/logout"),
            ("POST", "/auth/logout"),
            ("GET", "/auth/logged-out"),
        ],
    )
    .await;
}
