//! What the gate's integration tests share: a gate on free ports in front of the real Jaeger,
//! with the real Keycloak's tokens, and OTLP batches shaped like the services' own.

#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod browser;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use printflow_gate::app::Application;
use printflow_gate::config::Config;
use printflow_runtime::Spawned;
use printflow_test_support::{identity, jaeger};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The gate on free ports (main, OTLP/gRPC, OTLP/HTTP), in front of the test Jaeger, with
/// `extra` settings on top.
pub async fn gate(extra: &[(&'static str, String)]) -> Spawned {
    let jaeger_query = std::env::var("PRINTFLOW_TEST_JAEGER_API")
        .unwrap_or_else(|_| "http://127.0.0.1:16687".to_owned());
    let mut env = HashMap::from([
        ("GATE_HTTP_PORT", "0".to_owned()),
        ("GATE_OTLP_GRPC_PORT", "0".to_owned()),
        ("GATE_OTLP_HTTP_PORT", "0".to_owned()),
        ("GATE_AUTH_ISSUER_URL", identity::issuer()),
        (
            "GATE_JAEGER_OTLP_URL",
            format!("{}/v1/traces", jaeger::otlp_endpoint()),
        ),
        ("GATE_JAEGER_QUERY_URL", jaeger_query),
    ]);
    env.extend(extra.iter().cloned());
    Application::build(Config::from_source(&env).unwrap())
        .await
        .unwrap()
        .spawn()
}

/// A fresh random trace id.
pub fn trace_id() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

/// A fresh random span id.
pub fn span_id() -> [u8; 8] {
    uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap()
}

/// Lower-case hex, as Jaeger prints ids.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A string attribute.
pub fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// One ended span of `trace`, child of `parent`, of `kind` (OTLP numbering: 2 server,
/// 3 client, 4 producer, 5 consumer), with `attributes`.
pub fn span(
    trace: [u8; 16],
    id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &str,
    kind: i32,
    attributes: Vec<KeyValue>,
) -> Span {
    let now = now_nanos();
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: now - 5_000_000,
        end_time_unix_nano: now,
        attributes,
        ..Default::default()
    }
}

/// A batch with one resource per `(service.name, spans)`.
pub fn request(resources: Vec<(&str, Vec<Span>)>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: resources
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        attr("service.name", service),
                        attr("host.name", "printer-host"),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// A batch of one server span per `(service.name, trace id)`.
pub fn simple(resources: &[(&str, [u8; 16])]) -> ExportTraceServiceRequest {
    request(
        resources
            .iter()
            .map(|(service, trace)| {
                (
                    *service,
                    vec![span(*trace, span_id(), None, "gate-test", 2, vec![])],
                )
            })
            .collect(),
    )
}

/// POSTs `body` to the gate's OTLP/HTTP receiver at `base`; the status.
pub async fn post(base: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/v1/traces"))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Writes through the gate at `base` one trace of the Shop's request (`operation`) and the MES
/// job it started, which failed, each service with its own token; waits until Jaeger has both
/// spans and returns the trace id (hex).
pub async fn write_failed_job_trace(base: &str, operation: &str) -> String {
    let t = trace_id();
    let (root, job) = (span_id(), span_id());
    let failed = vec![
        attr("messaging.system", "rabbitmq"),
        attr("otel.status_code", "ERROR"),
    ];
    for (service, spans) in [
        ("shop-api", vec![span(t, root, None, operation, 2, vec![])]),
        (
            "mes-api",
            vec![span(
                t,
                job,
                Some(root),
                "process mes.order-created",
                5,
                failed.clone(),
            )],
        ),
    ] {
        let token = identity::client_token(service).await;
        let body = prost::Message::encode_to_vec(&request(vec![(service, spans)]));
        assert_eq!(
            post(base, Some(&token), "application/x-protobuf", body).await,
            200
        );
    }
    let id = hex(&t);
    let jaeger = printflow_test_support::Jaeger::from_env();
    printflow_test_support::eventually(
        "the trace in Jaeger",
        std::time::Duration::from_secs(30),
        || async { jaeger.trace(&id).await.filter(|tr| tr.spans.len() == 2) },
    )
    .await;
    id
}
