//! Keycloak going away and coming back while services write spans and a person reads traces:
//! the gate reaches Keycloak through a TCP relay of this test (the shared Keycloak keeps running
//! for the other tests), which is cut and restored. Writers' batches keep being accepted with
//! the keys the gate cached, a signed-in browser keeps reading while its access token lasts, and
//! after the restart new tokens and new sign-ins work again.

mod common;

use common::browser::signed_in;
use common::{gate, hex, post, simple, trace_id};
use printflow_test_support::{eventually, identity, Jaeger};
use prost::Message;
use reqwest::header::COOKIE;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// Forwards to `target` while `up`; while down, drops new connections at once (a stopped
/// Keycloak refuses them). Open connections are cut when it goes down.
async fn relay(target: String, up: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !up.load(Ordering::SeqCst) {
                continue;
            }
            let (target, up) = (target.clone(), up.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&target).await else {
                    return;
                };
                let watch = async {
                    while up.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    () = watch => {}
                }
            });
        }
    });
    addr
}

async fn write(gate: &str, token: &str) -> ([u8; 16], u16) {
    let id = trace_id();
    let body = simple(&[("mes-api", id)]).encode_to_vec();
    (
        id,
        post(gate, Some(token), "application/x-protobuf", body).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_and_sessions_ride_out_a_keycloak_restart() {
    let up = Arc::new(AtomicBool::new(true));
    let keycloak = identity::keycloak_url();
    let via_relay = format!(
        "http://{}/realms/{}/protocol/openid-connect",
        relay(
            keycloak.trim_start_matches("http://").to_owned(),
            up.clone()
        )
        .await,
        identity::REALM
    );
    let gate = gate(&[
        ("GATE_AUTH_JWKS_URL", format!("{via_relay}/certs")),
        ("GATE_OIDC_TOKEN_URL", format!("{via_relay}/token")),
        (
            "GATE_OIDC_CLIENT_SECRET",
            identity::client_secret("telemetry-console"),
        ),
    ])
    .await;
    let base = gate.base_url.as_str();
    let jaeger = Jaeger::from_env();
    let mes = identity::client_token("mes-api").await;

    // Keycloak up: the gate fetches the keys once; a person signs in.
    let (first, status) = write(base, &mes).await;
    assert_eq!(status, 200);
    let session = signed_in(base, "riley").await;
    let read = |path: String| {
        let session = session.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{base}{path}"))
                .header(COOKIE, format!("printflow_session={session}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    // Keycloak down.
    up.store(false, Ordering::SeqCst);
    let mut during = Vec::new();
    for _ in 0..3 {
        let (id, status) = write(base, &mes).await;
        assert_eq!(status, 200, "a batch refused while Keycloak is down");
        during.push(id);
    }
    for id in std::iter::once(first).chain(during) {
        eventually(
            "a span written during the outage",
            Duration::from_secs(30),
            || async { jaeger.trace(&hex(&id)).await },
        )
        .await;
    }
    assert_eq!(
        read(format!("/api/traces/{}", hex(&first))).await,
        200,
        "the session during the outage"
    );

    // Keycloak back: a new sign-in (whose code is redeemed through the relay) and the old
    // session both work.
    up.store(true, Ordering::SeqCst);
    let again = signed_in(base, "sam").await;
    let status = reqwest::Client::new()
        .get(format!("{base}/api/services"))
        .header(COOKIE, format!("printflow_session={again}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert_eq!(read("/api/services".to_owned()).await, 200);
    let (_, status) = write(base, &mes).await;
    assert_eq!(status, 200);
}
