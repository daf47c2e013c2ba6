//! Prometheus metrics for printflow, written once for every service (see `docs/metrics.md` for
//! the metrics themselves).
//!
//! - [`Metrics`] is one application's registry. Each `Application` builds its own and hands it
//!   to whatever records metrics (HTTP middleware, messaging, domain code); nothing is global, so
//!   several applications in one test process never share or double-register series.
//! - Values that live in the database (orders per status, outbox backlog, printer queues) are not
//!   kept up to date by the code that changes them: a *refresher* registered with
//!   [`Metrics::refresh_at_scrape`] reads them when Prometheus scrapes. They are therefore right
//!   immediately after a restart, and correct however many instances share the database.
//! - [`Metrics::scrape`] runs the refreshers (each with a deadline; a failing one is logged and
//!   its gauges keep their last values) and encodes the registry as OpenMetrics text, which is
//!   what carries exemplars.
//! - [`trace_exemplar`] is the `trace_id` exemplar of an observation made inside a sampled trace,
//!   so a slow bucket in Grafana leads to a trace in Jaeger.
//! - [`buckets`] holds the bucket layouts, so the same kind of duration is bucketed alike
//!   everywhere.
//! - [`scrape`] reads an OpenMetrics answer back (the services' tests check `/metrics` with it).
//!
//! Counters are registered *without* the `_total` suffix: the OpenMetrics encoder appends it.

use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Metric, Registry};
use std::error::Error as StdError;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod scrape;
pub mod snapshot;

pub use prometheus_client;

/// The `Content-Type` of a scrape answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long one refresher may take before the scrape goes on without it. Well below
/// Prometheus' default scrape timeout (10 s), so a slow database costs freshness, not the scrape.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

/// A gauge holding a float (ages in seconds).
pub type GaugeF64 = Gauge<f64, AtomicU64>;

/// What a refresher may fail with.
pub type RefreshError = Box<dyn StdError + Send + Sync>;

/// Reads values from their source and sets gauges. It must set nothing until it has everything,
/// so an error or a timeout (which drops the future) leaves the previous values in place.
type Refresher = Arc<dyn Fn() -> BoxFuture<'static, Result<(), RefreshError>> + Send + Sync>;

/// One application's metric registry. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Metrics {
    /// Shared state.
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The metrics. A std mutex: registering and encoding are short and never await.
    registry: Mutex<Registry>,
    /// Run before every encoding, with their names for the log.
    refreshers: Mutex<Vec<(&'static str, Refresher)>>,
    /// One scrape at a time: a refresher that clears and refills a family (stale label sets)
    /// must not be seen half-way by a concurrent encoding.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Registers `metric` (keep a clone to record into) under `name` with `help` (one sentence
    /// without the final full stop, which the encoder adds). Counters without `_total`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .register(name, help, metric);
    }

    /// Runs `refresh` before every scrape. It must read everything first and set its metrics
    /// only at the end, synchronously: it gets [`REFRESH_TIMEOUT`], and a failure or a timeout
    /// (which drops the future) is logged with `name` and leaves the values of the last
    /// successful refresh in place.
    pub fn refresh_at_scrape<F, Fut>(&self, name: &'static str, refresh: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), RefreshError>> + Send + 'static,
    {
        let refresher: Refresher = Arc::new(move || Box::pin(refresh()));
        self.inner
            .refreshers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((name, refresher));
    }

    /// Runs every refresher (concurrently, each with its deadline) and encodes the registry as
    /// OpenMetrics text. What `GET /metrics` answers.
    pub async fn scrape(&self) -> Result<String, std::fmt::Error> {
        let _one_at_a_time = self.inner.scrape.lock().await;
        self.refresh().await;
        self.encode()
    }

    /// Runs every refresher; failures are logged, never returned.
    pub async fn refresh(&self) {
        let refreshers = self
            .inner
            .refreshers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let runs = refreshers.into_iter().map(|(name, refresh)| async move {
            match tokio::time::timeout(REFRESH_TIMEOUT, refresh()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(collector = name, error = %e, "metrics refresh failed; serving the last values");
                }
                Err(_) => {
                    tracing::warn!(
                        collector = name,
                        timeout_ms = REFRESH_TIMEOUT.as_millis() as u64,
                        "metrics refresh timed out; serving the last values"
                    );
                }
            }
        });
        futures::future::join_all(runs).await;
    }

    /// The registry as OpenMetrics text, as it is now (no refresh).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// The exemplar label set: the trace an observation was made in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TraceExemplar {
    /// 32 lower-case hex digits, as Jaeger shows it.
    pub trace_id: String,
}

/// The exemplar for an observation made now: the current span's trace, if it is sampled.
pub fn trace_exemplar() -> Option<TraceExemplar> {
    printflow_telemetry::current_sampled_trace_id().map(|trace_id| TraceExemplar { trace_id })
}

/// Bucket layouts (upper bounds; `+Inf` is implicit).
pub mod buckets {
    /// Request and query latencies: 1 ms .. 10 s.
    pub const LATENCY_SECONDS: [f64; 14] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];

    /// Time an order spends in one status: 0.1 s .. 24 h.
    pub const STATUS_SECONDS: [f64; 16] = [
        0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0,
        21_600.0, 43_200.0, 64_800.0, 86_400.0,
    ];

    /// Order lead time, created -> shipped: 1 s .. 7 d.
    pub const LEAD_TIME_SECONDS: [f64; 16] = [
        1.0, 10.0, 60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 28_800.0, 43_200.0,
        86_400.0, 172_800.0, 259_200.0, 432_000.0, 604_800.0,
    ];

    /// Result counts of a catalog search.
    pub const SEARCH_RESULTS: [f64; 10] = [
        0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 10_000.0,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    #[test]
    fn counters_get_total_and_the_text_ends_with_eof() {
        let metrics = Metrics::new();
        let c: Counter = Counter::default();
        metrics.register("printflow_things", "Things done", c.clone());
        c.inc();
        let text = metrics.encode().unwrap();
        assert!(text.contains("# TYPE printflow_things counter"), "{text}");
        assert!(text.contains("printflow_things_total 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[tokio::test]
    async fn a_failing_refresher_keeps_the_last_values_and_the_scrape_answers() {
        let metrics = Metrics::new();
        let gauge: Gauge = Gauge::default();
        metrics.register("printflow_level", "A level", gauge.clone());
        let next = Arc::new(AtomicI64::new(7));
        let fail = Arc::new(AtomicBool::new(false));
        {
            let (gauge, next, fail) = (gauge.clone(), next.clone(), fail.clone());
            metrics.refresh_at_scrape("level", move || {
                let (gauge, next, fail) = (gauge.clone(), next.clone(), fail.clone());
                async move {
                    if fail.load(Ordering::SeqCst) {
                        return Err("database down".into());
                    }
                    gauge.set(next.load(Ordering::SeqCst));
                    Ok(())
                }
            });
        }
        assert!(metrics
            .scrape()
            .await
            .unwrap()
            .contains("printflow_level 7"));

        next.store(9, Ordering::SeqCst);
        fail.store(true, Ordering::SeqCst);
        let text = metrics.scrape().await.unwrap();
        assert!(
            text.contains("printflow_level 7"),
            "last value kept: {text}"
        );

        fail.store(false, Ordering::SeqCst);
        assert!(metrics
            .scrape()
            .await
            .unwrap()
            .contains("printflow_level 9"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_refresher_is_cut_off() {
        let metrics = Metrics::new();
        let gauge: Gauge = Gauge::default();
        metrics.register("printflow_level", "A level", gauge.clone());
        metrics.refresh_at_scrape("stuck", || async {
            futures::future::pending::<()>().await;
            Ok(())
        });
        let started = tokio::time::Instant::now();
        let text = metrics.scrape().await.unwrap();
        assert!(text.contains("printflow_level 0"), "{text}");
        assert_eq!(started.elapsed(), REFRESH_TIMEOUT);
    }

    /// Runs `f` with a tracing subscriber exporting to an SDK tracer provider (no exporter)
    /// whose sampler is `sampler`, as this thread's default.
    fn with_tracer<R>(sampler: opentelemetry_sdk::trace::Sampler, f: impl FnOnce() -> R) -> R {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_sampler(sampler)
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("metrics-test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    #[test]
    fn exemplars_name_sampled_traces_only() {
        use opentelemetry_sdk::trace::Sampler;
        assert_eq!(trace_exemplar(), None, "no span, no exemplar");
        let sampled = with_tracer(Sampler::AlwaysOn, || {
            tracing::info_span!("work").in_scope(trace_exemplar)
        });
        let trace_id = sampled.expect("an exemplar inside a sampled span").trace_id;
        assert_eq!(trace_id.len(), 32);
        assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(trace_id, "0".repeat(32));
        let dropped = with_tracer(Sampler::AlwaysOff, || {
            tracing::info_span!("work").in_scope(trace_exemplar)
        });
        assert_eq!(dropped, None, "an unsampled trace leads nowhere");
    }

    #[test]
    fn bucket_layouts_increase() {
        for layout in [
            &buckets::LATENCY_SECONDS[..],
            &buckets::STATUS_SECONDS[..],
            &buckets::LEAD_TIME_SECONDS[..],
            &buckets::SEARCH_RESULTS[..],
        ] {
            assert!(layout.windows(2).all(|w| w[0] < w[1]), "{layout:?}");
        }
        assert_eq!(buckets::LATENCY_SECONDS[0], 0.001);
        assert_eq!(buckets::LATENCY_SECONDS[13], 10.0);
        assert_eq!(buckets::STATUS_SECONDS[0], 0.1);
        assert_eq!(buckets::STATUS_SECONDS[15], 86_400.0);
        assert_eq!(buckets::LEAD_TIME_SECONDS[0], 1.0);
        assert_eq!(buckets::LEAD_TIME_SECONDS[15], 7.0 * 86_400.0);
    }
}
