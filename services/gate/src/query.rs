//! The query side: Jaeger's HTTP query API (v1, v3 and the SPM metrics), answered from Jaeger
//! after the caller's view ([`crate::policy`]) is applied ([`crate::filter`]).
//!
//! - A caller without a view (customers, service clients) gets `403` on every endpoint.
//! - Spans the view does not show are removed; each answer says how many (`hiddenSpans` in the
//!   body, `x-printflow-hidden-spans` as a header) so a view can show the gap.
//! - A search keeps only traces with a visible span; a trace with none answers `404`, exactly as
//!   a trace id that does not exist (a guessed id learns nothing).
//! - Service lists, operations, dependencies and SPM metrics only name services the view lists.
//! - Anything else under `/api` is not routed (`404`): deny by default.
//!
//! Every access is audited ([`crate::audit`]).

use crate::audit::{Audit, Entry};
use crate::filter::{self, Hidden};
use crate::policy::{Policy, View};
use crate::ui::{self, jaeger_path, without_ui_prefix, UiState, UI_PREFIX};
use axum::extract::{FromRef, OriginalUri, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use printflow_auth::Principal;
use printflow_web::{ApiError, Path};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// What the query handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct QueryState {
    /// Client for Jaeger, with the call deadline.
    pub http: reqwest::Client,
    /// Jaeger's query API base URL.
    pub jaeger: String,
    /// Who sees what.
    pub policy: Arc<Policy>,
    /// The audit trail.
    pub audit: Audit,
}

/// The query routes (to be authenticated by the caller of this function).
pub fn routes(state: QueryState) -> Router {
    // The same API under the Jaeger UI's base path, for the UI's own requests.
    let api = api_routes();
    Router::new()
        .merge(api.clone())
        .nest(UI_PREFIX, api)
        .route("/auth/me", get(me))
        .route(UI_PREFIX, get(ui::to_ui))
        .route("/jaeger/", get(ui::proxy))
        .route("/jaeger/{*path}", get(ui::proxy))
        .with_state(state)
}

impl FromRef<QueryState> for UiState {
    fn from_ref(s: &QueryState) -> UiState {
        UiState {
            http: s.http.clone(),
            jaeger: s.jaeger.clone(),
            policy: s.policy.clone(),
        }
    }
}

fn api_routes() -> Router<QueryState> {
    Router::new()
        .route("/api/services", get(services))
        .route(
            "/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/api/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/dependencies", get(dependencies))
        .route("/api/metrics/{kind}", get(metrics))
        .route("/api/v3/services", get(v3_services))
        .route("/api/v3/operations", get(v3_operations))
        .route("/api/v3/traces", get(v3_search))
        .route("/api/v3/traces/{trace_id}", get(v3_trace))
}

/// One query being answered: who asks, what, and the audit entry it ends with.
pub(crate) struct Ask {
    state: QueryState,
    caller: Principal,
    endpoint: &'static str,
    /// Path and query as asked, without the UI's base path: what is forwarded (unless a
    /// handler narrows it) and audited.
    request: String,
}

/// What an answer returned, for the audit.
#[derive(Default)]
pub(crate) struct Returned {
    pub(crate) traces: usize,
    pub(crate) spans: usize,
    pub(crate) hidden: Hidden,
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished answer, returned once per request; boxing it buys nothing"
)]
impl Ask {
    pub(crate) fn new(
        state: QueryState,
        caller: Principal,
        endpoint: &'static str,
        uri: &OriginalUri,
    ) -> Ask {
        Ask {
            state,
            caller,
            endpoint,
            request: jaeger_path(uri),
        }
    }

    /// The caller's view, or the `403` answer (audited).
    pub(crate) fn view(&self) -> Result<View, Response> {
        let roles = self.caller.roles.iter().map(|r| r.as_str());
        self.state.policy.view_for(roles).ok_or_else(|| {
            self.audit("none", "forbidden", &Returned::default());
            ApiError::new(
                StatusCode::FORBIDDEN,
                "no_trace_access",
                "your roles give no access to trace data",
            )
            .into_response()
        })
    }

    /// GETs `path_and_query` from Jaeger: its status and JSON body, or the `503` answer.
    pub(crate) async fn fetch(
        &self,
        view: &View,
        path_and_query: &str,
    ) -> Result<(StatusCode, Value), Response> {
        // A path the URL library would rewrite (`..`, encoded dots) could reach another Jaeger
        // endpoint than the one the caller's view was applied for.
        if !ui::plain_path(path_and_query) {
            self.audit(&view.label(), "not_found", &Returned::default());
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such endpoint",
            )
            .into_response());
        }
        let url = format!("{}{path_and_query}", self.state.jaeger);
        let unavailable = |detail: String| {
            tracing::warn!(%detail, "Jaeger's query API did not answer");
            self.audit(&view.label(), "store_unavailable", &Returned::default());
            ApiError::unavailable("store_unavailable", "the trace store is unavailable; retry")
                .into_response()
        };
        let resp = self
            .state
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
        if status.is_server_error() {
            return Err(unavailable(format!("Jaeger answered {status}")));
        }
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok((status, value))
    }

    pub(crate) fn audit(&self, view: &str, outcome: &'static str, returned: &Returned) {
        self.state.audit.record(&Entry {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            subject: &self.caller.subject,
            username: self.caller.username.as_deref(),
            client: self.caller.client.as_deref(),
            view,
            endpoint: self.endpoint,
            request: &self.request,
            outcome,
            traces: returned.traces,
            spans: returned.spans,
            hidden_spans: returned.hidden.spans,
            hidden_attributes: returned.hidden.attributes,
        });
    }

    /// The `404` for a trace that does not exist or that the view hides entirely: the same
    /// answer, so a guessed id learns nothing.
    fn not_found(&self, view: &View, trace_id: &str) -> Response {
        self.audit(&view.label(), "not_found", &Returned::default());
        ApiError::not_found("trace", trace_id).into_response()
    }

    /// A `200` with `body`, audited, with the hidden-span header.
    fn ok(&self, view: &View, mut body: Value, returned: &Returned) -> Response {
        self.audit(&view.label(), "ok", returned);
        if let Some(obj) = body.as_object_mut() {
            obj.insert("hiddenSpans".into(), json!(returned.hidden.spans));
        }
        let mut resp = Json(body).into_response();
        resp.headers_mut().insert(
            "x-printflow-hidden-spans",
            HeaderValue::from(returned.hidden.spans),
        );
        resp
    }

    /// Jaeger's non-success answer (a bad query parameter, say), passed on as it came.
    fn passthrough(&self, view: &View, status: StatusCode, body: Value) -> Response {
        self.audit(&view.label(), "ok", &Returned::default());
        (status, Json(body)).into_response()
    }
}

/// The `service` query parameter, if any.
fn service_param(uri: &OriginalUri, name: &str) -> Option<String> {
    let query = uri.0.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Keeps the strings of `list` the view lists.
fn keep_listed(view: &View, list: &mut Value) {
    if let Some(items) = list.as_array_mut() {
        items.retain(|s| s.as_str().is_some_and(|s| view.lists_service(s)));
    }
}

/// Sets `total` to the length of `data` in a v1 answer.
fn fix_total(body: &mut Value) {
    let n = body["data"].as_array().map_or(0, Vec::len);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("total".into(), json!(n));
    }
}

/// Filters the v1 traces in `body["data"]`, dropping those left without a span.
pub(crate) fn filter_v1_data(view: &View, body: &mut Value) -> Returned {
    let mut returned = Returned::default();
    if let Some(traces) = body["data"].as_array_mut() {
        traces.retain_mut(|trace| {
            let hidden = filter::filter_v1_trace(view, trace);
            // A trace left without a span goes, and so does its count: counting it would tell
            // the caller that a trace they may not see matched.
            let kept = filter::v1_has_spans(trace);
            if kept {
                returned.hidden.add(hidden);
                if let Some(obj) = trace.as_object_mut() {
                    obj.insert("hiddenSpans".into(), json!(hidden.spans));
                }
            }
            kept
        });
        returned.traces = traces.len();
        returned.spans = traces
            .iter()
            .map(|t| t["spans"].as_array().map_or(0, Vec::len))
            .sum();
    }
    returned
}

/// Spans per trace id in an OTLP/JSON `result`.
fn spans_by_trace(result: &Value) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for rs in result["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for span in ss["spans"].as_array().into_iter().flatten() {
                let id = span["traceId"].as_str().unwrap_or_default().to_owned();
                *counts.entry(id).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// Filters an OTLP/JSON `result` and counts what is left. Spans hidden from traces that are
/// left without any are not counted (that would tell the caller such a trace matched).
fn filter_v3_result(view: &View, body: &mut Value) -> Returned {
    let before = spans_by_trace(&body["result"]);
    let hidden = filter::filter_otlp_traces(view, &mut body["result"]);
    let after = spans_by_trace(&body["result"]);
    Returned {
        traces: after.len(),
        spans: after.values().sum(),
        hidden: Hidden {
            spans: after
                .iter()
                .map(|(id, n)| before.get(id).map_or(0, |b| b.saturating_sub(*n)))
                .sum(),
            attributes: hidden.attributes,
        },
    }
}

async fn services(State(s): State<QueryState>, caller: Principal, uri: OriginalUri) -> Response {
    let ask = Ask::new(s, caller, "services", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    match ask.fetch(&view, "/api/services").await {
        Ok((status, mut body)) if status.is_success() => {
            keep_listed(&view, &mut body["data"]);
            fix_total(&mut body);
            ask.ok(&view, body, &Returned::default())
        }
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

/// Operations of a service the view does not list: the answer for an unknown service.
fn no_operations(ask: &Ask, view: &View, v3: bool) -> Response {
    let body = if v3 {
        json!({"operations": []})
    } else {
        json!({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": null})
    };
    ask.ok(view, body, &Returned::default())
}

async fn service_operations(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Path(service): Path<String>,
) -> Response {
    let ask = Ask::new(s, caller, "operations", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    if !view.lists_service(&service) {
        return no_operations(&ask, &view, false);
    }
    match ask.fetch(&view, &ask.request).await {
        Ok((status, body)) if status.is_success() => ask.ok(&view, body, &Returned::default()),
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn operations(State(s): State<QueryState>, caller: Principal, uri: OriginalUri) -> Response {
    operations_of(
        Ask::new(s, caller, "operations", &uri),
        &uri,
        "service",
        false,
    )
    .await
}

async fn v3_operations(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
) -> Response {
    operations_of(
        Ask::new(s, caller, "v3_operations", &uri),
        &uri,
        "service",
        true,
    )
    .await
}

async fn operations_of(ask: Ask, uri: &OriginalUri, param: &str, v3: bool) -> Response {
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    if !service_param(uri, param).is_some_and(|s| view.lists_service(&s)) {
        return no_operations(&ask, &view, v3);
    }
    match ask.fetch(&view, &ask.request).await {
        Ok((status, body)) if status.is_success() => ask.ok(&view, body, &Returned::default()),
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn search(State(s): State<QueryState>, caller: Principal, uri: OriginalUri) -> Response {
    let ask = Ask::new(s, caller, "traces", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    if service_param(&uri, "service").is_some_and(|s| !view.lists_service(&s)) {
        let empty = json!({"data": [], "total": 0, "limit": 0, "offset": 0, "errors": null});
        return ask.ok(&view, empty, &Returned::default());
    }
    match ask.fetch(&view, &ask.request).await {
        Ok((status, mut body)) if status.is_success() => {
            let returned = filter_v1_data(&view, &mut body);
            fix_total(&mut body);
            not_found_errors(&uri, &mut body);
            ask.ok(&view, body, &returned)
        }
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

/// A search by `traceID` lists the ids it did not return as "trace not found", whether they do
/// not exist or are hidden from the caller: Jaeger's own list would tell the two apart.
fn not_found_errors(uri: &OriginalUri, body: &mut Value) {
    let asked: Vec<String> = form_urlencoded::parse(uri.0.query().unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "traceID")
        .map(|(_, v)| v.to_lowercase())
        .collect();
    let returned: Vec<String> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["traceID"].as_str().map(str::to_lowercase))
        .collect();
    let errors: Vec<Value> = asked
        .iter()
        .filter(|id| {
            !returned
                .iter()
                .any(|r| r.trim_start_matches('0') == id.trim_start_matches('0'))
        })
        .map(|id| json!({"code": 404, "msg": "trace not found", "traceID": id}))
        .collect();
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "errors".into(),
            if errors.is_empty() {
                Value::Null
            } else {
                Value::Array(errors)
            },
        );
    }
}

async fn trace(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Path(trace_id): Path<String>,
) -> Response {
    let ask = Ask::new(s, caller, "trace", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    match ask.fetch(&view, &ask.request).await {
        Ok((status, mut body)) if status.is_success() => {
            let returned = filter_v1_data(&view, &mut body);
            if returned.traces == 0 {
                return ask.not_found(&view, &trace_id);
            }
            fix_total(&mut body);
            ask.ok(&view, body, &returned)
        }
        Ok((StatusCode::NOT_FOUND, _)) => ask.not_found(&view, &trace_id),
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn dependencies(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
) -> Response {
    let ask = Ask::new(s, caller, "dependencies", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    match ask.fetch(&view, &ask.request).await {
        Ok((status, mut body)) if status.is_success() => {
            if let Some(links) = body["data"].as_array_mut() {
                links.retain(|l| {
                    let listed = |k: &str| l[k].as_str().is_some_and(|s| view.lists_service(s));
                    listed("parent") && listed("child")
                });
            }
            fix_total(&mut body);
            ask.ok(&view, body, &Returned::default())
        }
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

/// SPM: `latencies`, `calls`, `errors` for the listed services among those asked; `minstep`
/// as it is (no service data).
async fn metrics(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Path(kind): Path<String>,
) -> Response {
    let ask = Ask::new(s, caller, "metrics", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    let name = match kind.as_str() {
        "latencies" => "service_latencies",
        "calls" => "service_call_rate",
        "errors" => "service_error_rate",
        "minstep" => "",
        _ => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "no such metrics endpoint (latencies, calls, errors, minstep)",
            )
            .into_response()
        }
    };
    // Only the services the view lists are asked for (the serializer is not Send, so it is
    // done before the first await).
    let (narrowed, asked, kept) = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        let (mut asked, mut kept) = (0, 0);
        for (k, v) in form_urlencoded::parse(uri.0.query().unwrap_or_default().as_bytes()) {
            if k == "service" {
                asked += 1;
                if !view.lists_service(&v) {
                    continue;
                }
                kept += 1;
            }
            query.append_pair(&k, &v);
        }
        let path = without_ui_prefix(uri.0.path());
        (format!("{path}?{}", query.finish()), asked, kept)
    };
    if kind != "minstep" && (asked == 0 || kept == 0) {
        let empty = json!({"name": name, "type": "GAUGE", "help": "", "metrics": []});
        return ask.ok(&view, empty, &Returned::default());
    }
    match ask.fetch(&view, &narrowed).await {
        Ok((status, mut body)) if status.is_success() => {
            // Grouped answers carry the service as a label: drop any the view does not list.
            if let Some(series) = body["metrics"].as_array_mut() {
                series.retain(|m| {
                    m["labels"].as_array().into_iter().flatten().all(|l| {
                        l["name"] != "service_name"
                            || l["value"].as_str().is_some_and(|s| view.lists_service(s))
                    })
                });
            }
            ask.ok(&view, body, &Returned::default())
        }
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn v3_services(State(s): State<QueryState>, caller: Principal, uri: OriginalUri) -> Response {
    let ask = Ask::new(s, caller, "v3_services", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    match ask.fetch(&view, "/api/v3/services").await {
        Ok((status, mut body)) if status.is_success() => {
            keep_listed(&view, &mut body["services"]);
            ask.ok(&view, body, &Returned::default())
        }
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn v3_search(State(s): State<QueryState>, caller: Principal, uri: OriginalUri) -> Response {
    let ask = Ask::new(s, caller, "v3_traces", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    if service_param(&uri, "query.service_name").is_some_and(|s| !view.lists_service(&s)) {
        return ask.ok(
            &view,
            json!({"result": {"resourceSpans": []}}),
            &Returned::default(),
        );
    }
    // Jaeger 1.76 answers 500 without `query.num_traces`: give it Jaeger UI's default.
    let forwarded = if service_param(&uri, "query.num_traces").is_some() {
        ask.request.clone()
    } else {
        let sep = if uri.0.query().is_some() { '&' } else { '?' };
        format!("{}{sep}query.num_traces=20", ask.request)
    };
    match ask.fetch(&view, &forwarded).await {
        Ok((status, mut body)) if status.is_success() => {
            let returned = filter_v3_result(&view, &mut body);
            ask.ok(&view, body, &returned)
        }
        Ok((StatusCode::NOT_FOUND, _)) => ask.ok(
            &view,
            json!({"result": {"resourceSpans": []}}),
            &Returned::default(),
        ),
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

async fn v3_trace(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Path(trace_id): Path<String>,
) -> Response {
    let ask = Ask::new(s, caller, "v3_trace", &uri);
    let view = match ask.view() {
        Ok(view) => view,
        Err(resp) => return resp,
    };
    match ask.fetch(&view, &ask.request).await {
        Ok((status, mut body)) if status.is_success() => {
            let returned = filter_v3_result(&view, &mut body);
            if returned.spans == 0 {
                return ask.not_found(&view, &trace_id);
            }
            ask.ok(&view, body, &returned)
        }
        Ok((StatusCode::NOT_FOUND, _)) => ask.not_found(&view, &trace_id),
        Ok((status, body)) => ask.passthrough(&view, status, body),
        Err(resp) => resp,
    }
}

/// `GET /auth/me`: who the caller is and which view of trace data they get (for a page to show
/// the name and what is hidden; `view` is null without trace access).
async fn me(State(s): State<QueryState>, caller: Principal) -> Json<Value> {
    let mut roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
    roles.sort_unstable();
    let view = s.policy.view_for(roles.iter().copied()).map(|v| v.label());
    Json(json!({
        "subject": caller.subject,
        "username": caller.username,
        "roles": roles,
        "view": view,
    }))
}
