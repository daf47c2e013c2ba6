//! Order placement through CRM. CRM is replaced by a tiny axum stub started inside each test
//! (the real CRM is covered by the cross-service e2e tests).

mod common;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use common::{assert_error, closed_port, spawn_app_with, TestApp};
use printflow_contracts::orders::{CreateOrderRequest, OrderView, StatusView};
use printflow_contracts::OrderStatus;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How the stub behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Like CRM: records orders, answers 201 / 200 / 404.
    Normal,
    /// Accepts the request and never answers.
    Hang,
    /// Answers 500.
    Fail,
    /// Refuses with 409 and a JSON error body.
    Refuse,
}

#[derive(Clone)]
struct Stub {
    mode: Mode,
    /// Every `POST /orders` body received.
    requests: Arc<Mutex<Vec<Value>>>,
    orders: Arc<Mutex<HashMap<Uuid, OrderView>>>,
}

async fn stub_create(State(stub): State<Stub>, Json(body): Json<Value>) -> Response {
    stub.requests.lock().unwrap().push(body.clone());
    match stub.mode {
        Mode::Hang => futures::future::pending().await,
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::Refuse => (
            StatusCode::CONFLICT,
            Json(json!({"code": "order_conflict", "message": "order id reused with a different body"})),
        )
            .into_response(),
        Mode::Normal => {
            let req: CreateOrderRequest = serde_json::from_value(body).expect("contract body");
            let view = OrderView {
                order_id: req.order_id,
                customer_id: Uuid::new_v4(),
                design_id: req.spec.design_id,
                design_version: req.spec.design_version,
                quantity: req.spec.quantity,
                shipping: req.shipping,
                total_price_cents: req.total_price_cents,
                status: OrderStatus::New,
                status_version: 1,
                status_since: Utc::now(),
                failure_reason: None,
                created_at: Utc::now(),
            };
            stub.orders.lock().unwrap().insert(req.order_id, view.clone());
            (StatusCode::CREATED, Json(view)).into_response()
        }
    }
}

fn not_found(id: Uuid) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"code": "order_not_found", "message": format!("order {id} does not exist")})),
    )
        .into_response()
}

async fn stub_get(State(stub): State<Stub>, Path(id): Path<Uuid>) -> Response {
    if stub.mode == Mode::Hang {
        futures::future::pending::<()>().await;
    }
    let found = stub.orders.lock().unwrap().get(&id).cloned();
    match found {
        Some(view) => Json(view).into_response(),
        None => not_found(id),
    }
}

async fn stub_status(State(stub): State<Stub>, Path(id): Path<Uuid>) -> Response {
    if stub.mode == Mode::Hang {
        futures::future::pending::<()>().await;
    }
    let found = stub.orders.lock().unwrap().get(&id).cloned();
    match found {
        Some(v) => Json(StatusView {
            order_id: v.order_id,
            status: v.status,
            status_version: v.status_version,
            since: v.status_since,
            failure_reason: None,
        })
        .into_response(),
        None => not_found(id),
    }
}

/// Starts the stub on port 0; answers it and its base URL.
async fn start_stub(mode: Mode) -> (Stub, String) {
    let stub = Stub {
        mode,
        requests: Arc::default(),
        orders: Arc::default(),
    };
    let router = Router::new()
        .route("/orders", post(stub_create))
        .route("/orders/{id}", get(stub_get))
        .route("/orders/{id}/status", get(stub_status))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (stub, url)
}

async fn app_with_crm(url: String) -> TestApp {
    spawn_app_with(&[("SHOP_CRM_URL", url), ("SHOP_CRM_TIMEOUT_MS", "300".into())]).await
}

fn order_body(design_id: &Value, version: &Value, quantity: i64, shipping: &str) -> Value {
    json!({
        "design_id": design_id,
        "design_version": version,
        "quantity": quantity,
        "shipping": shipping,
        "customer": {"name": "Ada Lovelace", "email": "ada@example.org", "phone": "+44 20 7946 0000"}
    })
}

#[tokio::test]
async fn an_order_carries_the_versions_checksum_and_a_correct_total() {
    let (stub, url) = start_stub(Mode::Normal).await;
    let app = app_with_crm(url).await;
    let (design, version) = app.saved_box_design().await;
    let (status, order) = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &version["version"], 3, "express"),
        )
        .await;
    assert_eq!(status, 201, "{order}");

    let sent = stub.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let sent = &sent[0];
    assert_eq!(sent["model_sha256"], version["sha256"]);
    assert_eq!(sent["model_size_bytes"], version["size_bytes"]);
    assert_eq!(
        sent["estimated_print_seconds"],
        version["estimated_print_seconds"]
    );
    assert_eq!(sent["material"], version["parameters"]["material"]);
    assert_eq!(sent["design_id"], design["design_id"]);
    assert_eq!(sent["design_version"], 1);
    assert_eq!(sent["quantity"], 3);
    assert_eq!(sent["shipping"], "express");
    let unit = version["unit_price_cents"].as_i64().unwrap();
    assert_eq!(sent["total_price_cents"], unit * 3 + 1499);
    assert_eq!(sent["customer"]["email"], "ada@example.org");
    let order_id: Uuid = sent["order_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(order_id.get_version_num(), 7);

    // The answer is CRM's order view.
    assert_eq!(order["order_id"], order_id.to_string());
    assert_eq!(order["status"], "NEW");
    assert_eq!(order["total_price_cents"], unit * 3 + 1499);

    // Look-ups are proxied; CRM's 404 passes through.
    let (status, fetched) = app.get(&format!("/orders/{order_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, order);
    let (status, st) = app.get(&format!("/orders/{order_id}/status")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (st["status"].as_str(), st["status_version"].as_i64()),
        (Some("NEW"), Some(1))
    );
    let unknown = Uuid::new_v4();
    assert_error(
        &app.get(&format!("/orders/{unknown}")).await,
        404,
        "order_not_found",
        None,
    );
    assert_error(
        &app.get(&format!("/orders/{unknown}/status")).await,
        404,
        "order_not_found",
        None,
    );

    // Pickup has no shipping fee.
    let (status, _) = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &version["version"], 1, "pickup"),
        )
        .await;
    assert_eq!(status, 201);
    let last = stub.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last["total_price_cents"], unit);
}

#[tokio::test]
async fn a_crm_that_never_answers_is_a_504_after_one_retry_with_the_same_order_id() {
    let (stub, url) = start_stub(Mode::Hang).await;
    let app = app_with_crm(url).await;
    let (design, version) = app.saved_box_design().await;
    let started = Instant::now();
    let got = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &version["version"], 1, "standard"),
        )
        .await;
    let elapsed = started.elapsed();
    assert_error(&got, 504, "crm_timeout", None);
    // Two attempts of 300 ms each, nowhere near the 15 s request limit.
    assert!(elapsed >= Duration::from_millis(550), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    let sent = stub.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "expected exactly one retry");
    assert_eq!(sent[0]["order_id"], sent[1]["order_id"]);
    assert!(got.1["message"]
        .as_str()
        .unwrap()
        .contains(sent[0]["order_id"].as_str().unwrap()));

    // Status requests do not hang either (no retry: one deadline).
    let started = Instant::now();
    let placed = sent[0]["order_id"].as_str().unwrap();
    let got = app.get(&format!("/orders/{placed}/status")).await;
    assert_error(&got, 504, "crm_timeout", None);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_crm_is_a_503() {
    let app = app_with_crm(format!("http://127.0.0.1:{}", closed_port().await)).await;
    let (design, version) = app.saved_box_design().await;
    let got = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &version["version"], 1, "standard"),
        )
        .await;
    assert_error(&got, 503, "crm_unavailable", None);
    // Support may look up any order, so the Shop asks CRM, which is not there.
    let id = Uuid::new_v4();
    assert_error(
        &app.get_as("sam", &format!("/orders/{id}")).await,
        503,
        "crm_unavailable",
        None,
    );
    assert_error(
        &app.get_as("sam", &format!("/orders/{id}/status")).await,
        503,
        "crm_unavailable",
        None,
    );
}

#[tokio::test]
async fn crm_failures_and_refusals_are_mapped() {
    let (_, url) = start_stub(Mode::Fail).await;
    let app = app_with_crm(url).await;
    let (design, version) = app.saved_box_design().await;
    let body = order_body(&design["design_id"], &version["version"], 1, "standard");
    assert_error(&app.post("/orders", &body).await, 502, "crm_error", None);

    let (_, url) = start_stub(Mode::Refuse).await;
    let app = app_with_crm(url).await;
    let (design, version) = app.saved_box_design().await;
    let body = order_body(&design["design_id"], &version["version"], 1, "standard");
    assert_error(
        &app.post("/orders", &body).await,
        409,
        "order_conflict",
        None,
    );
}

#[tokio::test]
async fn only_saved_versions_with_their_file_can_be_ordered() {
    let (stub, url) = start_stub(Mode::Normal).await;
    let app = app_with_crm(url).await;
    // Never saved.
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let got = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &json!(1), 1, "standard"),
        )
        .await;
    assert_error(
        &got,
        404,
        "design_version_not_found",
        Some("design_version"),
    );
    // Saved, but not that version; and an unknown design.
    let (design, _) = app.saved_box_design().await;
    let got = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &json!(2), 1, "standard"),
        )
        .await;
    assert_error(&got, 404, "design_version_not_found", None);
    let got = app
        .post(
            "/orders",
            &order_body(&json!(Uuid::new_v4()), &json!(1), 1, "standard"),
        )
        .await;
    assert_error(&got, 404, "design_version_not_found", None);
    // Saved, but the file is gone: refused loudly before CRM hears of it.
    let id = design["design_id"].as_str().unwrap();
    std::fs::remove_file(app.store_dir.join(format!("designs/{id}/v1.stl"))).unwrap();
    let got = app
        .post(
            "/orders",
            &order_body(&design["design_id"], &json!(1), 1, "standard"),
        )
        .await;
    assert_error(&got, 500, "model_file_missing", None);
    assert!(stub.requests.lock().unwrap().is_empty(), "CRM was called");
}

#[tokio::test]
async fn bad_order_bodies_are_4xx_naming_the_field() {
    let (stub, url) = start_stub(Mode::Normal).await;
    let app = app_with_crm(url).await;
    let (design, version) = app.saved_box_design().await;
    let good = order_body(&design["design_id"], &version["version"], 2, "standard");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("quantity", json!(0), "quantity"),
        ("quantity", json!(101), "quantity"),
        ("quantity", json!("two"), "quantity"),
        ("shipping", json!("teleport"), "shipping"),
        ("design_id", json!("not-a-uuid"), "design_id"),
        ("design_version", json!(-1), "design_version"),
        ("design_version", json!(1.5), "design_version"),
        ("design_version", json!(4_294_967_296_i64), "design_version"),
        ("quantity", json!(null), "quantity"),
        ("customer", json!(null), "customer"),
        ("customer", json!(["Ada"]), "customer"),
    ];
    for (key, value, field) in cases {
        let mut body = good.clone();
        body[key] = value;
        assert_error(
            &app.post("/orders", &body).await,
            422,
            "validation_failed",
            Some(field),
        );
    }
    for (key, value) in [
        ("name", json!("")),
        ("name", json!("n".repeat(201))),
        ("email", json!("not-an-email")),
        ("email", json!(null)),
        ("email", json!(42)),
        ("phone", json!("call me maybe")),
        ("phone", json!(12345)),
    ] {
        let mut body = good.clone();
        body["customer"][key] = value;
        let field = format!("customer.{key}");
        assert_error(
            &app.post("/orders", &body).await,
            422,
            "validation_failed",
            Some(&field),
        );
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("shipping");
    let got = app.post("/orders", &missing).await;
    assert_error(&got, 422, "validation_failed", Some("shipping"));
    assert_eq!(got.1["message"], "shipping is required");
    assert_error(
        &app.post("/orders", &json!([1, 2])).await,
        422,
        "invalid_body",
        None,
    );
    let resp = app
        .http
        .post(app.url("/orders"))
        .header("content-type", "application/json")
        .body("{\"quantity\": ")
        .send()
        .await
        .unwrap();
    assert_error(&common::split(resp).await, 400, "malformed_json", None);
    assert!(
        stub.requests.lock().unwrap().is_empty(),
        "CRM was called for a bad body"
    );
}
