//! Jaeger's own web UI behind the gate, at `/jaeger/`: where Jaeger has one (the official
//! container image, with `query.base_path: /jaeger`), people with trace access get it through
//! here, and its API requests (`/jaeger/api/...`) are answered by the same filtered handlers as
//! `/api/...`. The natively built Jaeger has no UI and answers a placeholder page.
//!
//! Only the UI's files pass through unfiltered; they hold no trace data. A browser without a
//! session is sent to the login first (`crate::session`).

use crate::policy::Policy;
use axum::extract::{OriginalUri, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use printflow_auth::Principal;
use printflow_web::ApiError;
use std::sync::Arc;

/// Where the gate serves Jaeger's own web UI, when Jaeger has one (its `query.base_path`).
pub const UI_PREFIX: &str = "/jaeger";

/// What the UI proxy needs (a part of the query side's state).
#[derive(Debug, Clone)]
pub struct UiState {
    /// Client for Jaeger.
    pub http: reqwest::Client,
    /// Jaeger's query base URL (with its base path, if it has one).
    pub jaeger: String,
    /// Who has trace access.
    pub policy: Arc<Policy>,
}

/// `path` as Jaeger knows it: without the UI's base path.
pub fn without_ui_prefix(path: &str) -> &str {
    path.strip_prefix(UI_PREFIX)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path)
}

/// Path and query of `uri` as Jaeger knows them.
pub fn jaeger_path(uri: &OriginalUri) -> String {
    let path = without_ui_prefix(uri.0.path());
    match uri.0.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// Whether `path` means what it says when it reaches Jaeger: the URL library resolves `..` (also
/// percent-encoded) before a request leaves, so `/jaeger/../api/traces/x` would reach Jaeger's
/// unfiltered API. Any dot segment, encoded dot or slash, backslash or empty segment fails.
pub fn plain_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    let encoded = lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c");
    let segments_ok = path.split('/').skip(1).enumerate().all(|(i, seg)| {
        seg != "." && seg != ".." && (!seg.is_empty() || i == 0 || path.ends_with('/'))
    });
    path.starts_with('/') && !encoded && !path.contains('\\') && !path.contains("//") && segments_ok
}

/// Whether `path` (as Jaeger knows it) names a file of the UI and nothing else: a
/// [`plain_path`] outside `/api`.
pub fn is_ui_file(path: &str) -> bool {
    let bare = path.split(['?', '#']).next().unwrap_or_default();
    plain_path(path) && bare != "/api" && !bare.starts_with("/api/")
}

/// `GET /jaeger`: the UI lives under the trailing slash (its relative links need it).
pub async fn to_ui() -> Redirect {
    Redirect::permanent("/jaeger/")
}

/// `GET /jaeger/...` (but `/jaeger/api/...`): the UI's files from Jaeger, for callers with trace
/// access.
pub async fn proxy(State(s): State<UiState>, caller: Principal, uri: OriginalUri) -> Response {
    if s.policy
        .view_for(caller.roles.iter().map(|r| r.as_str()))
        .is_none()
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "no_trace_access",
            "your roles give no access to trace data",
        )
        .into_response();
    }
    let path = jaeger_path(&uri);
    if !is_ui_file(&path) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no such file of the UI",
        )
        .into_response();
    }
    let url = format!("{}{path}", s.jaeger);
    let resp = match s.http.get(url).send().await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::warn!(error = %e, "Jaeger's UI did not answer");
            return ApiError::unavailable(
                "store_unavailable",
                "the trace store is unavailable; retry",
            )
            .into_response();
        }
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = axum::http::HeaderMap::new();
    for name in [
        header::CONTENT_TYPE,
        header::CACHE_CONTROL,
        header::ETAG,
        header::LAST_MODIFIED,
    ] {
        if let Some(value) = resp.headers().get(name.as_str()) {
            if let Ok(value) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.insert(name, value);
            }
        }
    }
    match resp.bytes().await {
        Ok(body) => (status, headers, body).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "Jaeger's UI answer could not be read");
            ApiError::unavailable("store_unavailable", "the trace store is unavailable; retry")
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_uis_own_files_pass() {
        for ok in [
            "/",
            "/static/index-abc.js",
            "/search?service=x",
            "/trace/abc",
            "/favicon.ico",
        ] {
            assert!(is_ui_file(ok), "{ok}");
        }
        for bad in [
            "/../api/traces/abc",
            "/static/../../api/traces/abc",
            "/%2e%2e/api/traces/abc",
            "/%2E%2E%2Fapi/traces",
            "/static/..%2fapi",
            "/./api/services",
            "//api/services",
            "/api/services",
            "/api/v3/traces/abc",
            "/api",
            "/static\\..\\api",
            "/a/./b",
        ] {
            assert!(!is_ui_file(bad), "{bad}");
        }
    }
}
