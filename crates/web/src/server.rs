//! The middleware stack shared by the services, and the shutdown signal binaries wait for.
//!
//! Health routes, the server loop and background tasks live in `printflow-runtime`.

use crate::error::{route_not_found, ApiError};
use crate::metrics::HttpMetrics;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use printflow_metrics::Metrics;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// A request still running after this is answered 503 `request_timeout`; nothing a client
    /// sends may hold a worker forever.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// Wraps a service's routes with the shared behaviour: JSON 404/405, body limit, request timeout, panic-to-500, request
/// logging, the request-duration histogram and a tracing SERVER span per request. Call it last,
/// on the full router, once per application (it registers the HTTP metrics in `metrics`).
pub fn with_common_layers(router: Router, limits: Limits, metrics: &Metrics) -> Router {
    let timeout = limits.request_timeout;
    let http_metrics = HttpMetrics::register(metrics);
    router
        .fallback(route_not_found)
        .layer(axum::middleware::from_fn(json_method_not_allowed))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| enforce_timeout(req, next, timeout),
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "internal error; see the service log",
                )
                .into_response()
            },
        ))
        .layer(axum::middleware::from_fn(log_request))
        // Inside the SERVER span (so its exemplars name the request's trace) and around
        // everything else (so timeouts, JSON 404/405 and caught panics are timed too); added
        // with `Router::layer`, so it sees the matched route template.
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            crate::metrics::record_request,
        ))
        // Outermost, so the SERVER span covers everything above (including timeouts and the
        // JSON 404/405); added with `Router::layer`, so it sees the matched route template.
        .layer(axum::middleware::from_fn(
            printflow_telemetry::http_server::trace_request,
        ))
}

async fn enforce_timeout(req: Request, next: Next, timeout: Duration) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::unavailable(
            "request_timeout",
            format!(
                "the request did not finish within {} ms",
                timeout.as_millis()
            ),
        )
        .into_response(),
    }
}

/// axum answers a wrong method with an empty 405; give it the same JSON shape as other errors.
async fn json_method_not_allowed(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = resp.headers().get(axum::http::header::ALLOW).cloned();
        let mut out = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not accept that method",
        )
        .into_response();
        if let Some(allow) = allow {
            out.headers_mut().insert(axum::http::header::ALLOW, allow);
        }
        return out;
    }
    resp
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, elapsed_ms, "request failed");
    } else {
        tracing::debug!(%method, %path, status, elapsed_ms, "request");
    }
    resp
}

/// Resolves on Ctrl-C or SIGTERM; what binaries pass as their shutdown future.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => futures::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = futures::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
