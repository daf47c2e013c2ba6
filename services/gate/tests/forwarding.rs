//! What happens to an accepted batch on its way to the real Jaeger: values the redaction rules
//! match are masked before storage and counted by key; while Jaeger cannot be reached the
//! batches wait in the gate's buffer and all arrive once it can; beyond the buffer the oldest
//! are dropped and counted.

mod common;

use common::{attr, gate, hex, post, request, span, span_id, trace_id};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{eventually, identity, jaeger, Jaeger};
use prost::Message;
use std::time::Duration;
use tokio::net::TcpListener;

const PROTOBUF: &str = "application/x-protobuf";

async fn metric(base: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = identity::metrics_text(base).await;
    Scrape::parse(&text)
        .unwrap()
        .value(name, labels)
        .unwrap_or(0.0)
}

#[tokio::test]
async fn personal_data_is_masked_before_storage_and_counted_by_key() {
    let gate = gate(&[]).await;
    let jaeger = Jaeger::from_env();
    let crm = identity::client_token("crm-api").await;
    let trace = trace_id();
    let order_id = uuid::Uuid::now_v7().to_string();
    let mut s = span(
        trace,
        span_id(),
        None,
        "POST /orders",
        2,
        vec![
            attr("customer.email", "ada@example.com"),
            attr("order.note", "call me on +44 20 7946 0958 please"),
            attr("payment.reference", "4111 1111 1111 1111"),
            attr("order.id", &order_id),
            attr("http.route", "/orders"),
        ],
    );
    s.events.push(Event {
        name: "exception".into(),
        time_unix_nano: s.start_time_unix_nano,
        attributes: vec![attr("exception.message", "mail to bob@example.org bounced")],
        ..Default::default()
    });
    let body = request(vec![("crm-api", vec![s])]).encode_to_vec();
    assert_eq!(post(&gate.base_url, Some(&crm), PROTOBUF, body).await, 200);

    let stored = eventually(
        "the masked span in Jaeger",
        Duration::from_secs(30),
        || async { jaeger.trace(&hex(&trace)).await },
    )
    .await;
    let span = &stored.spans[0];
    for key in ["customer.email", "order.note", "payment.reference"] {
        assert_eq!(span.tag(key).as_deref(), Some("[REDACTED]"), "{key}");
    }
    assert_eq!(
        span.tag("order.id"),
        Some(order_id),
        "an id is not personal data"
    );
    assert_eq!(span.tag("http.route").as_deref(), Some("/orders"));
    let event = span.event("exception").expect("the exception event");
    assert_eq!(event["exception.message"], "[REDACTED]");

    for key in [
        "customer.email",
        "order.note",
        "payment.reference",
        "exception.message",
    ] {
        assert_eq!(
            metric(
                &gate.base_url,
                "gate_redacted_attributes_total",
                &[("key", key)]
            )
            .await,
            1.0,
            "{key}"
        );
    }
    assert_eq!(
        metric(
            &gate.base_url,
            "gate_redacted_attributes_total",
            &[("key", "order.id")]
        )
        .await,
        0.0
    );
}

/// A TCP relay to Jaeger's OTLP/HTTP port, started later on `port`: until then the gate finds
/// nothing listening there, as when Jaeger is down.
async fn relay_to_jaeger(listener: TcpListener) {
    let target = jaeger::otlp_endpoint();
    let target = target.trim_start_matches("http://").to_owned();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let target = target.clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

#[tokio::test]
async fn batches_wait_while_jaeger_is_away_and_the_oldest_go_when_the_buffer_is_full() {
    // A free port with nothing listening: Jaeger "down".
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gate = gate(&[
        (
            "GATE_JAEGER_OTLP_URL",
            format!("http://127.0.0.1:{port}/v1/traces"),
        ),
        ("GATE_BUFFER_SPANS", "4".to_owned()),
        ("GATE_FORWARD_WORKERS", "1".to_owned()),
    ])
    .await;
    let base = gate.base_url.clone();
    let mes = identity::client_token("mes-api").await;

    // Six batches of one span each into a buffer of four: all accepted, the two oldest dropped.
    let traces: Vec<[u8; 16]> = (0..6).map(|_| trace_id()).collect();
    for t in &traces {
        let body = request(vec![(
            "mes-api",
            vec![span(*t, span_id(), None, "job", 2, vec![])],
        )]);
        assert_eq!(
            post(&base, Some(&mes), PROTOBUF, body.encode_to_vec()).await,
            200
        );
    }
    eventually("the gate retrying", Duration::from_secs(10), || async {
        (metric(&base, "gate_forward_retries_total", &[]).await >= 1.0).then_some(())
    })
    .await;
    // The two oldest made room; four wait (a batch being retried is out of the buffer for a
    // moment, hence polling).
    eventually(
        "two dropped, four buffered",
        Duration::from_secs(10),
        || async {
            let dropped = metric(
                &base,
                "gate_spans_dropped_total",
                &[("reason", "buffer_full")],
            )
            .await;
            let buffered = metric(&base, "gate_buffered_spans", &[]).await;
            (dropped == 2.0 && buffered == 4.0).then_some(())
        },
    )
    .await;

    // Jaeger "comes back": everything still buffered arrives.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let relay = tokio::spawn(relay_to_jaeger(listener));
    let jaeger = Jaeger::from_env();
    for t in &traces[2..] {
        eventually(
            "a buffered span in Jaeger",
            Duration::from_secs(30),
            || async { jaeger.trace(&hex(t)).await },
        )
        .await;
    }
    for t in &traces[..2] {
        assert!(
            jaeger.trace(&hex(t)).await.is_none(),
            "a dropped batch was stored"
        );
    }
    assert_eq!(metric(&base, "gate_stored_spans_total", &[]).await, 4.0);
    assert_eq!(metric(&base, "gate_buffered_spans", &[]).await, 0.0);
    relay.abort();
}
