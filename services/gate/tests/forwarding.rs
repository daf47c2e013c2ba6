//! What happens to an accepted batch on its way to the real Jaeger: values the redaction rules
//! match are masked before storage and counted by key; while Jaeger cannot be reached the
//! batches wait in the gate's buffer and all arrive once it can; a batch that does not fit is
//! not accepted but answered "retry later", and arrives when sent again.

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
async fn batches_wait_while_jaeger_is_away_and_a_full_buffer_pushes_back() {
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
    let send = |t: [u8; 16]| {
        let body = request(vec![(
            "mes-api",
            vec![span(t, span_id(), None, "job", 2, vec![])],
        )]);
        let (base, mes) = (base.clone(), mes.clone());
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/v1/traces"))
                .header("content-type", PROTOBUF)
                .bearer_auth(mes)
                .body(body.encode_to_vec())
                .send()
                .await
                .unwrap();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (resp.status().as_u16(), retry_after)
        }
    };

    // Six batches of one span each into a buffer of four: four accepted, two told to retry.
    let traces: Vec<[u8; 16]> = (0..6).map(|_| trace_id()).collect();
    let mut answers = Vec::new();
    for t in &traces {
        answers.push(send(*t).await);
    }
    let accepted = (200, None);
    let retry_later = (503, Some("1".to_owned()));
    assert_eq!(
        answers,
        [
            &accepted,
            &accepted,
            &accepted,
            &accepted,
            &retry_later,
            &retry_later
        ]
        .map(Clone::clone)
    );
    eventually("the gate retrying", Duration::from_secs(10), || async {
        (metric(&base, "gate_forward_retries_total", &[]).await >= 1.0).then_some(())
    })
    .await;
    assert_eq!(metric(&base, "gate_buffered_spans", &[]).await, 4.0);
    let full = [("client", "mes-api"), ("outcome", "buffer_full")];
    assert_eq!(metric(&base, "gate_ingest_spans_total", &full).await, 2.0);

    // Jaeger "comes back": everything accepted arrives; the exporter's retry of the other two
    // is then taken too. Nothing accepted was lost.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let relay = tokio::spawn(relay_to_jaeger(listener));
    let jaeger = Jaeger::from_env();
    for t in &traces[..4] {
        eventually(
            "a buffered span in Jaeger",
            Duration::from_secs(30),
            || async { jaeger.trace(&hex(t)).await },
        )
        .await;
    }
    assert!(
        jaeger.trace(&hex(&traces[4])).await.is_none(),
        "a refused batch was stored"
    );
    for t in &traces[4..] {
        assert_eq!(send(*t).await, accepted);
        eventually(
            "a retried span in Jaeger",
            Duration::from_secs(30),
            || async { jaeger.trace(&hex(t)).await },
        )
        .await;
    }
    assert_eq!(metric(&base, "gate_stored_spans_total", &[]).await, 6.0);
    for reason in ["rejected_by_store", "shutdown"] {
        assert_eq!(
            metric(&base, "gate_spans_dropped_total", &[("reason", reason)]).await,
            0.0
        );
    }
    eventually("the buffer empty", Duration::from_secs(10), || async {
        (metric(&base, "gate_buffered_spans", &[]).await == 0.0).then_some(())
    })
    .await;
    relay.abort();
}
