//! A real Shop binary exporting its spans through the telemetry gate (in front of the real
//! Jaeger) with its own client-credentials token, over OTLP/HTTP and over OTLP/gRPC: they
//! arrive. The same binary without a token
//! is refused by the gate, and its spans are not stored.

mod common;

use common::processes::{otel_env, telemetry_gate, ServiceProcess};
use common::shop_db;
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{eventually, identity, Jaeger};
use std::time::Duration;

/// A Shop exporting to `gate` over `protocol` (`http/protobuf` or `grpc`), with `auth`
/// settings added.
async fn shop_exporting_to(
    gate: &str,
    protocol: &str,
    auth: &[(&'static str, String)],
) -> (ServiceProcess, std::path::PathBuf) {
    let db = shop_db().await;
    let models = std::env::temp_dir().join(format!("printflow-models-{}", uuid::Uuid::new_v4()));
    let mut env = otel_env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", gate.to_owned()));
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()));
    env.push(("SHOP_DATABASE_URL", db.url.clone()));
    env.push(("SHOP_MODEL_STORE_DIR", models.display().to_string()));
    env.extend(auth.iter().cloned());
    (ServiceProcess::start("shop", &env).await, models)
}

/// One catalog search; the id of its trace.
async fn search(shop: &ServiceProcess) -> String {
    let resp = reqwest::get(format!("{}/catalog/categories", shop.url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()["x-trace-id"].to_str().unwrap().to_owned()
}

async fn gate_counter(gate: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = identity::metrics_text(gate).await;
    Scrape::parse(&text)
        .unwrap()
        .value(name, labels)
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_exports_through_the_gate_with_its_token_and_not_without() {
    let jaeger = Jaeger::from_env();
    let running = telemetry_gate().await;
    let gate = running.base_url.clone();

    let auth = [
        (
            "TELEMETRY_TOKEN_URL",
            format!("{}/protocol/openid-connect/token", identity::issuer()),
        ),
        ("TELEMETRY_CLIENT_ID", "shop-api".to_owned()),
        (
            "TELEMETRY_CLIENT_SECRET",
            identity::client_secret("shop-api"),
        ),
    ];
    // Both OTLP protocols carry the token: HTTP as a header, gRPC as metadata.
    let grpc = running.url("otlp-grpc").unwrap().to_owned();
    let mut stores = Vec::new();
    for (endpoint, protocol) in [(gate.as_str(), "http/protobuf"), (grpc.as_str(), "grpc")] {
        let (shop, models) = shop_exporting_to(endpoint, protocol, &auth).await;
        let id = search(&shop).await;
        let trace = eventually(
            "the Shop's span in Jaeger, through the gate",
            Duration::from_secs(30),
            || async { jaeger.trace(&id).await },
        )
        .await;
        assert_eq!(trace.services(), ["shop-api"], "{protocol}");
        assert!(shop.stop().await);
        stores.push(models);
    }
    let accepted = [("client", "shop-api"), ("outcome", "accepted")];
    assert!(gate_counter(&gate, "gate_ingest_batches_total", &accepted).await >= 2.0);

    let (anonymous, models) = shop_exporting_to(&gate, "http/protobuf", &[]).await;
    let id = search(&anonymous).await;
    let missing = [("service", "telemetry-gate"), ("reason", "missing")];
    eventually(
        "the gate refusing the token-less export",
        Duration::from_secs(30),
        || async {
            (gate_counter(&gate, "auth_failures_total", &missing).await >= 1.0).then_some(())
        },
    )
    .await;
    assert!(
        jaeger.trace(&id).await.is_none(),
        "a refused export was stored"
    );
    assert!(anonymous.stop().await);
    stores.push(models);
    for dir in stores {
        let _ = std::fs::remove_dir_all(dir);
    }
}
