//! The demo traffic generator (the built `printflow-traffic` binary, `--once`) against the three
//! real services: with its client credentials every journey, an order included, succeeds with
//! tokens end to end; without them only the public catalog does, and the refusals are failures it
//! reports.

mod common;

use common::Stack;
use printflow_test_support::{identity, TestVhost};
use std::path::PathBuf;
use std::process::Output;

fn traffic_binary() -> PathBuf {
    std::env::var("PRINTFLOW_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"))
        .join("printflow-traffic")
}

/// Runs every journey once against `shop`; `secret` is the `traffic` client's.
async fn run_once(shop: &str, secret: Option<String>) -> Output {
    let mut command = tokio::process::Command::new(traffic_binary());
    command
        .arg("--once")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRAFFIC_SHOP_URL", shop)
        .env("TRAFFIC_SEED", "7")
        .env(
            "TRAFFIC_TOKEN_URL",
            format!("{}/protocol/openid-connect/token", identity::issuer()),
        )
        .env("OTEL_SDK_DISABLED", "true");
    if let Some(secret) = secret {
        command.env("TRAFFIC_CLIENT_SECRET", secret);
    }
    command
        .output()
        .await
        .expect("printflow-traffic runs (cargo build --bins first)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_traffic_generator_orders_with_its_own_token_and_is_refused_without_one() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;

    let out = run_once(&stack.shop, Some(identity::client_secret("traffic"))).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "with its token: {stdout}");
    assert!(stdout.contains("once: purchase ok"), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");

    let out = run_once(&stack.shop, None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "anonymous designing must fail: {stdout}"
    );
    assert!(
        stdout.contains("once: browse ok"),
        "the catalog is public: {stdout}"
    );
    assert!(stdout.contains("once: design FAILED"), "{stdout}");
    stack.shutdown().await;
}
