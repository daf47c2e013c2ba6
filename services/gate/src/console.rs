//! The console: pages people look at, served by the gate at `/` with the same login, role model
//! and filtering as its API (every trace read goes through the caller's view and the audit).
//!
//! - `GET /`: to the first page the viewer may open (in menu order).
//! - `GET /overview`: orders by status, overdue orders, orders placed and shipped, lead time,
//!   active alerts, queues, CRM and MES latency ([`overview`]).
//! - `GET /failure-points`: the eight failure points with their indicators and alert states
//!   ([`failure_points`]).
//! - `GET /traces?service&operation&lookback&errors&id`: the slowest traces of a service in a
//!   window, optionally of one operation or with errors only; `id` opens a trace by its id.
//! - `GET /traces/{trace_id}`: one trace as a waterfall, spans hidden from the viewer shown as a
//!   counted gap.
//!
//! Pages are rendered here ([`html`], [`waterfall`], [`chart`]); nothing is loaded from
//! elsewhere. Figures come from [`sources`].
//!
//! Who opens what: the overview, staff (`support`, `production`, `sre`, `admin`); the traces,
//! whoever the trace-access policy gives a view; the failure points, `sre` and `admin`. A page
//! outside the viewer's roles is a 403 page, and the menu shows only the pages they may open.

mod chart;
pub mod failure_points;
mod html;
mod journey;
pub mod overview;
pub mod sources;
mod waterfall;

use crate::query::{filter_v1_data, Ask, QueryState};
use axum::extract::{FromRef, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use html::Frame;
use printflow_auth::{Principal, Role};
use printflow_web::{Path, Query};
use serde::Deserialize;
use sources::Sources;
use std::fmt::Write;

/// Who sees the overview: staff.
const OVERVIEW: &[Role] = &[Role::Support, Role::Production, Role::Sre, Role::Admin];
/// Who sees the failure points: operations.
const FAILURE_POINTS: &[Role] = &[Role::Sre, Role::Admin];
/// Who finds orders and follows their journey: those CRM lets read orders and customers (CRM
/// checks again, with the viewer's own token).
const ORDERS: &[Role] = &[Role::Support, Role::Admin];

/// What the console's handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// The trace query side (Jaeger, policy, audit).
    pub query: QueryState,
    /// Prometheus, Alertmanager and CRM.
    pub sources: Sources,
}

impl FromRef<ConsoleState> for QueryState {
    fn from_ref(s: &ConsoleState) -> QueryState {
        s.query.clone()
    }
}

/// The console's routes (authenticated by the caller of this function, like the query API).
pub fn routes(state: ConsoleState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/overview", get(overview))
        .route("/failure-points", get(failure_points))
        .route("/orders", get(orders))
        .route("/orders/{order_id}", get(order))
        .route("/traces", get(traces))
        .route("/traces/{trace_id}", get(trace))
        .with_state(state)
}

/// The frame of the viewer's pages: who they are and the pages they may open.
fn frame(s: &QueryState, caller: &Principal) -> Frame {
    let view = s
        .policy
        .view_for(caller.roles.iter().map(|r| r.as_str()))
        .map(|v| v.label());
    let mut links = Vec::new();
    if caller.has_any(OVERVIEW) {
        links.push(("/overview", "Overview"));
    }
    if caller.has_any(ORDERS) {
        links.push(("/orders", "Orders"));
    }
    if view.is_some() {
        links.push(("/traces", "Traces"));
    }
    if caller.has_any(FAILURE_POINTS) {
        links.push(("/failure-points", "Failure points"));
    }
    Frame {
        who: who(caller, view.as_deref()),
        links,
    }
}

/// `/`: the first page the viewer may open.
async fn home(State(s): State<ConsoleState>, caller: Principal) -> Response {
    match frame(&s.query, &caller).links.first() {
        Some((href, _)) => Redirect::to(href).into_response(),
        None => forbidden(&caller, "the console"),
    }
}

/// The 403 page for a page outside the viewer's roles.
fn not_for_you(frame: &Frame) -> Response {
    let body = "<p>Your roles do not open this page.</p>";
    (
        StatusCode::FORBIDDEN,
        Html(html::page("Not for your role", frame, body)),
    )
        .into_response()
}

async fn overview(
    State(s): State<ConsoleState>,
    caller: Principal,
    headers: HeaderMap,
) -> Response {
    let frame = frame(&s.query, &caller);
    if !caller.has_any(OVERVIEW) {
        return not_for_you(&frame);
    }
    let auth = caller
        .has_any(ORDERS)
        .then(|| authorization(&headers))
        .flatten();
    let body = overview::render(&s.sources, auth).await;
    Html(html::page("Overview", &frame, &body)).into_response()
}

/// The viewer's own `Authorization` header (the session layer puts a browser's token there),
/// for CRM.
fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The order search's form.
#[derive(Debug, Deserialize)]
struct OrdersForm {
    q: Option<String>,
}

async fn orders(
    State(s): State<ConsoleState>,
    caller: Principal,
    headers: HeaderMap,
    Query(form): Query<OrdersForm>,
) -> Response {
    let frame = frame(&s.query, &caller);
    let (true, Some(auth)) = (caller.has_any(ORDERS), authorization(&headers)) else {
        return not_for_you(&frame);
    };
    let wanted = journey::Wanted::parse(form.q.as_deref());
    match journey::search(&s.sources, auth, &wanted).await {
        Err(to) => Redirect::to(&to).into_response(),
        Ok(found) => {
            let body = journey::search_form(form.q.as_deref().unwrap_or_default()) + &found;
            Html(html::page("Orders", &frame, &body)).into_response()
        }
    }
}

async fn order(
    State(s): State<ConsoleState>,
    caller: Principal,
    headers: HeaderMap,
    uri: OriginalUri,
    Path(order_id): Path<String>,
) -> Response {
    let frame = frame(&s.query, &caller);
    let (true, Some(auth)) = (caller.has_any(ORDERS), authorization(&headers)) else {
        return not_for_you(&frame);
    };
    let not_found = |frame: &Frame| {
        let body = format!(
            r#"<p>No order <code>{}</code>. <a href="/orders">Find an order</a></p>"#,
            html::esc(&order_id)
        );
        (
            StatusCode::NOT_FOUND,
            Html(html::page("Order not found", frame, &body)),
        )
            .into_response()
    };
    let Ok(id) = order_id.trim().parse::<uuid::Uuid>() else {
        return not_found(&frame);
    };
    let src = &s.sources;
    let paths = [
        format!("/orders/{id}"),
        format!("/orders/{id}/history"),
        format!("/orders/{id}/events"),
    ];
    let (order, history, events, limits) = tokio::join!(
        src.crm(auth, &paths[0]),
        src.crm(auth, &paths[1]),
        src.crm(auth, &paths[2]),
        src.instant(overview::LIMITS),
    );
    let title = format!("Order {id}");
    let order = match order {
        Ok(a) if a.status.is_success() => a.body,
        Ok(a) if a.status == StatusCode::NOT_FOUND => return not_found(&frame),
        Ok(a) => {
            let body = format!(
                r#"<p class="down" role="status">CRM refused: {}</p>"#,
                html::esc(a.body["message"].as_str().unwrap_or("no reason given"))
            );
            return (a.status, Html(html::page(&title, &frame, &body))).into_response();
        }
        Err(why) => {
            let body = format!(r#"<p class="down" role="status">{}</p>"#, html::esc(&why.0));
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(html::page(&title, &frame, &body)),
            )
                .into_response();
        }
    };
    let ok_body = |a: Result<sources::CrmAnswer, sources::Down>| {
        a.ok().filter(|a| a.status.is_success()).map(|a| a.body)
    };
    let (history, events) = (ok_body(history), ok_body(events));
    let limits: Vec<(String, f64)> = limits
        .unwrap_or_default()
        .into_iter()
        .map(|l| (l.label("status").to_owned(), l.value))
        .collect();
    let created = order["created_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros());
    let roles = caller.roles.iter().map(|r| r.as_str());
    let trace = match s.query.policy.view_for(roles) {
        None => Err("Your roles show no traces.".to_owned()),
        Some(view) => {
            let ask = Ask::new(s.query.clone(), caller.clone(), "console_journey", &uri);
            let found = journey::order_trace(&ask, &view, &id.to_string(), created).await;
            match &found {
                Ok((_, returned)) => ask.audit(&view.label(), "ok", returned),
                Err(_) => ask.audit(&view.label(), "not_found", &Default::default()),
            }
            found
        }
    };
    let body = journey::render(
        &order,
        history.as_ref().unwrap_or(&serde_json::Value::Null),
        events.as_ref(),
        &limits,
        &s.sources.graph_link(overview::LIMITS),
        trace.as_ref().map_err(String::as_str),
    );
    Html(html::page(&title, &frame, &body)).into_response()
}

async fn failure_points(State(s): State<ConsoleState>, caller: Principal) -> Response {
    let frame = frame(&s.query, &caller);
    if !caller.has_any(FAILURE_POINTS) {
        return not_for_you(&frame);
    }
    let body = failure_points::render(&s.sources).await;
    Html(html::page("Failure points", &frame, &body)).into_response()
}

/// The traces page's form.
#[derive(Debug, Deserialize)]
struct TracesForm {
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

fn who(caller: &Principal, view: Option<&str>) -> String {
    let name = caller.username.as_deref().unwrap_or(&caller.subject);
    match view {
        Some(view) => format!("{name} ({view})"),
        None => name.to_owned(),
    }
}

/// The 403 page for someone whose roles open nothing of `what`.
fn forbidden(caller: &Principal, what: &str) -> Response {
    let body = format!("<p>Your roles give no access to {what}.</p>");
    let frame = Frame {
        who: who(caller, None),
        links: Vec::new(),
    };
    (
        StatusCode::FORBIDDEN,
        Html(html::page("No access", &frame, &body)),
    )
        .into_response()
}

async fn traces(
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

async fn trace(
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
