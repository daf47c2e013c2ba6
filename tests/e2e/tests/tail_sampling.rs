//! Tail sampling (`JAEGER_SAMPLING=tail`, config/jaeger/tail-sampling.yaml): which traces Jaeger
//! stores and which it drops, while the span metrics still count every span.
//!
//! Each test runs its own Jaeger -- the binary scripts/infra.sh builds, with the configuration
//! scripts/jaeger-config.sh renders for free ports and a decision after 1 s -- writes spans to
//! it over OTLP/HTTP (JSON), learns from Jaeger's own metrics when every decision is taken, and
//! reads back what was stored through its query API. The shared Jaeger, which stores everything,
//! is never touched.

use printflow_test_support::{eventually, Jaeger, TraceView};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::process::{Child, Command};

/// Spans at least this long keep their trace (`JAEGER_TAIL_LATENCY_MS`, its default).
const LATENCY_MS: u64 = 500;

/// Jaeger's own metrics used to follow the decisions.
const DECISIONS: &str = "otelcol_processor_tail_sampling_global_count_traces_sampled_total";
const STORED_SPANS: &str = "otelcol_exporter_sent_spans_total";
const LATE_SPANS: &str = "otelcol_processor_tail_sampling_early_releases_from_cache_decision_total";
const SPAN_CALLS: &str = "traces_span_metrics_calls_total";

/// Every port the rendered configuration listens on or points to (Prometheus: the span-metrics
/// backend of the query API, pointed at a free port so nothing reaches the shared one).
const PORT_VARS: [&str; 8] = [
    "JAEGER_OTLP_GRPC_PORT",
    "JAEGER_OTLP_HTTP_PORT",
    "JAEGER_QUERY_PORT",
    "JAEGER_QUERY_GRPC_PORT",
    "JAEGER_HEALTH_PORT",
    "JAEGER_METRICS_PORT",
    "JAEGER_SPANMETRICS_PORT",
    "PROMETHEUS_PORT",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `PRINTFLOW_JAEGER_BIN` (scripts/test.sh), else where scripts/infra.sh builds it.
fn jaeger_bin() -> PathBuf {
    std::env::var("PRINTFLOW_JAEGER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".data/bin/jaeger"))
}

/// A private Jaeger with tail sampling; killed and its directory removed on drop.
struct TailJaeger {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>/v1/traces`.
    otlp: String,
    /// Jaeger's own metrics (8888 in the stack).
    metrics: String,
    /// The span metrics (8889 in the stack).
    spanmetrics: String,
    query: Jaeger,
    http: reqwest::Client,
}

impl TailJaeger {
    /// Renders the memory-storage configuration with tail sampling keeping `share_percent` % of
    /// the ordinary traces, starts Jaeger on it and waits until it answers.
    async fn start(share_percent: &str) -> TailJaeger {
        let bin = jaeger_bin();
        assert!(
            bin.is_file(),
            "no Jaeger binary at {} (scripts/infra.sh up jaeger builds it; PRINTFLOW_JAEGER_BIN overrides)",
            bin.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "printflow-jaeger-tail-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("Jaeger's directory");
        // All bound at once so no two are the same; released right before Jaeger binds them.
        let listeners: Vec<TcpListener> = PORT_VARS
            .iter()
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
            .collect();
        let ports: Vec<(&str, u16)> = PORT_VARS
            .iter()
            .zip(&listeners)
            .map(|(var, l)| (*var, l.local_addr().expect("bound").port()))
            .collect();
        drop(listeners);
        let port = |var: &str| {
            ports
                .iter()
                .find(|(v, _)| *v == var)
                .map(|(_, p)| *p)
                .expect("a port of PORT_VARS")
        };

        let script = repo_root().join("scripts/jaeger-config.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("render")
            .arg(&dir)
            .args(["memory", "tail"])
            .envs(ports.iter().map(|(var, p)| (*var, p.to_string())))
            .env("PRINTFLOW_DATA_DIR", &dir)
            .env("JAEGER_TAIL_SHARE_PERCENT", share_percent)
            .env("JAEGER_TAIL_LATENCY_MS", LATENCY_MS.to_string())
            .env("JAEGER_TAIL_DECISION_WAIT_SECONDS", "1")
            .output()
            .await
            .expect("run scripts/jaeger-config.sh");
        assert!(
            out.status.success(),
            "scripts/jaeger-config.sh render failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let configs: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            configs.len(),
            2,
            "the base configuration and the tail sampling fragment: {configs:?}"
        );

        let log = std::fs::File::create(dir.join("jaeger.log")).expect("log file");
        let child = Command::new(&bin)
            .args(&configs)
            .env("HOME", &dir)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut query = Jaeger::from_env();
        query.base = format!("http://127.0.0.1:{}", port("JAEGER_QUERY_PORT"));
        let mut jaeger = TailJaeger {
            child,
            otlp: format!(
                "http://127.0.0.1:{}/v1/traces",
                port("JAEGER_OTLP_HTTP_PORT")
            ),
            metrics: format!("http://127.0.0.1:{}/metrics", port("JAEGER_METRICS_PORT")),
            spanmetrics: format!(
                "http://127.0.0.1:{}/metrics",
                port("JAEGER_SPANMETRICS_PORT")
            ),
            query,
            http: reqwest::Client::new(),
            dir,
        };
        jaeger
            .wait_ready(&format!(
                "http://127.0.0.1:{}/status",
                port("JAEGER_HEALTH_PORT")
            ))
            .await;
        jaeger
    }

    /// Until the health check and the query API answer; fails at once if Jaeger exits.
    async fn wait_ready(&mut self, health: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let services = format!("{}/api/services", self.query.base);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Jaeger exited ({status}):\n{}", self.log_tail());
            }
            let ok = |url: String| {
                let http = self.http.clone();
                async move {
                    http.get(url)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            };
            if ok(health.to_owned()).await && ok(services.clone()).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Jaeger not ready after 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("jaeger.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// One OTLP/HTTP export (JSON), as a service's batch exporter would send it.
    async fn export(&self, service: &str, spans: &[SpanSpec]) {
        let body = json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{
                "scope": {"name": "printflow-tail-sampling-test"},
                "spans": spans.iter().map(SpanSpec::to_otlp).collect::<Vec<_>>(),
            }],
        }]});
        let resp = self
            .http
            .post(&self.otlp)
            .json(&body)
            .send()
            .await
            .expect("post to Jaeger's OTLP/HTTP receiver");
        let status = resp.status();
        assert!(
            status.is_success(),
            "OTLP export refused: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// Sum of the series `name` carrying every label of `labels`, from `url` (0 when absent).
    async fn metric_at(&self, url: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self
            .http
            .get(url)
            .send()
            .await
            .expect("scrape Jaeger's metrics")
            .text()
            .await
            .expect("metrics text");
        sum_series(&text, name, labels)
    }

    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.metric_at(&self.metrics, name, labels).await
    }

    /// Spans of `service` counted by the span metrics (every status, kind and name).
    async fn span_calls(&self, service: &str) -> f64 {
        self.metric_at(&self.spanmetrics, SPAN_CALLS, &[("service_name", service)])
            .await
    }

    /// Waits until exactly `traces` sampling decisions were taken (none pending).
    async fn wait_decisions(&self, traces: usize) {
        let want = traces as f64;
        eventually(
            &format!("{traces} sampling decisions"),
            Duration::from_secs(30),
            || async move { (self.metric(DECISIONS, &[]).await >= want).then_some(()) },
        )
        .await;
        assert_eq!(
            self.metric(DECISIONS, &[]).await,
            want,
            "one decision per trace"
        );
    }

    /// How many traces the decisions kept.
    async fn kept_traces(&self) -> usize {
        let kept = self.metric(DECISIONS, &[("sampled", "true")]).await;
        assert!(kept >= 0.0 && kept.fract() == 0.0, "a count: {kept}");
        #[allow(
            clippy::cast_sign_loss,
            reason = "checked above: a whole number, not negative"
        )]
        let kept = kept as usize;
        kept
    }

    /// Waits until the storage exporter has written `spans` spans in all.
    async fn wait_stored_spans(&self, spans: usize) {
        let want = spans as f64;
        eventually(
            &format!("{spans} spans written to storage"),
            Duration::from_secs(20),
            || async move {
                let sent = self
                    .metric(STORED_SPANS, &[("exporter", "jaeger_storage_exporter")])
                    .await;
                (sent >= want).then_some(())
            },
        )
        .await;
    }

    async fn stored(&self, trace_id: &str) -> Option<TraceView> {
        self.query.trace(trace_id).await
    }

    /// Waits until `trace_id` is stored with `spans` spans.
    async fn wait_trace(&self, trace_id: &str, spans: usize, what: &str) -> TraceView {
        eventually(
            &format!("{what} {trace_id} stored with {spans} spans"),
            Duration::from_secs(20),
            || async move {
                let t = self.stored(trace_id).await?;
                (t.spans.len() == spans).then_some(t)
            },
        )
        .await
    }

    /// How many of `trace_ids` are stored.
    async fn count_stored(&self, trace_ids: &[String]) -> usize {
        let mut n = 0;
        for id in trace_ids {
            if self.stored(id).await.is_some() {
                n += 1;
            }
        }
        n
    }
}

impl Drop for TailJaeger {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sum_series(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        // OpenMetrics exemplars follow " # ".
        .filter_map(|l| l.split(" # ").next())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        // Not `sum()`: that of no series is -0.0.
        .fold(0.0, |a, b| a + b)
}

fn now_ns() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos(),
    )
    .expect("fits u64")
}

fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn new_span_id() -> String {
    format!("{:016x}", (uuid::Uuid::new_v4().as_u128() >> 64) as u64)
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    Unset,
    Ok,
    Error,
}

/// OTLP span kinds.
const INTERNAL: i32 = 1;
const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

/// One span to export.
#[derive(Clone)]
struct SpanSpec {
    trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: &'static str,
    kind: i32,
    /// Start, ns since the epoch.
    start: u64,
    duration_ms: u64,
    status: Status,
    attributes: Vec<(&'static str, String)>,
}

impl SpanSpec {
    /// A root span of a new trace.
    fn root(name: &'static str, kind: i32, start: u64, duration_ms: u64) -> SpanSpec {
        SpanSpec {
            trace_id: new_trace_id(),
            span_id: new_span_id(),
            parent: None,
            name,
            kind,
            start,
            duration_ms,
            status: Status::Ok,
            attributes: Vec::new(),
        }
    }

    /// A child of `self`, starting `after_ms` after it.
    fn child(&self, name: &'static str, kind: i32, after_ms: u64, duration_ms: u64) -> SpanSpec {
        SpanSpec {
            trace_id: self.trace_id.clone(),
            span_id: new_span_id(),
            parent: Some(self.span_id.clone()),
            name,
            kind,
            start: self.start + after_ms * 1_000_000,
            duration_ms,
            status: Status::Unset,
            attributes: Vec::new(),
        }
    }

    fn failed(mut self, error_type: &str) -> SpanSpec {
        self.status = Status::Error;
        self.attributes.push(("error.type", error_type.to_owned()));
        self
    }

    fn attr(mut self, key: &'static str, value: &str) -> SpanSpec {
        self.attributes.push((key, value.to_owned()));
        self
    }

    fn to_otlp(&self) -> Value {
        let mut span = json!({
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "startTimeUnixNano": self.start.to_string(),
            "endTimeUnixNano": (self.start + self.duration_ms * 1_000_000).to_string(),
            "attributes": self.attributes.iter()
                .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
                .collect::<Vec<_>>(),
            "status": match self.status {
                Status::Unset => json!({}),
                Status::Ok => json!({"code": 1}),
                Status::Error => json!({"code": 2, "message": "failed"}),
            },
        });
        if let Some(parent) = &self.parent {
            span["parentSpanId"] = json!(parent);
        }
        span
    }
}

/// A catalog request whose trace lasts 1.5 s but no span of it 500 ms: a short request, and a
/// short step 1.5 s later in the same trace (like MES's production steps in an order's trace).
/// Kept only by the share: per span, not per trace, is what counts as slow.
fn ordinary_trace(t0: u64) -> Vec<SpanSpec> {
    let root = SpanSpec::root("GET /catalog/products", SERVER, t0, 4);
    let search = root.child("catalog.search", INTERNAL, 1, 2);
    let later = root.child("job transition", INTERNAL, 1_500, 3);
    vec![root, search, later]
}

/// A request with one span over the threshold, below an OK root.
fn slow_trace(t0: u64) -> Vec<SpanSpec> {
    let root = SpanSpec::root("GET /catalog/products", SERVER, t0, LATENCY_MS + 250);
    let search = root.child("catalog.search", INTERNAL, 5, LATENCY_MS + 200);
    vec![root, search]
}

/// A request whose call to CRM failed, two levels below an OK root.
fn error_trace(t0: u64) -> Vec<SpanSpec> {
    let root = SpanSpec::root("POST /orders", SERVER, t0, 30);
    let place = root.child("order.place", INTERNAL, 1, 28);
    let call = place
        .child("POST /orders", CLIENT, 2, 20)
        .failed("connection_refused");
    vec![root, place, call]
}

/// How an order's production went.
#[derive(Clone, Copy, PartialEq)]
enum Production {
    /// MES found the model file is not the one ordered: `job verify model` fails (ERROR) and
    /// the job goes to FAILED.
    ModelRejected,
    /// The print failed: FAILED, no span with status ERROR (a normal outcome for MES).
    PrintFailed,
    /// Printing, all well so far.
    Printing,
}

/// An order's trace as the stack records it (docs/telemetry.md), one export per service:
/// Shop `POST /orders` (root, OK) -> CRM `order.create` -> outbox publish -> MES intake ->
/// production steps under the intake span, hundreds of ms later. No span reaches 500 ms.
fn order_trace(t0: u64, production: Production) -> Vec<(&'static str, Vec<SpanSpec>)> {
    let root = SpanSpec::root("POST /orders", SERVER, t0, 40);
    let place = root.child("order.place", INTERNAL, 1, 38);
    let call = place.child("POST /orders", CLIENT, 2, 30);
    let shop = vec![root.clone(), place, call.clone()];

    let crm_server = call.child("POST /orders", SERVER, 1, 28);
    let create = crm_server.child("order.create", INTERNAL, 1, 25);
    let publish = create
        .child("publish mes.order_created", PRODUCER, 60, 3)
        .attr("messaging.system", "rabbitmq");
    let crm = vec![crm_server, create, publish.clone()];

    let process = publish.child("process mes.order_created", CONSUMER, 20, 12);
    let intake = process.child("job intake", INTERNAL, 1, 10);
    let mut mes = vec![process, intake.clone()];
    let verify = intake.child("job verify model", INTERNAL, 300, 25);
    let to_failed = |after_ms, from: &str| {
        intake
            .child("job transition", INTERNAL, after_ms, 4)
            .attr("order.status.from", from)
            .attr("order.status.to", "FAILED")
    };
    match production {
        Production::ModelRejected => {
            mes.push(
                verify
                    .attr("mes.model_fetch.outcome", "failed")
                    .attr("order.failure_reason", "checksum_mismatch")
                    .failed("checksum_mismatch"),
            );
            mes.push(to_failed(330, "ACCEPTED"));
        }
        Production::PrintFailed | Production::Printing => {
            mes.push(verify.attr("mes.model_fetch.outcome", "verified"));
            mes.push(
                intake
                    .child("job PRINTING", INTERNAL, 400, 6)
                    .attr("mes.job.step", "start_print")
                    .attr("order.status.to", "PRINTING"),
            );
            if production == Production::PrintFailed {
                mes.push(
                    intake
                        .child("job FAILED", INTERNAL, 900, 6)
                        .attr("mes.job.step", "finish_phase")
                        .attr("order.status.from", "PRINTING")
                        .attr("order.status.to", "FAILED"),
                );
                mes.push(to_failed(901, "PRINTING"));
            }
        }
    }
    let publish_status = intake.child("publish crm.order_status_changed", PRODUCER, 950, 3);
    mes.push(publish_status);
    vec![("shop-api", shop), ("crm-api", crm), ("mes-api", mes)]
}

fn trace_id_of(spans: &[SpanSpec]) -> String {
    spans[0].trace_id.clone()
}

/// Every span of `spans` ended before now.
fn a_while_ago() -> u64 {
    now_ns() - 3_000_000_000
}

#[tokio::test]
async fn every_error_and_every_slow_trace_is_stored_and_about_the_configured_share_of_the_rest() {
    let jaeger = TailJaeger::start("10").await;
    let t0 = a_while_ago();
    let ordinary: Vec<Vec<SpanSpec>> = (0..200).map(|_| ordinary_trace(t0)).collect();
    let errors: Vec<Vec<SpanSpec>> = (0..5).map(|_| error_trace(t0)).collect();
    let slow: Vec<Vec<SpanSpec>> = (0..5).map(|_| slow_trace(t0)).collect();
    // Batches mixing the three, as a service's exporter sends them.
    let mut all: Vec<&Vec<SpanSpec>> = ordinary.iter().collect();
    for (i, t) in errors.iter().chain(&slow).enumerate() {
        all.insert(i * 20, t);
    }
    for batch in all.chunks(25) {
        let spans: Vec<SpanSpec> = batch.iter().flat_map(|t| t.iter().cloned()).collect();
        jaeger.export("shop-api", &spans).await;
    }

    jaeger.wait_decisions(210).await;
    for t in &errors {
        let stored = jaeger
            .wait_trace(&trace_id_of(t), t.len(), "trace with an ERROR span")
            .await;
        assert!(
            stored.spans.iter().any(|s| s.is_error()),
            "the ERROR span is stored"
        );
    }
    for t in &slow {
        jaeger
            .wait_trace(
                &trace_id_of(t),
                t.len(),
                &format!("trace with a span over {LATENCY_MS} ms"),
            )
            .await;
    }
    // What the decisions kept beyond those ten is the share; Jaeger must hold exactly that.
    let kept_ordinary = jaeger.kept_traces().await - 10;
    let ids: Vec<String> = ordinary.iter().map(|t| trace_id_of(t)).collect();
    let spans_kept = errors.iter().chain(&slow).map(Vec::len).sum::<usize>() + 3 * kept_ordinary;
    jaeger.wait_stored_spans(spans_kept).await;
    assert_eq!(
        jaeger.count_stored(&ids).await,
        kept_ordinary,
        "Jaeger stores the ordinary traces the decisions kept, no more, no less"
    );
    // 10 % of 200 is 20 (binomial, sd 4.2); 4..=50 fails with a chance of a few in a million,
    // and fails for sure if sampling were off (200) or dropped every ordinary trace (0).
    assert!(
        (4..=50).contains(&kept_ordinary),
        "kept {kept_ordinary} of 200 ordinary traces; a 10 % share keeps 2 %..25 %"
    );
}

/// Sends 5 orders whose production went as `failed` and 10 still printing, with no share for
/// ordinary traces: exactly the failed ones are kept, each whole.
async fn failed_orders_are_kept_whole(failed: Production) {
    let jaeger = TailJaeger::start("0").await;
    let t0 = a_while_ago();
    let failed: Vec<_> = (0..5).map(|_| order_trace(t0, failed)).collect();
    let printing: Vec<_> = (0..10)
        .map(|_| order_trace(t0, Production::Printing))
        .collect();
    // Each service exports its part; MES's, with the failure, comes last.
    for service in ["shop-api", "crm-api", "mes-api"] {
        for order in failed.iter().chain(&printing) {
            let (_, spans) = order.iter().find(|(s, _)| *s == service).expect("part");
            jaeger.export(service, spans).await;
        }
    }

    jaeger.wait_decisions(15).await;
    let span_count = |order: &Vec<(&str, Vec<SpanSpec>)>| order.iter().map(|(_, s)| s.len()).sum();
    for order in &failed {
        let id = trace_id_of(&order[0].1);
        let stored = jaeger
            .wait_trace(&id, span_count(order), "failed order")
            .await;
        assert_eq!(
            stored.services(),
            ["crm-api", "mes-api", "shop-api"],
            "the whole order, not only MES's part"
        );
        let root = stored
            .spans
            .iter()
            .find(|s| s.parent_id.is_none())
            .expect("the root span");
        assert!(
            root.service == "shop-api" && !root.is_error(),
            "the root is the Shop's OK request"
        );
    }
    assert_eq!(
        jaeger.kept_traces().await,
        5,
        "only the failed orders are kept"
    );
    jaeger
        .wait_stored_spans(failed.iter().map(span_count).sum())
        .await;
    let printing_ids: Vec<String> = printing.iter().map(|o| trace_id_of(&o[0].1)).collect();
    assert_eq!(
        jaeger.count_stored(&printing_ids).await,
        0,
        "orders that did not fail are not stored with a share of 0 %"
    );
}

/// Kept by two policies, like the real one: its ERROR span and its move to FAILED. The ERROR
/// policy alone is what keeps the error traces of the first test.
#[tokio::test]
async fn an_order_whose_model_check_failed_deep_in_mes_is_kept_whole_though_its_root_is_ok() {
    failed_orders_are_kept_whole(Production::ModelRejected).await;
}

#[tokio::test]
async fn an_order_whose_print_failed_is_kept_whole_though_no_span_has_status_error() {
    failed_orders_are_kept_whole(Production::PrintFailed).await;
}

#[tokio::test]
async fn span_metrics_count_every_span_including_the_ones_sampling_drops() {
    let jaeger = TailJaeger::start("0").await;
    let t0 = a_while_ago();
    let traces: Vec<Vec<SpanSpec>> = (0..50).map(|_| ordinary_trace(t0)).collect();
    let spans: Vec<SpanSpec> = traces.iter().flatten().cloned().collect();
    jaeger.export("shop-api", &spans).await;

    jaeger.wait_decisions(50).await;
    assert_eq!(jaeger.kept_traces().await, 0, "a 0 % share keeps none");
    let want = spans.len() as f64;
    // The connector flushes every 5 s.
    eventually(
        &format!("{want} calls in the span metrics"),
        Duration::from_secs(30),
        || async { (jaeger.span_calls("shop-api").await >= want).then_some(()) },
    )
    .await;
    assert_eq!(
        jaeger.span_calls("shop-api").await,
        want,
        "every span counted once"
    );
    assert_eq!(
        jaeger
            .metric(STORED_SPANS, &[("exporter", "jaeger_storage_exporter")])
            .await,
        0.0,
        "nothing stored"
    );
    let ids: Vec<String> = traces.iter().map(|t| trace_id_of(t)).collect();
    assert_eq!(jaeger.count_stored(&ids).await, 0);
}

#[tokio::test]
async fn late_spans_follow_the_decision_a_kept_trace_gains_them_a_dropped_one_loses_even_an_error()
{
    let jaeger = TailJaeger::start("0").await;
    let t0 = a_while_ago();
    let kept = slow_trace(t0);
    let dropped = ordinary_trace(t0);
    jaeger
        .export("shop-api", &[kept.clone(), dropped.clone()].concat())
        .await;
    jaeger.wait_decisions(2).await;
    let kept_id = trace_id_of(&kept);
    jaeger.wait_trace(&kept_id, kept.len(), "slow trace").await;

    // After the decision: a span for each, the dropped trace's one failed (like a print that
    // fails later than decision_wait after the order's first span).
    let late_ok = kept[0].child("job transition", INTERNAL, 2_000, 3);
    let late_error = dropped[0]
        .child("job verify model", INTERNAL, 2_000, 3)
        .failed("checksum_mismatch");
    jaeger.export("mes-api", &[late_ok, late_error]).await;
    eventually(
        "both late spans released by the cached decisions",
        Duration::from_secs(20),
        || async {
            let kept = jaeger.metric(LATE_SPANS, &[("sampled", "true")]).await;
            let dropped = jaeger.metric(LATE_SPANS, &[("sampled", "false")]).await;
            (kept >= 1.0 && dropped >= 1.0).then_some(())
        },
    )
    .await;
    let stored = jaeger
        .wait_trace(&kept_id, kept.len() + 1, "kept trace with its late span")
        .await;
    assert_eq!(
        stored.named("job transition", Some("mes-api")).len(),
        1,
        "the late span joined the kept trace"
    );
    assert!(
        jaeger.stored(&trace_id_of(&dropped)).await.is_none(),
        "a dropped trace stays dropped: its late ERROR span is not stored"
    );
    // The decision was not taken again for either.
    assert_eq!(jaeger.metric(DECISIONS, &[]).await, 2.0);
}
