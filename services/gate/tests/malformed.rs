//! Bad input to the gate's receivers: random bytes, every truncation of a valid batch, a
//! valid batch followed by garbage, values nested deeper than any decoder should follow, and
//! oversized messages. Over HTTP each gets a 4xx with a JSON body, over gRPC INVALID_ARGUMENT;
//! the gate never crashes, nothing of it is stored, and a valid batch still goes through after.

mod common;

use common::{attr, gate, hex, post, request, simple, span, span_id, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
use printflow_test_support::{eventually, identity, Jaeger};
use prost::Message;
use rand::{Rng, SeedableRng};
use std::time::Duration;

const PROTOBUF: &str = "application/x-protobuf";

/// An attribute whose value is a key-value list nested `depth` levels deep.
fn nested(depth: usize) -> KeyValue {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("ada@example.com".into())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(value),
                    ..Default::default()
                }],
            })),
        };
    }
    KeyValue {
        key: "deep".into(),
        value: Some(value),
        ..Default::default()
    }
}

#[tokio::test]
async fn malformed_batches_are_refused_and_never_crash_the_gate() {
    let gate = gate(&[]).await;
    let base = gate.base_url.clone();
    let shop = identity::client_token("shop-api").await;
    // Seeded: a failure can be replayed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6a7e);

    let valid = simple(&[("shop-api", trace_id())]).encode_to_vec();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for _ in 0..200 {
        let len = rng.random_range(1..512);
        bodies.push((0..len).map(|_| rng.random()).collect());
    }
    // Every cut of a valid batch that does not end on a field boundary.
    for cut in 1..valid.len() {
        if ExportTraceServiceRequest::decode(&valid[..cut]).is_ok() {
            continue;
        }
        bodies.push(valid[..cut].to_vec());
    }
    let mut trailing = valid.clone();
    trailing.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    bodies.push(trailing);
    // A length prefix claiming far more bytes than follow.
    bodies.push(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01]);
    let deep = request(vec![(
        "shop-api",
        vec![span(
            trace_id(),
            span_id(),
            None,
            "deep",
            2,
            vec![nested(200)],
        )],
    )]);
    bodies.push(deep.encode_to_vec());

    let mut refused = 0;
    for body in &bodies {
        let resp = reqwest::Client::new()
            .post(format!("{base}/v1/traces"))
            .header("content-type", PROTOBUF)
            .bearer_auth(&shop)
            .body(body.clone())
            .send()
            .await
            .expect("the gate answers");
        let status = resp.status().as_u16();
        // Random bytes can form a valid (often empty) request: those are accepted, the rest are
        // the client's fault with a JSON reason.
        if status == 200 {
            continue;
        }
        refused += 1;
        assert!((400..500).contains(&status), "{status} for {body:02x?}");
        let json: serde_json::Value = resp.json().await.expect("a JSON error body");
        assert!(
            json["code"].is_string() && json["message"].is_string(),
            "{json}"
        );
    }
    assert!(
        refused >= bodies.len() / 2,
        "only {refused} of {} refused",
        bodies.len()
    );

    // Over gRPC: the same deep batch and a too-large one are refused with a status.
    let mut client = TraceServiceClient::connect(gate.url("otlp-grpc").unwrap().to_owned())
        .await
        .unwrap();
    let mut big = simple(&[("shop-api", trace_id())]);
    big.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(attr("blob", &"x".repeat(5 * 1024 * 1024)));
    for request in [deep, big] {
        let mut req = tonic::Request::new(request);
        req.metadata_mut()
            .insert("authorization", format!("Bearer {shop}").parse().unwrap());
        let status = client.export(req).await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
    // And over HTTP, more than the body limit.
    assert_eq!(
        post(
            &base,
            Some(&shop),
            PROTOBUF,
            vec![0x0a; 4 * 1024 * 1024 + 1]
        )
        .await,
        413
    );

    // Still alive, still storing.
    let id = trace_id();
    assert_eq!(
        post(
            &base,
            Some(&shop),
            PROTOBUF,
            simple(&[("shop-api", id)]).encode_to_vec()
        )
        .await,
        200
    );
    let jaeger = Jaeger::from_env();
    eventually(
        "a valid batch after the bad ones",
        Duration::from_secs(30),
        || async { jaeger.trace(&hex(&id)).await },
    )
    .await;
}
