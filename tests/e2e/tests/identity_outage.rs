//! Keycloak going away does not stop the order flow while tokens and keys are cached: the
//! services reach Keycloak through a TCP relay of this test (the shared Keycloak keeps running
//! for the other tests), the relay is cut, and orders still go through: the Shop's own token is
//! cached, every service verifies with the keys it fetched before.

mod common;

use common::Stack;
use printflow_test_support::{identity, TestVhost};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Forwards TCP connections to `target` until cancelled; then refuses new ones and cuts the open
/// ones, as a stopped Keycloak would.
async fn relay(target: String) -> (String, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        loop {
            let (mut inbound, _) = tokio::select! {
                _ = stopped.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(_) => continue,
                },
            };
            let target = target.clone();
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&target).await else {
                    return;
                };
                tokio::select! {
                    _ = stopped.cancelled() => {}
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                }
            });
        }
    });
    (addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_go_through_while_keycloak_is_unreachable_with_cached_tokens_and_keys() {
    let keycloak = identity::keycloak_url();
    let (relay_addr, cut) = relay(keycloak.trim_start_matches("http://").to_owned()).await;
    let via_relay = format!("http://{relay_addr}/realms/{}", identity::REALM);
    let certs = format!("{via_relay}/protocol/openid-connect/certs");
    let vhost = TestVhost::new().await;
    let stack = Stack::start_with(
        &vhost.amqp_url,
        &[
            (
                "SHOP_AUTH_TOKEN_URL",
                format!("{via_relay}/protocol/openid-connect/token"),
            ),
            ("SHOP_AUTH_JWKS_URL", certs.clone()),
            ("CRM_AUTH_JWKS_URL", certs.clone()),
            ("MES_AUTH_JWKS_URL", certs.clone()),
            (
                "MES_AUTH_TOKEN_URL",
                format!("{via_relay}/protocol/openid-connect/token"),
            ),
        ],
    )
    .await;
    let (design, version) = stack.saved_design().await;
    let first = stack.place_order(&design, version, 1).await;
    stack
        .wait_for_status(&first, "SHIPPED", std::time::Duration::from_secs(60))
        .await;

    cut.cancel();
    // Keycloak is unreachable for the services now.
    let refused = reqwest::Client::new()
        .get(&certs)
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "the relay is cut");

    let second = stack.place_order(&design, version, 2).await;
    stack
        .wait_for_status(&second, "SHIPPED", std::time::Duration::from_secs(60))
        .await;
    let via_shop = stack
        .get(&format!("{}/orders/{second}/status", stack.shop))
        .await;
    assert_eq!(via_shop["status"], json!("SHIPPED"));
    stack.shutdown().await;
}
