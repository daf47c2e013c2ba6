//! The console: pages people look at, served by the gate at `/` with the same login, role model
//! and filtering as its API (every trace read goes through the caller's view and the audit).
//!
//! - `GET /`: to the first page the viewer may open (in menu order).
//! - `GET /overview`: orders by status, overdue orders, orders placed and shipped, lead time,
//!   active alerts, queues, CRM and MES latency ([`overview`]).
//! - `GET /failure-points`: the eight failure points with their indicators and alert states
//!   ([`failure_points`]).
//! - `GET /orders?q=` and `GET /orders/{order_id}`: the order search and an order's journey
//!   ([`orders`], rendered by [`journey`]).
//! - `GET /traces?service&operation&lookback&errors&id`: the slowest traces of a service in a
//!   window, optionally of one operation or with errors only; `id` opens a trace by its id.
//! - `GET /traces/{trace_id}`: one trace as a waterfall, spans hidden from the viewer shown as a
//!   counted gap ([`traces`]).
//!
//! Pages are rendered here ([`html`], [`waterfall`], [`chart`]); nothing is loaded from
//! elsewhere. Figures come from [`sources`].
//!
//! Who opens what: the overview, staff (`support`, `production`, `sre`, `admin`); the orders,
//! `support` and `admin` (and CRM checks again); the traces, whoever the trace-access policy
//! gives a view; the failure points, `sre` and `admin`. A page outside the viewer's roles is a
//! 403 page, and the menu shows only the pages they may open.

mod chart;
mod drill;
pub mod failure_points;
mod html;
mod journey;
mod orders;
pub mod overview;
pub mod sources;
mod traces;
mod waterfall;

use crate::query::QueryState;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use html::Frame;
use printflow_auth::{Principal, Role};
use sources::Sources;

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
        .route("/orders", get(orders::orders))
        .route("/orders/{order_id}", get(orders::order))
        .route("/traces", get(traces::traces))
        .route("/traces/{trace_id}", get(traces::trace))
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

/// The viewer's own `Authorization` header (the session layer puts a browser's token there),
/// for CRM.
fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
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
    let (banner, body) = tokio::join!(
        drill::banner(&s.sources),
        overview::render(&s.sources, auth)
    );
    let body = banner + &body;
    Html(html::page("Overview", &frame, &body)).into_response()
}

async fn failure_points(State(s): State<ConsoleState>, caller: Principal) -> Response {
    let frame = frame(&s.query, &caller);
    if !caller.has_any(FAILURE_POINTS) {
        return not_for_you(&frame);
    }
    let (banner, body) = tokio::join!(
        drill::banner(&s.sources),
        failure_points::render(&s.sources)
    );
    let body = banner + &body;
    Html(html::page("Failure points", &frame, &body)).into_response()
}

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
