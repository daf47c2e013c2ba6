//! The HTTP side of the metrics: `GET /metrics` and the request-duration histogram, both added by
//! [`crate::server::with_common_layers`].
//!
//! `http_server_request_duration_seconds{method, route, status_class}` is observed for every
//! request, answered or not (timeouts, JSON 404/405, caught panics), by a middleware that runs
//! inside the SERVER span: its observations carry the span's `trace_id` as an exemplar when the
//! trace is sampled. `route` is the route template (`/orders/{id}/status`), `unmatched` for paths
//! no route serves, and `method` is one of the standard methods or `_OTHER`, so the label sets
//! stay few whatever clients send.

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use printflow_metrics::{buckets, trace_exemplar, Metrics, TraceExemplar};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use std::time::Instant;

/// Where Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";

/// `GET /metrics` serving `metrics` (the application's registry). The runtime puts it behind the
/// `metrics-reader` role.
pub fn metrics_route(metrics: &Metrics) -> axum::Router {
    axum::Router::new().route(
        METRICS_PATH,
        axum::routing::get(serve_metrics).with_state(metrics.clone()),
    )
}

/// The labels of one request series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    /// `GET`, `POST`, ... or `_OTHER`.
    pub method: &'static str,
    /// The route template, or `unmatched`.
    pub route: String,
    /// `2xx`, `3xx`, `4xx`, `5xx`.
    pub status_class: &'static str,
}

type Histogram = HistogramWithExemplars<TraceExemplar>;

fn latency_histogram() -> Histogram {
    HistogramWithExemplars::new(buckets::LATENCY_SECONDS.into_iter())
}

/// The request-duration histogram of one application.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// `http_server_request_duration_seconds`.
    requests: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// Registers `http_server_request_duration_seconds` in `metrics`.
    pub fn register(metrics: &Metrics) -> HttpMetrics {
        let requests: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        metrics.register(
            "http_server_request_duration_seconds",
            "Time from receiving an HTTP request to answering it, by method, route template and status class",
            requests.clone(),
        );
        HttpMetrics { requests }
    }

    /// Records one answered request.
    pub fn observe(&self, labels: &HttpLabels, seconds: f64, exemplar: Option<TraceExemplar>) {
        self.requests
            .get_or_create(labels)
            .observe(seconds, exemplar, None);
    }
}

/// The `method` label: the standard methods by name, anything else as `_OTHER` (as the HTTP
/// semantic conventions do), so a client cannot create series at will.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// The `status_class` label.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware: times the request and observes it. Added with `Router::layer` inside the SERVER
/// span layer, so it sees the matched route and the current span is the request's.
pub async fn record_request(State(http): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    let labels = HttpLabels {
        method,
        route,
        status_class: status_class(resp.status().as_u16()),
    };
    http.observe(&labels, started.elapsed().as_secs_f64(), trace_exemplar());
    resp
}

/// `GET /metrics`: refreshes the database-backed gauges and answers OpenMetrics text.
pub async fn serve_metrics(State(metrics): State<Metrics>) -> Response {
    match metrics.scrape().await {
        Ok(body) => (
            [(header::CONTENT_TYPE, printflow_metrics::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(format!("encoding the metrics failed: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{with_common_layers, Limits};
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use tower::ServiceExt;
    use tracing_subscriber::layer::SubscriberExt;

    fn app(metrics: &Metrics) -> Router {
        let routes = Router::new()
            .route("/orders/{id}", get(|| async { "an order" }))
            .route(
                "/broken",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
            )
            .merge(metrics_route(metrics));
        with_common_layers(routes, Limits::default(), metrics)
    }

    async fn call(router: &Router, method: Method, path: &str) -> Response {
        router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    async fn body_text(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The `_count` sample of one label set, if present.
    fn count(text: &str, labels: &str) -> Option<u64> {
        let prefix = format!("http_server_request_duration_seconds_count{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().parse().unwrap())
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_status_class() {
        // A subscriber without OpenTelemetry. (Some subscriber is needed: with none on a thread,
        // tracing may cache the request span's callsite as disabled for every thread, and the
        // exemplar test running beside this one would lose its spans.)
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry());
        let metrics = Metrics::new();
        let router = app(&metrics);
        for id in ["1", "2", "3"] {
            let resp = call(&router, Method::GET, &format!("/orders/{id}")).await;
            assert_eq!(resp.status(), StatusCode::OK);
        }
        call(&router, Method::GET, "/broken").await;
        call(&router, Method::GET, "/no/such/path").await;
        call(&router, Method::POST, "/orders/1").await;
        let weird = Method::from_bytes(b"BREW").unwrap();
        call(&router, weird, "/orders/1").await;

        let resp = call(&router, Method::GET, "/metrics").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            printflow_metrics::CONTENT_TYPE
        );
        let text = body_text(resp).await;
        assert_eq!(
            count(
                &text,
                r#"method="GET",route="/orders/{id}",status_class="2xx""#
            ),
            Some(3),
            "{text}"
        );
        assert_eq!(
            count(&text, r#"method="GET",route="/broken",status_class="5xx""#),
            Some(1)
        );
        assert_eq!(
            count(
                &text,
                r#"method="GET",route="unmatched",status_class="4xx""#
            ),
            Some(1)
        );
        assert_eq!(
            count(
                &text,
                r#"method="POST",route="/orders/{id}",status_class="4xx""#
            ),
            Some(1),
            "405 on a known route keeps the template"
        );
        assert_eq!(
            count(
                &text,
                r#"method="_OTHER",route="/orders/{id}",status_class="4xx""#
            ),
            Some(1)
        );
        assert!(!text.contains("BREW"));
        assert!(
            !text.contains("trace_id"),
            "no tracer, no exemplars: {text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn observations_in_a_sampled_trace_carry_its_trace_id() {
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("web-test")));
        // This test's runtime polls on this thread, so the middleware sees this subscriber.
        let _guard = tracing::subscriber::set_default(subscriber);

        let metrics = Metrics::new();
        let router = app(&metrics);
        let resp = call(&router, Method::GET, "/orders/42").await;
        let trace_id = resp.headers()[printflow_telemetry::http_server::TRACE_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let text = metrics.encode().unwrap();
        let bucket_with_exemplar = text
            .lines()
            .find(|l| {
                l.starts_with("http_server_request_duration_seconds_bucket{")
                    && l.contains(r#"route="/orders/{id}""#)
                    && l.contains(" # {")
            })
            .unwrap_or_else(|| panic!("no exemplar: {text}"));
        assert!(
            bucket_with_exemplar.contains(&format!(r#"# {{trace_id="{trace_id}"}}"#)),
            "{bucket_with_exemplar}"
        );
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "_OTHER"
        );
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(422), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(101), "1xx");
    }
}
