//! The gate on port 0 in front of the real Jaeger, with the real Keycloak's tokens: a service's
//! own spans are stored, every refused batch (no token, a bad one, no role, another service's
//! name, a mixed batch, not protobuf, not OTLP) gets its status and stores nothing.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use printflow_gate::app::Application;
use printflow_gate::config::Config;
use printflow_runtime::Spawned;
use printflow_test_support::{eventually, identity, Jaeger};
use prost::Message;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn gate() -> Spawned {
    let jaeger_otlp = std::env::var("PRINTFLOW_TEST_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:4318".to_owned());
    let env = HashMap::from([
        ("GATE_HTTP_PORT", "0".to_owned()),
        ("GATE_AUTH_ISSUER_URL", identity::issuer()),
        ("GATE_JAEGER_OTLP_URL", format!("{jaeger_otlp}/v1/traces")),
    ]);
    Application::build(Config::from_source(&env).unwrap())
        .await
        .unwrap()
        .spawn()
}

/// A batch of one span per `(service.name, trace id)`.
fn batch(resources: &[(&str, [u8; 16])]) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    ExportTraceServiceRequest {
        resource_spans: resources
            .iter()
            .map(|(service, trace_id)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue((*service).into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: trace_id.to_vec(),
                        span_id: trace_id[..8].to_vec(),
                        name: "gate-test".into(),
                        kind: 2,
                        start_time_unix_nano: now - 5_000_000,
                        end_time_unix_nano: now,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
    .encode_to_vec()
}

fn trace_id() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

async fn post(gate: &Spawned, token: Option<&str>, content_type: &str, body: Vec<u8>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/traces", gate.base_url))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

/// (what, token, content type, body, expected status)
type Case = (&'static str, Option<String>, &'static str, Vec<u8>, u16);

#[tokio::test]
async fn a_service_writes_its_own_spans_and_nothing_of_a_refused_batch_is_stored() {
    let gate = gate().await;
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
            "a person's token (not for the gate)",
            Some(identity::user_token("alice").await),
            proto,
            batch(&[("shop-api", refused[1])]),
            401,
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
            post(&gate, token.as_deref(), content_type, body).await,
            status,
            "{name}"
        );
    }

    let accepted = trace_id();
    assert_eq!(
        post(&gate, Some(&shop), proto, batch(&[("shop-api", accepted)])).await,
        200
    );
    let stored = eventually(
        "the accepted span in Jaeger",
        Duration::from_secs(30),
        || async { jaeger.trace(&hex(accepted)).await },
    )
    .await;
    assert_eq!(stored.services(), ["shop-api"]);
    // Sent before the accepted one, so they would be in Jaeger by now had they been forwarded.
    for id in refused {
        assert!(
            jaeger.trace(&hex(id)).await.is_none(),
            "refused trace {} stored",
            hex(id)
        );
    }

    let metrics = identity::metrics_text(&gate.base_url).await;
    for line in [
        r#"gate_ingest_batches_total{client="shop-api",outcome="accepted"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="service_name_not_allowed"} 2"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="unsupported_media_type"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="malformed"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="too_large"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="missing"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="forbidden"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}
