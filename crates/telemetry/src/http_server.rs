//! SERVER spans for incoming HTTP requests, following the HTTP semantic conventions.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry_http::HeaderExtractor;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Response header carrying the request's trace id, so a client (or a test) can find the trace.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// Middleware: wraps the request in a SERVER span named `{method} {route}` (route template, not
/// the raw path, so names stay few), continuing the caller's `traceparent`. Add it with
/// `Router::layer` so the matched route is known.
pub async fn trace_request(req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let name = match &route {
        Some(r) => format!("{method} {r}"),
        None => method.clone(),
    };
    let (address, port) = host_and_port(req.headers().get(header::HOST));
    let span = tracing::info_span!(
        "http.server.request",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref().unwrap_or_default(),
        url.path = %req.uri().path(),
        url.scheme = "http",
        server.address = %address,
        server.port = i64::from(port),
        http.response.status_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        // The verified caller's subject, recorded by the auth guard (printflow-auth).
        enduser.id = Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    let _ = span.set_parent(parent);

    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_client_error() || status.is_server_error() {
        span.record("error.type", status.as_str());
    }
    if status.is_server_error() {
        // Per the conventions only 5xx marks a SERVER span as failed; a 4xx is the client's.
        span.record("otel.status_code", "ERROR");
    }
    if let Some(trace_id) = {
        let _entered = span.enter();
        crate::current_trace_id()
    } {
        if let Ok(v) = HeaderValue::from_str(&trace_id) {
            resp.headers_mut().insert(TRACE_ID_HEADER, v);
        }
    }
    resp
}

fn host_and_port(host: Option<&HeaderValue>) -> (String, u16) {
    let host = host.and_then(|h| h.to_str().ok()).unwrap_or("");
    match host.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().unwrap_or(80)),
        None => (host.to_owned(), 80),
    }
}
