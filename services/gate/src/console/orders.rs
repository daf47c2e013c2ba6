//! The order pages' handlers: the search (`/orders?q=`) and one order's journey
//! (`/orders/{order_id}`), for the roles in [`super::ORDERS`]; CRM is asked with the viewer's own
//! token and the trace read through their view ([`super::journey`] renders).

use super::html::{self, Frame};
use super::{authorization, frame, journey, not_for_you, overview, sources, ConsoleState, ORDERS};
use crate::query::Ask;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use printflow_auth::Principal;
use printflow_web::{Path, Query};
use serde::Deserialize;

/// The order search's form.
#[derive(Debug, Deserialize)]
pub(super) struct OrdersForm {
    q: Option<String>,
}

pub(super) async fn orders(
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

pub(super) async fn order(
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
    let created = journey::micros(&order["created_at"]);
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
