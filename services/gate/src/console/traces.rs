//! The traces pages' handlers: the slowest traces of a service (`/traces`) and one trace as a
//! waterfall (`/traces/{trace_id}`), through the viewer's view of the trace-access policy and
//! audited like the API.

use super::html::{self};
use super::{forbidden, frame, waterfall};
use crate::query::{filter_v1_data, Ask, QueryState};
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use printflow_auth::Principal;
use printflow_web::{Path, Query};
use serde::Deserialize;
use std::fmt::Write;

/// The traces page's form.
#[derive(Debug, Deserialize)]
pub(super) struct TracesForm {
    service: Option<String>,
    operation: Option<String>,
    lookback: Option<String>,
    errors: Option<String>,
    id: Option<String>,
}

/// Windows offered, as Jaeger's `lookback` values.
const LOOKBACKS: [(&str, &str); 4] = [
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("6h", "6 hours"),
    ("24h", "24 hours"),
];

pub(super) async fn traces(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Query(form): Query<TracesForm>,
) -> Response {
    if let Some(id) = form
        .id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        let id: String = id.chars().filter(char::is_ascii_hexdigit).collect();
        return Redirect::to(&format!("/traces/{id}")).into_response();
    }
    let frame = frame(&s, &caller);
    let ask = Ask::new(s, caller.clone(), "console_traces", &uri);
    let Ok(view) = ask.view() else {
        return forbidden(&caller, "trace data");
    };
    let (status, services) = match ask.fetch(&view, "/api/services").await {
        Ok(answer) => answer,
        Err(resp) => return resp,
    };
    let mut services: Vec<String> = services["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .filter(|s| view.lists_service(s))
        .map(str::to_owned)
        .collect();
    services.sort();
    let service = form
        .service
        .filter(|s| services.contains(s))
        .or_else(|| services.first().cloned());
    let lookback = form
        .lookback
        .filter(|l| LOOKBACKS.iter().any(|(v, _)| v == l))
        .unwrap_or_else(|| "1h".to_owned());
    let errors = form.errors.is_some();
    let operation = form.operation.filter(|o| !o.trim().is_empty());

    let mut body = String::new();
    let _ = write!(
        body,
        r#"<form class="filters" method="get" action="/traces"><label>Service<select name="service">{}</select></label>
<label>Operation<input name="operation" value="{}" placeholder="any"></label>
<label>Window<select name="lookback">{}</select></label>
<label><span><input type="checkbox" name="errors" value="on"{}> errors only</span></label>
<button>Show</button></form>
<form class="filters" method="get" action="/traces"><label>Trace id<input name="id" size="34" placeholder="32 hex digits"></label><button>Open</button></form>"#,
        services
            .iter()
            .map(|s| format!(
                r#"<option{}>{}</option>"#,
                if Some(s) == service.as_ref() {
                    " selected"
                } else {
                    ""
                },
                html::esc(s)
            ))
            .collect::<String>(),
        html::esc(operation.as_deref().unwrap_or_default()),
        LOOKBACKS
            .iter()
            .map(|(v, label)| format!(
                r#"<option value="{v}"{}>{label}</option>"#,
                if *v == lookback { " selected" } else { "" }
            ))
            .collect::<String>(),
        if errors { " checked" } else { "" },
    );
    let Some(service) = service else {
        body.push_str(r#"<p class="empty">No service has traces you may see yet.</p>"#);
        ask.audit(&view.label(), "ok", &Default::default());
        return Html(html::page("Traces", &frame, &body)).into_response();
    };
    // Built before the next await: the serializer is not Send.
    let path = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("service", &service)
            .append_pair("lookback", &lookback)
            .append_pair("limit", "200");
        if let Some(op) = &operation {
            query.append_pair("operation", op);
        }
        if errors {
            query.append_pair("tags", r#"{"error":"true"}"#);
        }
        format!("/api/traces?{}", query.finish())
    };
    let (status2, mut found) = match ask.fetch(&view, &path).await {
        Ok(answer) => answer,
        Err(resp) => return resp,
    };
    let returned = if status.is_success() && status2.is_success() {
        filter_v1_data(&view, &mut found)
    } else {
        Default::default()
    };
    ask.audit(&view.label(), "ok", &returned);
    let mut rows: Vec<waterfall::Summary> = found["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(waterfall::Summary::of)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.duration));
    rows.truncate(20);
    if rows.is_empty() {
        body.push_str(r#"<p class="empty">No traces in this window.</p>"#);
    } else {
        body.push_str(
            r#"<table><caption class="muted">Slowest first</caption><thead><tr><th>Started</th><th>Trace</th><th class="num">Duration</th><th class="num wide">Spans</th><th class="num wide">Hidden</th></tr></thead><tbody>"#,
        );
        for r in &rows {
            let _ = write!(
                body,
                r#"<tr><td>{}</td><td><a href="/traces/{id}">{}</a>{}</td><td class="num">{}</td><td class="num wide">{}</td><td class="num wide">{}</td></tr>"#,
                html::time(r.start),
                html::esc(&r.root),
                if r.errors > 0 {
                    format!(r#" <span class="error">{} errors</span>"#, r.errors)
                } else {
                    String::new()
                },
                html::millis(r.duration),
                r.spans,
                r.hidden,
                id = html::esc(&r.trace_id),
            );
        }
        body.push_str("</tbody></table>");
    }
    Html(html::page("Traces", &frame, &body)).into_response()
}

pub(super) async fn trace(
    State(s): State<QueryState>,
    caller: Principal,
    uri: OriginalUri,
    Path(trace_id): Path<String>,
) -> Response {
    let frame = frame(&s, &caller);
    let ask = Ask::new(s, caller.clone(), "console_trace", &uri);
    let Ok(view) = ask.view() else {
        return forbidden(&caller, "trace data");
    };
    let id: String = trace_id.chars().filter(char::is_ascii_hexdigit).collect();
    let (status, mut body) = match ask.fetch(&view, &format!("/api/traces/{id}")).await {
        Ok(answer) => answer,
        Err(resp) => return resp,
    };
    let returned = if status.is_success() {
        filter_v1_data(&view, &mut body)
    } else {
        Default::default()
    };
    let Some(trace) = body["data"]
        .as_array()
        .and_then(|t| t.first())
        .filter(|_| returned.traces > 0)
    else {
        ask.audit(&view.label(), "not_found", &Default::default());
        let page = html::page(
            "Trace not found",
            &frame,
            &format!(
                r#"<p>No trace <code>{}</code> that you may see. <a href="/traces">Back to the traces</a></p>"#,
                html::esc(&id)
            ),
        );
        return (StatusCode::NOT_FOUND, Html(page)).into_response();
    };
    ask.audit(&view.label(), "ok", &returned);
    let rendered = waterfall::render(trace, returned.hidden.spans);
    Html(html::page(&format!("Trace {}", id), &frame, &rendered)).into_response()
}
