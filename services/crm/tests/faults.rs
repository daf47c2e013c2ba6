//! The drill faults of the CRM (`printflow_faults`): only an `admin` reaches them, they are off
//! unless `PRINTFLOW_FAULTS=enabled`, and each armed fault does what its drill step relies on.

mod common;

use common::{peek_messages, spawn_app, spawn_app_with, TestApp, WAIT};
use printflow_contracts::OrderStatus;
use printflow_crm::status_events::EventOutcome;
use printflow_messaging::topology::MES_ORDER_CREATED;
use printflow_test_support::eventually;
use printflow_test_support::identity::{client_as_user, metrics_text};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ENABLED: &[(&str, &str)] = &[("PRINTFLOW_FAULTS", "enabled")];

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client.request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `PUT /admin/faults/{name}` as admin `ada`: status and body.
async fn put_fault(t: &TestApp, name: &str, arming: Value) -> (StatusCode, Value) {
    let admin = client_as_user("ada").await;
    call(
        &admin,
        reqwest::Method::PUT,
        t.url(&format!("/admin/faults/{name}")),
        Some(arming),
    )
    .await
}

async fn arm(t: &TestApp, name: &str, arming: Value) -> Value {
    let (status, body) = put_fault(t, name, arming).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn gauge(metrics: &str, fault: &str) -> Option<f64> {
    let prefix = format!("printflow_faults_active{{fault=\"{fault}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn fault_routes_are_admin_only_and_off_by_default() {
    let t = spawn_app().await;
    let url = t.url("/admin/faults");
    let anonymous = reqwest::Client::new();
    assert_eq!(
        call(&anonymous, reqwest::Method::GET, url.clone(), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Support may cancel orders, not break the system.
    let (status, _) = call(&t.staff, reqwest::Method::GET, url.clone(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&t.http, reqwest::Method::GET, url.clone(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a service client");
    let admin = client_as_user("ada").await;
    let (status, body) = call(&admin, reqwest::Method::GET, url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "faults_disabled", "{body}");
    let (status, body) = call(
        &admin,
        reqwest::Method::PUT,
        t.url("/admin/faults/orders.read.stall"),
        Some(json!({"count": 1, "delay_ms": 10})),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("faults_disabled"))
    );
    // Off means off: nothing is armed, so the gauge shows every fault at 0.
    let metrics = metrics_text(&t.app.base).await;
    assert_eq!(gauge(&metrics, "orders.read.stall"), Some(0.0), "{metrics}");
}

#[tokio::test]
async fn an_admin_arms_lists_and_disarms_faults() {
    let t = spawn_app_with(ENABLED).await;
    let admin = client_as_user("ada").await;
    let (status, list) = call(&admin, reqwest::Method::GET, t.url("/admin/faults"), None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "status_event.skip_update",
            "orders.read.stall",
            "outbox.drop.order.created"
        ]
    );

    for (name, arming, field) in [
        ("orders.read.stall", json!({"count": 1}), "delay_ms"),
        ("status_event.skip_update", json!({}), "seconds"),
        ("status_event.skip_update", json!({"seconds": 0}), "seconds"),
        (
            "status_event.skip_update",
            json!({"count": 1, "delay_ms": 5}),
            "delay_ms",
        ),
    ] {
        let (status, body) = put_fault(&t, name, arming).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
    let (status, body) = call(
        &admin,
        reqwest::Method::PUT,
        t.url("/admin/faults/printer.on_fire"),
        Some(json!({"count": 1})),
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("unknown_fault"))
    );

    let armed = arm(
        &t,
        "status_event.skip_update",
        json!({"seconds": 600, "count": 3}),
    )
    .await;
    assert_eq!(armed["active"], true);
    assert_eq!(armed["remaining"], 3);
    assert_eq!(armed["armed_by"], "ada");
    let metrics = metrics_text(&t.app.base).await;
    assert_eq!(
        gauge(&metrics, "status_event.skip_update"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(gauge(&metrics, "orders.read.stall"), Some(0.0), "{metrics}");

    let (status, body) = call(
        &admin,
        reqwest::Method::DELETE,
        t.url("/admin/faults/status_event.skip_update"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["active"], false);
    let metrics = metrics_text(&t.app.base).await;
    assert_eq!(gauge(&metrics, "status_event.skip_update"), Some(0.0));
}

#[tokio::test]
async fn a_skipped_update_leaves_the_order_in_its_old_status() {
    let t = spawn_app_with(ENABLED).await;
    arm(&t, "status_event.skip_update", json!({"count": 1})).await;
    let order = t.create_order().await;
    t.send_status(order.order_id, 1, OrderStatus::Accepted)
        .await;
    let events = t.wait_for_events(order.order_id, 1).await;
    // Recorded as applied, with the drill named; the order itself did not move.
    assert_eq!(events.events[0].outcome, EventOutcome::Applied);
    assert_eq!(events.last_applied_sequence, 1);
    assert_eq!(t.status(order.order_id).await.status, OrderStatus::New);
    // One hit only: the next order's event is applied normally.
    let next = t.create_order().await;
    t.send_status(next.order_id, 1, OrderStatus::Accepted).await;
    t.wait_for_status(next.order_id, OrderStatus::Accepted)
        .await;
}

#[tokio::test]
async fn a_dropped_order_created_is_marked_sent_but_never_published() {
    let t = spawn_app_with(ENABLED).await;
    arm(&t, "outbox.drop.order.created", json!({"count": 1})).await;
    let lost = t.create_order().await;
    let kept = t.create_order().await;
    eventually("both outbox rows marked sent", WAIT, || async {
        let rows = t.outbox_rows().await;
        (rows.len() == 2 && rows.iter().all(|r| r.1)).then_some(())
    })
    .await;
    let messages = peek_messages(&t.vhost, MES_ORDER_CREATED.name, 1).await;
    let ids: Vec<String> = messages
        .iter()
        .map(|m| {
            let payload: Value = serde_json::from_str(m["payload"].as_str().unwrap()).unwrap();
            payload["data"]["order_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids, [kept.order_id.to_string()], "{messages:?}");
    assert_ne!(lost.order_id, kept.order_id);
    let metrics = metrics_text(&t.app.base).await;
    assert!(
        metrics.contains("printflow_faults_injected_total{fault=\"outbox.drop.order.created\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_stalled_status_read_waits_before_answering() {
    let t = spawn_app_with(ENABLED).await;
    let order = t.create_order().await;
    arm(
        &t,
        "orders.read.stall",
        json!({"count": 1, "delay_ms": 1500}),
    )
    .await;
    let started = Instant::now();
    assert_eq!(t.status(order.order_id).await.status, OrderStatus::New);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

/// The reconciler's report is for staff and operations; the repair for admin alone. A service
/// client, production and support (for the repair) are refused.
#[tokio::test]
async fn the_reconciliation_report_and_repair_refuse_other_roles() {
    let t = spawn_app().await;
    let order = t.create_order().await;
    let report = t.url("/reconciliation");
    let repair = t.url(&format!("/orders/{}/repair", order.order_id));
    let anonymous = reqwest::Client::new();
    let (status, _) = call(&anonymous, reqwest::Method::GET, report.clone(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&t.http, reqwest::Method::GET, report.clone(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the Shop's client");
    let production = client_as_user("pat").await;
    let (status, _) = call(&production, reqwest::Method::GET, report, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "production");
    let (status, _) = call(&anonymous, reqwest::Method::POST, repair.clone(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&t.staff, reqwest::Method::POST, repair, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "support may not repair");
}
