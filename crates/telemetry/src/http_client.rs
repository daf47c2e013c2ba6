//! CLIENT spans for outgoing HTTP calls, with `traceparent` injected.

use opentelemetry_http::HeaderInjector;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Why an outgoing call failed, as recorded in `error.type`; a timeout is distinguishable from a
/// refusal.
pub fn error_type(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection_refused"
    } else if err.is_decode() || err.is_body() {
        "invalid_response"
    } else {
        "request_failed"
    }
}

/// Sends `request` inside a CLIENT span named after its method (semantic conventions: the low
/// cardinality `{method}`; pass `route` to name it `{method} {route}`), propagating the context.
pub async fn send(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    route: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    let method = request.method().as_str().to_owned();
    let url = request.url().clone();
    let span = tracing::info_span!(
        "http.client.request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "client",
        http.request.method = %method,
        url.full = %url,
        url.template = route,
        server.address = url.host_str().unwrap_or_default(),
        server.port = i64::from(url.port_or_known_default().unwrap_or_default()),
        http.response.status_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    );
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()))
    });
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(resp) => {
            let status = resp.status();
            span.record("http.response.status_code", i64::from(status.as_u16()));
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_str());
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(e) => {
            crate::record_error(&span, error_type(e), &e.to_string());
        }
    }
    result
}
