//! The gate on free ports in front of the real Jaeger, with the real Keycloak's tokens, over
//! OTLP/HTTP: a service's own spans are stored (on the main port and on the OTLP/HTTP port);
//! every refused batch (no token, a bad one, no role, another service's name, a mixed batch,
//! not protobuf, not OTLP, too large) gets its status and stores nothing.

mod common;

use common::{gate, hex, post, simple, trace_id};
use printflow_test_support::{eventually, identity, Jaeger};
use prost::Message;
use std::time::Duration;

fn batch(resources: &[(&str, [u8; 16])]) -> Vec<u8> {
    simple(resources).encode_to_vec()
}

/// (what, token, content type, body, expected status)
type Case = (&'static str, Option<String>, &'static str, Vec<u8>, u16);

#[tokio::test]
async fn a_service_writes_its_own_spans_and_nothing_of_a_refused_batch_is_stored() {
    let gate = gate(&[]).await;
    let base = gate.base_url.clone();
    let jaeger = Jaeger::from_env();
    let shop = identity::client_token("shop-api").await;
    let proto = "application/x-protobuf";

    let refused = [trace_id(), trace_id(), trace_id(), trace_id(), trace_id()];
    let cases: Vec<Case> = vec![
        (
            "no token",
            None,
            proto,
            batch(&[("shop-api", refused[0])]),
            401,
        ),
        (
            "garbage token",
            Some("garbage".into()),
            proto,
            batch(&[("shop-api", refused[0])]),
            401,
        ),
        (
            "a person's token (no writer role)",
            Some(identity::user_token("alice").await),
            proto,
            batch(&[("shop-api", refused[1])]),
            403,
        ),
        (
            "Prometheus' token (for the gate, without the writer role)",
            Some(identity::client_token("prometheus").await),
            proto,
            batch(&[("prometheus", refused[1])]),
            403,
        ),
        (
            "spoofing crm-api",
            Some(shop.clone()),
            proto,
            batch(&[("crm-api", refused[2])]),
            403,
        ),
        (
            "a mixed batch",
            Some(shop.clone()),
            proto,
            batch(&[("shop-api", refused[3]), ("crm-api", refused[3])]),
            403,
        ),
        (
            "JSON",
            Some(shop.clone()),
            "application/json",
            b"{}".to_vec(),
            415,
        ),
        (
            "not OTLP",
            Some(shop.clone()),
            proto,
            b"\xff\xfe\xfd".to_vec(),
            400,
        ),
        (
            "over the body limit",
            Some(shop.clone()),
            proto,
            vec![0u8; 4 * 1024 * 1024 + 1],
            413,
        ),
    ];
    for (name, token, content_type, body, status) in cases {
        assert_eq!(
            post(&base, token.as_deref(), content_type, body).await,
            status,
            "{name}"
        );
    }

    // Accepted on the main port and on the OTLP/HTTP port (the same router).
    let accepted = [trace_id(), trace_id()];
    let otlp_http = gate.url("otlp-http").unwrap();
    for (base, id) in [(base.as_str(), accepted[0]), (otlp_http, accepted[1])] {
        assert_eq!(
            post(base, Some(&shop), proto, batch(&[("shop-api", id)])).await,
            200
        );
    }
    for id in accepted {
        let stored = eventually(
            "the accepted span in Jaeger",
            Duration::from_secs(30),
            || async { jaeger.trace(&hex(&id)).await },
        )
        .await;
        assert_eq!(stored.services(), ["shop-api"]);
    }
    // Sent before the accepted one, so they would be in Jaeger by now had they been forwarded.
    for id in refused {
        assert!(
            jaeger.trace(&hex(&id)).await.is_none(),
            "refused trace {} stored",
            hex(&id)
        );
    }

    let metrics = identity::metrics_text(&base).await;
    for line in [
        r#"gate_ingest_batches_total{client="shop-api",outcome="accepted"} 2"#,
        r#"gate_ingest_spans_total{client="shop-api",outcome="accepted"} 2"#,
        r#"gate_stored_spans_total 2"#,
        r#"gate_buffered_spans 0"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="service_name_not_allowed"} 2"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="unsupported_media_type"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="malformed"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="too_large"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="missing"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="forbidden"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_as_expired() {
    // No leeway, and the dev realm's `expiry-probe` writer, whose tokens live 1 s.
    let gate = gate(&[("GATE_AUTH_LEEWAY_SECONDS", "0".to_owned())]).await;
    let base = gate.base_url.clone();
    let token = identity::client_token("expiry-probe").await;
    let write = || {
        post(
            &base,
            Some(&token),
            "application/x-protobuf",
            batch(&[("expiry-probe", trace_id())]),
        )
    };
    eventually(
        "the token refused once it expired",
        Duration::from_secs(15),
        || async { (write().await == 401).then_some(()) },
    )
    .await;
    // Refused for its age, not for anything else about it.
    let metrics = identity::metrics_text(&base).await;
    assert!(
        metrics.contains(r#"auth_failures_total{service="telemetry-gate",reason="expired"} 1"#),
        "{metrics}"
    );
    assert!(metrics
        .contains(r#"auth_failures_total{service="telemetry-gate",reason="bad_signature"} 0"#));
}
