//! The Shop's spans as they are exported: a real OpenTelemetry pipeline (the
//! `tracing-opentelemetry` layer over an SDK tracer provider) writing into an in-memory exporter,
//! installed once for this test binary. Each request's spans are found by the `x-trace-id` the
//! Shop answers with, so the tests can run in parallel. (The cross-service traces in Jaeger are
//! covered by the end-to-end tests.)

mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use common::{closed_port, spawn_app, spawn_app_with, TestApp};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::Value as OtelValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use printflow_contracts::orders::{CreateOrderRequest, OrderView, StatusView};
use printflow_contracts::OrderStatus;
use printflow_test_support::eventually;
use printflow_test_support::identity;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;

/// The exporter every span of this test binary ends up in.
fn exporter() -> &'static InMemorySpanExporter {
    static PIPELINE: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    &PIPELINE
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            tracing_subscriber::registry()
                .with(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("shop-test")))
                .init();
            (exporter, provider)
        })
        .0
}

/// One request's answer and the id of the trace it made.
struct Traced {
    status: u16,
    body: Value,
    trace_id: String,
}

async fn traced(resp: reqwest::Response) -> Traced {
    let trace_id = resp
        .headers()
        .get("x-trace-id")
        .expect("the Shop answers with x-trace-id")
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = common::split(resp).await;
    Traced {
        status,
        body,
        trace_id,
    }
}

async fn get_traced(app: &TestApp, path: &str) -> Traced {
    exporter();
    traced(app.http.get(app.url(path)).send().await.unwrap()).await
}

/// GET as support (`sam`), who may look up any order: the Shop asks CRM even for ids no
/// customer placed.
async fn get_traced_as_support(app: &TestApp, path: &str) -> Traced {
    exporter();
    let sam = identity::client_as_user("sam").await;
    traced(sam.get(app.url(path)).send().await.unwrap()).await
}

async fn post_traced(app: &TestApp, path: &str, body: Option<&Value>) -> Traced {
    exporter();
    let mut req = app.http.post(app.url(path));
    if let Some(body) = body {
        req = req.json(body);
    }
    traced(req.send().await.unwrap()).await
}

/// The spans of one trace, once its SERVER span (which ends just after the response) is in.
async fn spans_of(trace_id: &str) -> Vec<SpanData> {
    eventually(
        "the request's SERVER span",
        Duration::from_secs(5),
        || async {
            let spans: Vec<SpanData> = exporter()
                .get_finished_spans()
                .unwrap()
                .into_iter()
                .filter(|s| s.span_context.trace_id().to_string() == trace_id)
                .collect();
            spans
                .iter()
                .any(|s| s.span_kind == SpanKind::Server)
                .then_some(spans)
        },
    )
    .await
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one `{name}` span in {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let span = found[0];
    // A field recorded twice is exported twice; every attribute must be there once.
    let mut keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(
        keys.len(),
        before,
        "repeated attributes on {name}: {:?}",
        span.attributes
    );
    span
}

/// The one CLIENT span named `name` (the SERVER span of the Shop's own route may share it).
fn client_span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(found.len(), 1, "CLIENT spans named {name}");
    found[0]
}

fn server(spans: &[SpanData]) -> &SpanData {
    spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("SERVER span")
}

fn is_child_of(child: &SpanData, parent: &SpanData) -> bool {
    child.parent_span_id == parent.span_context.span_id()
}

fn attr(span: &SpanData, key: &str) -> Option<OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

fn int_attr(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key) {
        Some(OtelValue::I64(n)) => Some(n),
        None => None,
        other => panic!("{key} on {} is {other:?}, not an integer", span.name),
    }
}

fn bool_attr(span: &SpanData, key: &str) -> Option<bool> {
    match attr(span, key) {
        Some(OtelValue::Bool(b)) => Some(b),
        None => None,
        other => panic!("{key} on {} is {other:?}, not a bool", span.name),
    }
}

fn f64_attr(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(OtelValue::F64(f)) => f,
        other => panic!("{key} on {} is {other:?}, not a double", span.name),
    }
}

fn events<'a>(span: &'a SpanData, name: &str) -> Vec<&'a opentelemetry::trace::Event> {
    span.events
        .events
        .iter()
        .filter(|e| e.name == name)
        .collect()
}

fn event_attr(event: &opentelemetry::trace::Event, key: &str) -> Option<OtelValue> {
    event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Asserts `span` failed with `error_type` and (if given) exactly that message.
fn assert_failed(span: &SpanData, error_type: &str, message: Option<&str>) {
    match &span.status {
        Status::Error { description } => {
            if let Some(m) = message {
                assert_eq!(description, m, "status of {}", span.name);
            }
        }
        other => panic!("{} is {other:?}, expected ERROR", span.name),
    }
    assert_eq!(str_attr(span, "error.type").as_deref(), Some(error_type));
    assert_eq!(events(span, "exception").len(), 1, "{}", span.name);
}

fn assert_not_failed(span: &SpanData) {
    assert!(
        !matches!(span.status, Status::Error { .. }),
        "{} is {:?}",
        span.name,
        span.status
    );
    assert_eq!(attr(span, "error.type"), None, "{}", span.name);
}

/// Every attribute and event attribute value of a trace, as text.
fn all_values(spans: &[SpanData]) -> Vec<String> {
    let mut out = Vec::new();
    for s in spans {
        out.extend(s.attributes.iter().map(|kv| kv.value.as_str().into_owned()));
        for e in &s.events.events {
            out.push(e.name.to_string());
            out.extend(e.attributes.iter().map(|kv| kv.value.as_str().into_owned()));
        }
    }
    out
}

#[tokio::test]
async fn catalog_searches_record_their_parameters_and_answers() {
    let app = spawn_app().await;

    let t = get_traced(
        &app,
        "/catalog/products?sort=price_asc&per_page=5&page=2&min_price_cents=0",
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let spans = spans_of(&t.trace_id).await;
    let search = named(&spans, "catalog.search");
    assert!(is_child_of(search, server(&spans)));
    assert_eq!(search.span_kind, SpanKind::Internal);
    assert_eq!(
        str_attr(search, "catalog.search.query").as_deref(),
        Some("")
    );
    assert_eq!(
        str_attr(search, "catalog.search.sort").as_deref(),
        Some("price_asc")
    );
    assert_eq!(int_attr(search, "catalog.search.page"), Some(2));
    assert_eq!(int_attr(search, "catalog.search.per_page"), Some(5));
    assert_eq!(int_attr(search, "catalog.search.min_price_cents"), Some(0));
    assert_eq!(attr(search, "catalog.search.max_price_cents"), None);
    assert_eq!(attr(search, "catalog.search.category"), None);
    let items = t.body["items"].as_array().unwrap().len() as i64;
    assert!(items > 0);
    assert_eq!(int_attr(search, "catalog.search.result_count"), Some(items));
    assert_eq!(
        int_attr(search, "catalog.search.total"),
        t.body["total"].as_i64()
    );
    assert_eq!(
        int_attr(search, "catalog.search.total_pages"),
        t.body["total_pages"].as_i64()
    );
    assert!(f64_attr(search, "catalog.search.duration_ms") > 0.0);
    assert_eq!(bool_attr(search, "catalog.search.empty"), Some(false));
    assert!(events(search, "catalog.search.empty").is_empty());
    assert_not_failed(search);

    // Nothing matches: the empty flag and event.
    let t = get_traced(
        &app,
        "/catalog/products?q=qqxzzyv&category=TOYS&material=petg",
    )
    .await;
    assert_eq!((t.status, t.body["total"].as_i64()), (200, Some(0)));
    let spans = spans_of(&t.trace_id).await;
    let search = named(&spans, "catalog.search");
    assert_eq!(
        str_attr(search, "catalog.search.query").as_deref(),
        Some("qqxzzyv")
    );
    assert_eq!(
        str_attr(search, "catalog.search.category").as_deref(),
        Some("toys")
    );
    assert_eq!(
        str_attr(search, "catalog.search.material").as_deref(),
        Some("PETG")
    );
    assert_eq!(int_attr(search, "catalog.search.result_count"), Some(0));
    assert_eq!(bool_attr(search, "catalog.search.empty"), Some(true));
    let empty = events(search, "catalog.search.empty");
    assert_eq!(empty.len(), 1);
    assert_eq!(
        event_attr(empty[0], "catalog.search.past_last_page"),
        Some(OtelValue::Bool(false))
    );

    // A rejected parameter: what was asked, the field and the reason, not ERROR.
    let t = get_traced(&app, "/catalog/products?q=lamp&per_page=1000").await;
    assert_eq!(t.status, 422);
    let spans = spans_of(&t.trace_id).await;
    let search = named(&spans, "catalog.search");
    assert_eq!(
        str_attr(search, "catalog.search.query").as_deref(),
        Some("lamp")
    );
    assert_eq!(int_attr(search, "catalog.search.per_page"), Some(1000));
    assert_eq!(
        str_attr(search, "catalog.search.rejected_field").as_deref(),
        Some("per_page")
    );
    let rejected = events(search, "catalog.search.rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        event_attr(rejected[0], "catalog.search.rejection_reason").map(|v| v.as_str().into_owned()),
        t.body["message"].as_str().map(str::to_owned)
    );
    assert_eq!(attr(search, "catalog.search.result_count"), None);
    assert_not_failed(search);

    // A product by id.
    let product = app.product_of_shape("box").await;
    let id = product["id"].as_str().unwrap();
    let t = get_traced(&app, &format!("/catalog/products/{id}")).await;
    assert_eq!(t.status, 200);
    let spans = spans_of(&t.trace_id).await;
    let get = named(&spans, "catalog.product.get");
    assert_eq!(str_attr(get, "product.id").as_deref(), Some(id));
    assert_not_failed(get);
}

#[tokio::test]
async fn a_search_that_times_out_is_an_error() {
    let app = spawn_app_with(&[("SHOP_SEARCH_TIMEOUT_MS", "300".into())]).await;
    let mut locker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let t = get_traced(&app, "/catalog/products?q=vase").await;
    locker.rollback().await.unwrap();
    assert_eq!(t.status, 503);
    let spans = spans_of(&t.trace_id).await;
    let search = named(&spans, "catalog.search");
    assert_failed(search, "search_timeout", None);
    assert!(f64_attr(search, "catalog.search.duration_ms") >= 300.0);
    assert_eq!(
        str_attr(search, "catalog.search.query").as_deref(),
        Some("vase")
    );
}

#[tokio::test]
async fn design_work_is_traced_operation_by_operation() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;
    let product_id = product["id"].as_str().unwrap().to_owned();

    let t = post_traced(&app, "/designs", Some(&json!({ "product_id": product_id }))).await;
    assert_eq!(t.status, 201);
    let design_id = t.body["design_id"].as_str().unwrap().to_owned();
    let spans = spans_of(&t.trace_id).await;
    let create = named(&spans, "design.create");
    assert_eq!(str_attr(create, "design.id"), Some(design_id.clone()));
    assert_eq!(str_attr(create, "product.id"), Some(product_id.clone()));

    // An accepted edit: one event per operation, the engraving text nowhere.
    let ops = json!([
        {"op": "set_dimension", "dimension": "width_mm", "value": 60},
        {"op": "set_engraving", "text": "Ada Lovelace"},
        {"op": "set_material", "material": "PETG"},
    ]);
    let edits = format!("/designs/{design_id}/edits");
    let t = post_traced(&app, &edits, Some(&json!({ "operations": ops }))).await;
    assert_eq!(t.status, 200, "{}", t.body);
    let spans = spans_of(&t.trace_id).await;
    let edit = named(&spans, "design.edit");
    assert!(is_child_of(edit, server(&spans)));
    assert_eq!(str_attr(edit, "design.id"), Some(design_id.clone()));
    assert_eq!(str_attr(edit, "product.id"), Some(product_id.clone()));
    assert_eq!(
        int_attr(edit, "design.revision"),
        t.body["revision"].as_i64()
    );
    assert_eq!(int_attr(edit, "design.edit.operation_count"), Some(3));
    assert_eq!(bool_attr(edit, "design.edit.accepted"), Some(true));
    assert_not_failed(edit);
    let op_events = events(edit, "design.edit.operation");
    let expected = [
        ("set_dimension", "width_mm"),
        ("set_engraving", "engraving"),
        ("set_material", "material"),
    ];
    assert_eq!(op_events.len(), expected.len());
    for (i, (event, (op, parameter))) in op_events.iter().zip(expected).enumerate() {
        assert_eq!(
            event_attr(event, "design.edit.index"),
            Some(OtelValue::I64(i as i64))
        );
        assert_eq!(
            event_attr(event, "design.edit.operation").map(|v| v.as_str().into_owned()),
            Some(op.to_owned())
        );
        assert_eq!(
            event_attr(event, "design.edit.parameter").map(|v| v.as_str().into_owned()),
            Some(parameter.to_owned())
        );
        assert_eq!(
            event_attr(event, "design.edit.accepted"),
            Some(OtelValue::Bool(true))
        );
        assert_eq!(event_attr(event, "design.edit.rejection_reason"), None);
    }
    assert!(
        !all_values(&spans).iter().any(|v| v.contains("Lovelace")),
        "the engraving text reached the trace"
    );

    // A rejected edit: ERROR with the reason, the failing operation's event says why.
    let ops = json!([
        {"op": "set_colour", "colour": "red"},
        {"op": "scale", "factor": 100},
    ]);
    let t = post_traced(&app, &edits, Some(&json!({ "operations": ops }))).await;
    assert_eq!(t.status, 422);
    let reason = t.body["message"].as_str().unwrap();
    let spans = spans_of(&t.trace_id).await;
    let edit = named(&spans, "design.edit");
    assert_failed(edit, "edit_rejected", Some(reason));
    assert_eq!(bool_attr(edit, "design.edit.accepted"), Some(false));
    assert_eq!(
        str_attr(edit, "design.edit.rejected_field"),
        t.body["field"].as_str().map(str::to_owned)
    );
    assert_eq!(int_attr(edit, "design.edit.rejected_index"), Some(1));
    let op_events = events(edit, "design.edit.operation");
    assert_eq!(op_events.len(), 2);
    assert!(op_events
        .iter()
        .all(|e| event_attr(e, "design.edit.accepted") == Some(OtelValue::Bool(false))));
    assert_eq!(
        event_attr(op_events[1], "design.edit.rejection_reason").map(|v| v.as_str().into_owned()),
        Some(reason.to_owned())
    );
    assert_eq!(
        event_attr(op_events[1], "design.edit.parameter").map(|v| v.as_str().into_owned()),
        Some("scale".to_owned())
    );

    // A request without operations is a rejected edit too.
    let t = post_traced(&app, &edits, Some(&json!({ "operations": [] }))).await;
    assert_eq!(t.status, 422);
    let spans = spans_of(&t.trace_id).await;
    assert_failed(
        named(&spans, "design.edit"),
        "edit_rejected",
        t.body["message"].as_str(),
    );

    // Save: the version's model, and the file write as a child span.
    let t = post_traced(&app, &format!("/designs/{design_id}/versions"), None).await;
    assert_eq!(t.status, 201, "{}", t.body);
    let v = &t.body;
    let spans = spans_of(&t.trace_id).await;
    let save = named(&spans, "design.save");
    assert_not_failed(save);
    assert_eq!(str_attr(save, "design.id"), Some(design_id.clone()));
    assert_eq!(str_attr(save, "product.id"), Some(product_id.clone()));
    assert_eq!(str_attr(save, "design.save.outcome").as_deref(), Some("ok"));
    assert_eq!(attr(save, "design.save.failure_reason"), None);
    assert_eq!(int_attr(save, "design.version"), v["version"].as_i64());
    assert_eq!(
        str_attr(save, "design.model.sha256").as_deref(),
        v["sha256"].as_str()
    );
    assert_eq!(
        int_attr(save, "design.model.size_bytes"),
        v["size_bytes"].as_i64()
    );
    assert_eq!(
        Some(f64_attr(save, "design.model.volume_mm3")),
        v["volume_mm3"].as_f64()
    );
    assert_eq!(
        int_attr(save, "design.estimated_print_seconds"),
        v["estimated_print_seconds"].as_i64()
    );
    let write = named(&spans, "model_store.write");
    assert!(is_child_of(write, save));
    assert_eq!(
        str_attr(write, "model_store.key"),
        Some(format!("designs/{design_id}/v1.stl"))
    );
    assert_eq!(
        int_attr(write, "model_store.bytes"),
        v["size_bytes"].as_i64()
    );
    assert_not_failed(write);

    // Reads carry the ids.
    let t = get_traced(&app, &format!("/designs/{design_id}")).await;
    let spans = spans_of(&t.trace_id).await;
    let get = named(&spans, "design.get");
    assert_eq!(str_attr(get, "product.id"), Some(product_id.clone()));
    let t = get_traced(&app, &format!("/designs/{design_id}/versions/1")).await;
    let spans = spans_of(&t.trace_id).await;
    let version = named(&spans, "design.version.get");
    assert_eq!(int_attr(version, "design.version"), Some(1));
    assert_eq!(str_attr(version, "product.id"), Some(product_id.clone()));

    // The model download (what MES fetches), then with the file gone.
    let model = format!("/designs/{design_id}/versions/1/model");
    let t = get_traced(&app, &model).await;
    assert_eq!(t.status, 200);
    let spans = spans_of(&t.trace_id).await;
    let download = named(&spans, "design.model.download");
    assert_eq!(str_attr(download, "design.id"), Some(design_id.clone()));
    assert_eq!(str_attr(download, "product.id"), Some(product_id.clone()));
    assert_eq!(int_attr(download, "design.version"), Some(1));
    assert_eq!(
        int_attr(download, "design.model.size_bytes"),
        v["size_bytes"].as_i64()
    );
    assert_not_failed(download);
    let read = named(&spans, "model_store.read");
    assert!(is_child_of(read, download));
    assert_eq!(bool_attr(read, "model_store.found"), Some(true));

    std::fs::remove_file(app.store_dir.join(format!("designs/{design_id}/v1.stl"))).unwrap();
    let t = get_traced(&app, &model).await;
    assert_eq!(t.status, 500);
    let spans = spans_of(&t.trace_id).await;
    assert_failed(
        named(&spans, "design.model.download"),
        "model_file_missing",
        t.body["message"].as_str(),
    );
    assert_eq!(
        bool_attr(named(&spans, "model_store.read"), "model_store.found"),
        Some(false)
    );
}

#[tokio::test]
async fn failed_saves_are_errors_with_the_reason() {
    let app = spawn_app().await;
    let product = app.product_of_shape("box").await;

    // Too big for the printer.
    let design = app.create_design(&product["id"]).await;
    let id = design["design_id"].as_str().unwrap();
    let (status, _) = app
        .edit(
            id,
            json!([{"op": "set_dimension", "dimension": "width_mm", "value": 900}]),
        )
        .await;
    assert_eq!(status, 200);
    let t = post_traced(&app, &format!("/designs/{id}/versions"), None).await;
    assert_eq!(t.status, 422);
    let reason = t.body["message"].as_str().unwrap();
    let spans = spans_of(&t.trace_id).await;
    let save = named(&spans, "design.save");
    assert_failed(save, "design_invalid", Some(reason));
    assert_eq!(
        str_attr(save, "design.save.outcome").as_deref(),
        Some("failed")
    );
    assert_eq!(
        str_attr(save, "design.save.failure_reason").as_deref(),
        Some(reason)
    );
    assert!(spans.iter().all(|s| s.name != "model_store.write"));

    // The store cannot write: a file sits where the design's directory should be.
    let design = app.create_design(&product["id"]).await;
    let id = design["design_id"].as_str().unwrap();
    std::fs::create_dir_all(app.store_dir.join("designs")).unwrap();
    std::fs::write(app.store_dir.join(format!("designs/{id}")), b"in the way").unwrap();
    let t = post_traced(&app, &format!("/designs/{id}/versions"), None).await;
    assert_eq!(t.status, 500);
    let spans = spans_of(&t.trace_id).await;
    let save = named(&spans, "design.save");
    assert_failed(save, "model_store_failed", None);
    let reason = str_attr(save, "design.save.failure_reason").unwrap();
    assert!(reason.starts_with("the model file could not be stored"));
    let write = named(&spans, "model_store.write");
    assert!(is_child_of(write, save));
    assert_failed(write, "io", None);
}

/// A CRM stand-in: records orders and the `traceparent` of each call; can hang instead.
#[derive(Clone, Default)]
struct Crm {
    hang: bool,
    traceparents: Arc<Mutex<Vec<String>>>,
    orders: Arc<Mutex<HashMap<Uuid, OrderView>>>,
}

impl Crm {
    async fn start(hang: bool) -> (Crm, String) {
        let crm = Crm {
            hang,
            ..Crm::default()
        };
        let router = Router::new()
            .route("/orders", post(crm_create))
            .route("/orders/{id}/status", get(crm_status))
            .with_state(crm.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (crm, url)
    }

    async fn called(&self, headers: &HeaderMap) {
        let tp = headers
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        self.traceparents.lock().unwrap().push(tp);
        if self.hang {
            futures::future::pending::<()>().await;
        }
    }
}

async fn crm_create(
    State(crm): State<Crm>,
    headers: HeaderMap,
    Json(req): Json<CreateOrderRequest>,
) -> Response {
    crm.called(&headers).await;
    let view = OrderView {
        order_id: req.order_id,
        customer_id: Uuid::new_v4(),
        design_id: req.spec.design_id,
        design_version: req.spec.design_version,
        quantity: req.spec.quantity,
        shipping: req.shipping,
        total_price_cents: req.total_price_cents,
        status: OrderStatus::New,
        status_version: 1,
        status_since: Utc::now(),
        failure_reason: None,
        created_at: Utc::now(),
    };
    crm.orders
        .lock()
        .unwrap()
        .insert(req.order_id, view.clone());
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn crm_status(State(crm): State<Crm>, headers: HeaderMap, Path(id): Path<Uuid>) -> Response {
    crm.called(&headers).await;
    let found = crm.orders.lock().unwrap().get(&id).cloned();
    match found {
        Some(v) => Json(StatusView {
            order_id: v.order_id,
            status: v.status,
            status_version: v.status_version,
            since: v.status_since,
            failure_reason: None,
        })
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"code": "order_not_found"})),
        )
            .into_response(),
    }
}

const CUSTOMER: [&str; 3] = ["Grace Hopper", "grace@example.org", "+1 555 0100"];

fn order_body(design: &Value, version: &Value) -> Value {
    json!({
        "design_id": design["design_id"],
        "design_version": version["version"],
        "quantity": 2,
        "shipping": "standard",
        "customer": {"name": CUSTOMER[0], "email": CUSTOMER[1], "phone": CUSTOMER[2]}
    })
}

#[tokio::test]
async fn orders_and_status_requests_carry_ids_and_statuses_never_the_customer() {
    let (crm, url) = Crm::start(false).await;
    let app = spawn_app_with(&[("SHOP_CRM_URL", url)]).await;
    let (design, version) = app.saved_box_design().await;

    let t = post_traced(&app, "/orders", Some(&order_body(&design, &version))).await;
    assert_eq!(t.status, 201, "{}", t.body);
    let order_id = t.body["order_id"].as_str().unwrap().to_owned();
    let spans = spans_of(&t.trace_id).await;
    let place = named(&spans, "order.place");
    assert!(is_child_of(place, server(&spans)));
    assert_not_failed(place);
    assert_eq!(str_attr(place, "order.id"), Some(order_id.clone()));
    assert_eq!(
        str_attr(place, "design.id").as_deref(),
        design["design_id"].as_str()
    );
    assert_eq!(int_attr(place, "design.version"), Some(1));
    assert_eq!(
        str_attr(place, "product.id").as_deref(),
        design["product_id"].as_str()
    );
    assert_eq!(int_attr(place, "order.quantity"), Some(2));
    assert_eq!(int_attr(place, "order.crm.attempts"), Some(1));
    assert_eq!(str_attr(place, "order.status").as_deref(), Some("NEW"));
    let client = client_span(&spans, "POST /orders");
    assert_eq!(client.span_kind, SpanKind::Client);
    assert!(is_child_of(client, place));
    // CRM received the CLIENT span's context.
    let sent = crm.traceparents.lock().unwrap()[0].clone();
    assert_eq!(
        sent,
        format!("00-{}-{}-01", t.trace_id, client.span_context.span_id())
    );
    let values = all_values(&spans);
    for personal in CUSTOMER {
        assert!(
            !values.iter().any(|v| v.contains(personal)),
            "`{personal}` reached the trace"
        );
    }

    let t = get_traced(&app, &format!("/orders/{order_id}/status")).await;
    assert_eq!(t.status, 200);
    let spans = spans_of(&t.trace_id).await;
    let status = named(&spans, "order.status.get");
    assert_eq!(str_attr(status, "order.id"), Some(order_id.clone()));
    assert_eq!(
        str_attr(status, "order.status").as_deref(),
        t.body["status"].as_str()
    );
    assert_eq!(
        int_attr(status, "order.status_version"),
        t.body["status_version"].as_i64()
    );
    assert!(is_child_of(
        client_span(&spans, "GET /orders/{id}/status"),
        status
    ));
    assert_not_failed(status);

    // CRM's 404 is its verdict, not a failure of the Shop.
    let t = get_traced_as_support(&app, &format!("/orders/{}/status", Uuid::new_v4())).await;
    assert_eq!(t.status, 404);
    let spans = spans_of(&t.trace_id).await;
    assert_not_failed(named(&spans, "order.status.get"));
}

#[tokio::test]
async fn crm_timeouts_and_outages_are_errors_and_the_retry_is_its_own_client_span() {
    let (crm, url) = Crm::start(true).await;
    let app = spawn_app_with(&[("SHOP_CRM_URL", url), ("SHOP_CRM_TIMEOUT_MS", "200".into())]).await;
    let (design, version) = app.saved_box_design().await;
    let t = post_traced(&app, "/orders", Some(&order_body(&design, &version))).await;
    assert_eq!(t.status, 504);
    let spans = spans_of(&t.trace_id).await;
    let place = named(&spans, "order.place");
    assert_failed(place, "crm_timeout", None);
    assert_eq!(int_attr(place, "order.crm.attempts"), Some(2));
    let calls: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "POST /orders" && s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert!(is_child_of(call, place));
        assert_eq!(str_attr(call, "error.type").as_deref(), Some("timeout"));
    }
    assert_ne!(
        calls[0].span_context.span_id(),
        calls[1].span_context.span_id()
    );
    assert_eq!(crm.traceparents.lock().unwrap().len(), 2);

    let app = spawn_app_with(&[(
        "SHOP_CRM_URL",
        format!("http://127.0.0.1:{}", closed_port().await),
    )])
    .await;
    let t = get_traced_as_support(&app, &format!("/orders/{}/status", Uuid::new_v4())).await;
    assert_eq!(t.status, 503);
    let spans = spans_of(&t.trace_id).await;
    assert_failed(named(&spans, "order.status.get"), "crm_unavailable", None);
}
