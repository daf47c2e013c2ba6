//! One order, one trace: with a real tracer in the test process, every span, outbox row and
//! operator action of an order's job continues the trace `order.created` arrived with.
//!
//! The test process installs an OpenTelemetry SDK tracer provider whose exporter keeps the ended
//! spans in memory, as the global `tracing` subscriber (MES runs in this process, so its spans
//! land there too). Tests run in parallel, so each looks only at its own order's trace.

mod common;

use common::*;
use opentelemetry::trace::{SpanId, Status, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use printflow_contracts::messages::EVENTS_EXCHANGE;
use printflow_contracts::{Envelope, OrderCreated, OrderStatus};
use printflow_messaging::OutgoingMessage;
use printflow_test_support::eventually;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;
use uuid::Uuid;

/// Keeps every ended span.
#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collector {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// Installs the tracer once per test process and returns the span store.
fn spans() -> &'static Collector {
    static COLLECTOR: OnceLock<Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = Collector::default();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(collector.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(
                "info,sqlx=warn,lapin=warn,hyper=warn,reqwest=warn",
            ))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("mes-test")));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per process");
        collector
    })
}

/// The ended spans of `trace`.
fn trace_spans(trace: &str) -> Vec<SpanData> {
    spans()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == trace)
        .cloned()
        .collect()
}

/// Waits until `trace` has spans satisfying `ready`, and returns them.
async fn wait_spans(what: &str, trace: &str, ready: impl Fn(&[SpanData]) -> bool) -> Vec<SpanData> {
    eventually(what, WAIT, || {
        let found = trace_spans(trace);
        let ok = ready(&found);
        async move { ok.then_some(found) }
    })
    .await
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn event_attr(event: &opentelemetry::trace::Event, key: &str) -> Option<String> {
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn count(spans: &[SpanData], name: &str) -> usize {
    named(spans, name).len()
}

/// The trace id in a `traceparent` header map.
fn trace_of(headers: &BTreeMap<String, String>) -> String {
    headers
        .get("traceparent")
        .and_then(|tp| tp.split('-').nth(1))
        .unwrap_or_else(|| panic!("no traceparent in {headers:?}"))
        .to_owned()
}

/// Propagation headers of a producer span, as CRM publishes `order.created` with.
fn producer_headers() -> BTreeMap<String, String> {
    let producer = tracing::info_span!("test.crm.publish", otel.kind = "producer");
    printflow_telemetry::propagation::inject_span(&producer)
}

/// Publishes `order` as CRM would, with a `traceparent` of its own; returns the trace id.
async fn publish_traced(app: &TestApp, order: &Envelope<OrderCreated>) -> String {
    let headers = producer_headers();
    publish_with(app, order, headers.clone()).await;
    trace_of(&headers)
}

async fn publish_with(
    app: &TestApp,
    order: &Envelope<OrderCreated>,
    headers: BTreeMap<String, String>,
) {
    app.publisher
        .publish(OutgoingMessage {
            exchange: EVENTS_EXCHANGE.to_owned(),
            routing_key: "order.created".to_owned(),
            message_id: order.message_id.to_string(),
            body: serde_json::to_vec(order).unwrap(),
            headers,
        })
        .await
        .expect("publish order.created");
}

/// The job's stored trace context.
async fn stored_context(app: &TestApp, order_id: Uuid) -> BTreeMap<String, String> {
    let value: serde_json::Value =
        sqlx::query_scalar("SELECT trace_context FROM jobs WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&app.db.pool)
            .await
            .expect("the job exists");
    serde_json::from_value(value).expect("a string map")
}

/// `(sequence, status, headers)` of the order's outbox rows, in sequence order.
async fn outbox_rows(
    app: &TestApp,
    order_id: Uuid,
) -> Vec<(i64, String, BTreeMap<String, String>)> {
    let rows: Vec<(serde_json::Value, serde_json::Value)> = sqlx::query_as(
        "SELECT payload, headers FROM outbox WHERE payload->'data'->>'order_id' = $1",
    )
    .bind(order_id.to_string())
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|(payload, headers)| {
            (
                payload["data"]["sequence"].as_i64().unwrap(),
                payload["data"]["status"].as_str().unwrap().to_owned(),
                serde_json::from_value(headers).unwrap(),
            )
        })
        .collect();
    out.sort_by_key(|r| r.0);
    out
}

fn status_changes(spans: &[SpanData]) -> Vec<(i64, String)> {
    let mut changes: Vec<(i64, String)> = named(spans, "job transition")
        .into_iter()
        .flat_map(|s| s.events.iter())
        .filter(|e| e.name == "order.status.changed")
        .map(|e| {
            (
                event_attr(e, "order.status.sequence")
                    .unwrap()
                    .parse()
                    .unwrap(),
                event_attr(e, "order.status.to").unwrap(),
            )
        })
        .collect();
    changes.sort();
    changes
}

fn linked_to(span: &SpanData, trace: &str) -> bool {
    span.links
        .iter()
        .any(|l| l.span_context.trace_id().to_string() == trace)
}

#[tokio::test]
async fn one_order_is_one_trace_from_intake_to_shipped() {
    spans();
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("traced", 10.0);
    shop.put(design, 3, model.clone());
    let order = order_for(design, 3, &model, 60);
    let order_id = order.data.order_id;
    let headers = producer_headers();
    let trace = trace_of(&headers);
    publish_with(&app, &order, headers.clone()).await;

    let events = app.wait_event(order_id, 6).await;
    assert_eq!(steps(&events), numbered(&HAPPY));

    // Intake stored the order's trace with the job...
    let stored = stored_context(&app, order_id).await;
    assert_eq!(trace_of(&stored), trace);
    // ...and every event, the scheduler's included, was enqueued in it.
    let rows = outbox_rows(&app, order_id).await;
    let statuses: Vec<String> = HAPPY.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(
        rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
        statuses
    );
    for (sequence, status, headers) in &rows {
        assert_eq!(
            trace_of(headers),
            trace,
            "event {sequence} ({status}) is in the order's trace"
        );
    }

    let job = app.job_for(order_id).await.unwrap();
    let job_id = job["id"].as_str().unwrap().to_owned();
    let spans = wait_spans("the order's spans end", &trace, |s| {
        count(s, "publish order.status_changed") == 6 && count(s, "job SHIPPED") == 1
    })
    .await;

    let intake = named(&spans, "job intake");
    assert_eq!(intake.len(), 1);
    let intake = intake[0];
    assert_eq!(attr(intake, "order.id"), Some(order_id.to_string()));
    assert_eq!(attr(intake, "job.id"), Some(job_id.clone()));
    assert_eq!(attr(intake, "design.id"), Some(design.to_string()));
    assert_eq!(attr(intake, "design.version"), Some("3".to_owned()));
    assert_eq!(attr(intake, "mes.job.duplicate"), Some("false".to_owned()));
    // The stored context is the intake span's: each scheduler step is its child.
    assert_eq!(
        stored["traceparent"].split('-').nth(2).unwrap(),
        intake.span_context.span_id().to_string()
    );
    for status in &HAPPY[1..] {
        let step = named(&spans, &format!("job {status}"));
        assert_eq!(step.len(), 1, "one step span for {status}");
        assert_eq!(step[0].parent_span_id, intake.span_context.span_id());
        assert_eq!(attr(step[0], "job.id"), Some(job_id.clone()));
        assert_eq!(attr(step[0], "order.id"), Some(order_id.to_string()));
        assert_eq!(attr(step[0], "order.status.to"), Some(status.to_string()));
    }
    assert_eq!(
        attr(named(&spans, "job PRINTING")[0], "mes.job.step"),
        Some("start_print".to_owned())
    );
    assert_eq!(
        attr(named(&spans, "job SHIPPED")[0], "mes.job.step"),
        Some("finish_phase".to_owned())
    );

    // The model check and its download from Shop are in the trace.
    let verify = named(&spans, "job verify model");
    assert_eq!(verify.len(), 1);
    assert_eq!(verify[0].parent_span_id, intake.span_context.span_id());
    assert_eq!(
        attr(verify[0], "mes.model_fetch.outcome"),
        Some("verified".to_owned())
    );
    let download = named(&spans, "GET /designs/{id}/versions/{version}/model");
    assert_eq!(download.len(), 1);
    assert_eq!(download[0].parent_span_id, verify[0].span_context.span_id());

    // Every change is an `order.status.changed` event, and every publish is in the trace.
    let expected: Vec<(i64, String)> = (1..).zip(statuses.iter().cloned()).collect();
    assert_eq!(status_changes(&spans), expected);
    let shipped = named(&spans, "job transition")
        .into_iter()
        .flat_map(|s| s.events.iter())
        .find(|e| event_attr(e, "order.status.to").as_deref() == Some("SHIPPED"))
        .unwrap();
    assert_eq!(
        event_attr(shipped, "order.status.from").as_deref(),
        Some("READY")
    );
    assert_eq!(
        event_attr(shipped, "order.status.source").as_deref(),
        Some("mes")
    );
    assert_eq!(event_attr(shipped, "job.id"), Some(job_id.clone()));
    assert_eq!(event_attr(shipped, "order.failure_reason"), None);

    // A redelivered order.created (same headers) is handled in the same trace, changes nothing
    // and says it was a duplicate of the job.
    publish_with(&app, &order, headers).await;
    let spans = wait_spans("the duplicate's intake span", &trace, |s| {
        count(s, "job intake") == 2
    })
    .await;
    let duplicate = named(&spans, "job intake")
        .into_iter()
        .find(|i| attr(i, "mes.job.duplicate").as_deref() == Some("true"))
        .expect("an intake span marked duplicate");
    assert_eq!(attr(duplicate, "job.id"), Some(job_id));
    assert_eq!(outbox_rows(&app, order_id).await.len(), 6);
    app.stop().await;
}

#[tokio::test]
async fn a_changed_model_fails_its_verify_span_and_a_retry_continues_the_order_trace() {
    spans();
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let ordered = cube_stl("ordered", 10.0);
    // Shop now serves different bytes than the order was placed with (seed point 6).
    shop.put(design, 1, cube_stl("edited", 10.0));
    let order = order_for(design, 1, &ordered, 60);
    let order_id = order.data.order_id;
    let trace = publish_traced(&app, &order).await;
    app.wait_status(order_id, OrderStatus::Failed).await;

    let spans = wait_spans("the failed check's spans end", &trace, |s| {
        count(s, "job verify model") == 1 && count(s, "publish order.status_changed") == 2
    })
    .await;
    let verify = named(&spans, "job verify model")[0];
    assert!(
        matches!(verify.status, Status::Error { .. }),
        "{:?}",
        verify.status
    );
    assert_eq!(
        attr(verify, "error.type").as_deref(),
        Some("checksum_mismatch")
    );
    assert_eq!(
        attr(verify, "order.failure_reason").as_deref(),
        Some("checksum_mismatch")
    );
    assert_eq!(
        attr(verify, "mes.model_fetch.outcome").as_deref(),
        Some("failed")
    );
    assert!(verify.events.iter().any(|e| e.name == "exception"));
    // The FAILED transition happens inside the check and says why.
    let failed = named(&spans, "job transition")
        .into_iter()
        .find(|t| attr(t, "order.status.to").as_deref() == Some("FAILED"))
        .expect("the FAILED transition span");
    assert_eq!(failed.parent_span_id, verify.span_context.span_id());
    let changed = failed
        .events
        .iter()
        .find(|e| e.name == "order.status.changed")
        .unwrap();
    assert_eq!(
        event_attr(changed, "order.failure_reason").as_deref(),
        Some("checksum_mismatch")
    );
    assert!(event_attr(changed, "order.failure_detail")
        .unwrap()
        .contains(&sha256_hex(&ordered)));

    // The operator fixes the file and retries, in a request with a trace of its own.
    shop.put(design, 1, ordered.clone());
    let job = app.job_for(order_id).await.unwrap();
    let job_id = job["id"].as_str().unwrap().to_owned();
    let resp = app
        .http
        .post(format!("{}/jobs/{job_id}/retry", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let request_trace = resp.headers()["x-trace-id"].to_str().unwrap().to_owned();
    assert_ne!(request_trace, trace);
    app.wait_event(order_id, 8).await;

    // Every event of the order, the operator's included, is still in the order's trace.
    let rows = outbox_rows(&app, order_id).await;
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[2].1, "ACCEPTED");
    for (sequence, status, headers) in &rows {
        assert_eq!(trace_of(headers), trace, "event {sequence} ({status})");
    }
    let spans = wait_spans("the retried job's spans end", &trace, |s| {
        count(s, "publish order.status_changed") == 8 && count(s, "job verify model") == 2
    })
    .await;
    let retry = named(&spans, "job ACCEPTED");
    assert_eq!(retry.len(), 1);
    assert_eq!(attr(retry[0], "mes.job.step").as_deref(), Some("retry"));
    assert!(
        linked_to(retry[0], &request_trace),
        "the step links the request"
    );
    assert_eq!(
        named(&spans, "job verify model")
            .iter()
            .filter(|v| attr(v, "mes.job.attempt").as_deref() == Some("2"))
            .count(),
        1,
        "the retried check is in the order's trace"
    );
    let request = wait_spans("the operator's spans end", &request_trace, |s| {
        count(s, "operator retry") == 1
    })
    .await;
    let operator = named(&request, "operator retry")[0];
    assert_eq!(attr(operator, "job.id"), Some(job_id));
    assert_eq!(attr(operator, "order.id"), Some(order_id.to_string()));
    assert!(linked_to(operator, &trace), "the request links the order");
    assert!(
        request
            .iter()
            .all(|s| s.name != "publish order.status_changed"),
        "nothing of the order is published in the request's trace"
    );
    app.stop().await;
}

#[tokio::test]
async fn pausing_a_printing_job_s_printer_shows_in_the_order_trace() {
    spans();
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[("MES_PRINTERS", "1")]).await;
    let printer = app.printer_ids().await[0];
    let design = Uuid::now_v7();
    let model = cube_stl("paused", 10.0);
    shop.put(design, 1, model.clone());
    // 100 000 simulated s x 0.00001 = a 1 s print, long enough to pause it.
    let order = order_for(design, 1, &model, 100_000);
    let order_id = order.data.order_id;
    let trace = publish_traced(&app, &order).await;
    app.wait_status(order_id, OrderStatus::Printing).await;

    let resp = app
        .http
        .post(format!("{}/printers/{printer}/pause", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let request_trace = resp.headers()["x-trace-id"].to_str().unwrap().to_owned();
    let (status, _) = app.post(&format!("/printers/{printer}/resume"), None).await;
    assert_eq!(status, 200);
    app.wait_status(order_id, OrderStatus::Shipped).await;

    let spans = wait_spans("the pause and resume spans", &trace, |s| {
        count(s, "job printer paused") == 1 && count(s, "job printer resumed") == 1
    })
    .await;
    let paused = named(&spans, "job printer paused")[0];
    assert_eq!(attr(paused, "printer.id"), Some(printer.to_string()));
    assert_eq!(attr(paused, "order.status").as_deref(), Some("PRINTING"));
    assert!(linked_to(paused, &request_trace));
    let request = wait_spans("the operator's span", &request_trace, |s| {
        count(s, "operator pause printer") == 1
    })
    .await;
    let operator = named(&request, "operator pause printer")[0];
    assert_eq!(attr(operator, "printer.id"), Some(printer.to_string()));
    assert_eq!(attr(operator, "order.id"), Some(order_id.to_string()));
    assert!(linked_to(operator, &trace));
    assert_ne!(
        operator.parent_span_id,
        SpanId::INVALID,
        "inside the SERVER span"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_shop_shows_on_the_client_span_and_the_check_says_when_it_retries() {
    spans();
    // Nothing listens there: the connection is refused.
    let shop_url = format!("http://127.0.0.1:{}", free_port().await);
    let app = spawn_app(&shop_url, &[]).await;
    let model = cube_stl("unreachable", 10.0);
    let order = order_for(Uuid::now_v7(), 1, &model, 60);
    let trace = publish_traced(&app, &order).await;

    let spans = wait_spans("a failed model check", &trace, |s| {
        count(s, "job verify model") >= 1
    })
    .await;
    let verify = named(&spans, "job verify model")
        .into_iter()
        .find(|v| attr(v, "mes.model_fetch.attempt").as_deref() == Some("1"))
        .expect("the first check");
    assert_eq!(
        attr(verify, "mes.model_fetch.outcome").as_deref(),
        Some("unavailable")
    );
    assert_eq!(
        attr(verify, "mes.model_fetch.failures").as_deref(),
        Some("1")
    );
    // backoff(1) = 1 s.
    assert_eq!(
        attr(verify, "mes.model_fetch.retry_in_ms").as_deref(),
        Some("1000")
    );
    assert_eq!(
        attr(verify, "error.type").as_deref(),
        Some("shop_unavailable")
    );
    let client = named(&spans, "GET /designs/{id}/versions/{version}/model")
        .into_iter()
        .find(|c| c.parent_span_id == verify.span_context.span_id())
        .expect("the download's CLIENT span");
    assert_eq!(
        attr(client, "error.type").as_deref(),
        Some("connection_refused")
    );
    let job = app.job_for(order.data.order_id).await.unwrap();
    assert_eq!(job["status"], "ACCEPTED", "an unreachable Shop only delays");
    app.stop().await;
}
