//! The HTTP surface: answers to bad input, readiness and the OpenAPI document.

mod common;

use common::*;
use printflow_contracts::OrderStatus;
use serde_json::{json, Value};
use uuid::Uuid;

fn assert_error(status: u16, body: &Value, expected: u16, code: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_on_every_endpoint() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let unknown = Uuid::now_v7();

    let gets = [
        ("/jobs?status=SHIPPING", 422, "validation_failed"),
        ("/jobs?page=0", 422, "validation_failed"),
        ("/jobs?per_page=0", 422, "validation_failed"),
        ("/jobs?per_page=101", 422, "validation_failed"),
        ("/jobs?page=first", 400, "invalid_query"),
        ("/jobs?per_page=-1", 400, "invalid_query"),
        ("/jobs/not-a-uuid", 400, "invalid_path"),
        ("/jobs/not-a-uuid/events", 400, "invalid_path"),
        ("/orders/42/job", 400, "invalid_path"),
        ("/printers/abc", 400, "invalid_path"),
        ("/printers/99999999999", 400, "invalid_path"),
        ("/printers/999", 404, "not_found"),
        ("/no/such/route", 404, "route_not_found"),
    ];
    for (path, status, code) in gets {
        let (s, body) = app.get(path).await;
        assert_error(s, &body, status, code, path);
    }
    for path in [
        format!("/jobs/{unknown}"),
        format!("/jobs/{unknown}/events"),
        format!("/orders/{unknown}/job"),
    ] {
        let (s, body) = app.get(&path).await;
        assert_error(s, &body, 404, "not_found", &path);
    }
    let (s, body) = app.get("/jobs?status=PRINTING").await;
    assert_eq!(s, 200);
    assert_eq!(
        body,
        json!({"items": [], "page": 1, "per_page": 20, "total": 0})
    );
    let (s, body) = app.get("/jobs?status=shipped&page=2&per_page=5").await;
    assert_eq!(
        (s, &body["page"], &body["per_page"]),
        (200, &json!(2), &json!(5))
    );

    let posts: Vec<(String, Option<Value>, u16, &str)> = vec![
        (
            format!("/jobs/{unknown}/qc"),
            Some(json!({"result": "pass"})),
            404,
            "not_found",
        ),
        (format!("/jobs/{unknown}/retry"), None, 404, "not_found"),
        (
            "/jobs/nope/qc".into(),
            Some(json!({"result": "pass"})),
            400,
            "invalid_path",
        ),
        ("/jobs/nope/retry".into(), None, 400, "invalid_path"),
        (
            format!("/jobs/{unknown}/qc"),
            Some(json!({"result": "maybe"})),
            422,
            "invalid_body",
        ),
        (
            format!("/jobs/{unknown}/qc"),
            Some(json!({})),
            422,
            "invalid_body",
        ),
        (
            format!("/jobs/{unknown}/qc"),
            Some(json!({"result": "pass", "extra": 1})),
            422,
            "invalid_body",
        ),
        (
            format!("/jobs/{unknown}/qc"),
            Some(json!({"result": "fail", "note": 5})),
            422,
            "invalid_body",
        ),
        ("/printers/999/pause".into(), None, 404, "not_found"),
        ("/printers/999/resume".into(), None, 404, "not_found"),
        ("/printers/x/pause".into(), None, 400, "invalid_path"),
        ("/printers/x/resume".into(), None, 400, "invalid_path"),
    ];
    for (path, body, status, code) in posts {
        let (s, answer) = app.post(&path, body).await;
        assert_error(s, &answer, status, code, &path);
    }

    // A note over the limit is refused before the job is even looked up.
    let long = "x".repeat(1_001);
    let (s, body) = app
        .post(
            &format!("/jobs/{unknown}/qc"),
            Some(json!({"result": "fail", "note": long})),
        )
        .await;
    assert_error(s, &body, 422, "validation_failed", "long note");
    assert_eq!(body["field"], "note");

    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = app
            .http
            .post(format!("{}/jobs/{unknown}/qc", app.base))
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let resp = raw("{not json", Some("application/json")).await.unwrap();
    let status = resp.status().as_u16();
    assert_error(
        status,
        &resp.json().await.unwrap(),
        400,
        "malformed_json",
        "bad json",
    );
    let resp = raw(r#"{"result":"pass"}"#, None).await.unwrap();
    let status = resp.status().as_u16();
    assert_error(
        status,
        &resp.json().await.unwrap(),
        415,
        "unsupported_media_type",
        "no type",
    );
    let resp = app
        .http
        .delete(format!("{}/jobs", app.base))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_error(
        status,
        &resp.json().await.unwrap(),
        405,
        "method_not_allowed",
        "DELETE",
    );
    app.stop().await;
}

#[tokio::test]
async fn readiness_reports_database_and_broker() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["broker"], "ok");
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn jobs_list_filters_by_status_and_pages() {
    let shop = FakeShop::start().await;
    // Manual QC: the jobs stop in QUALITY_CHECK, a stable state to list.
    let app = spawn_app(&shop.url, &[("MES_QC_MODE", "manual")]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("list", 10.0);
    shop.put(design, 1, model.clone());
    let orders: Vec<_> = (0..3).map(|_| order_for(design, 1, &model, 60)).collect();
    for o in &orders {
        app.publish(o).await;
    }
    for o in &orders {
        app.wait_status(o.data.order_id, OrderStatus::QualityCheck)
            .await;
    }
    let (_, page1) = app.get("/jobs?status=quality_check&per_page=2").await;
    let (_, page2) = app
        .get("/jobs?status=QUALITY_CHECK&per_page=2&page=2")
        .await;
    assert_eq!(page1["total"], 3);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    let mut listed: Vec<String> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|j| j["order_id"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = orders.iter().map(|o| o.data.order_id.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let (_, none) = app.get("/jobs?status=SHIPPED").await;
    assert_eq!(none["total"], 0);
    app.stop().await;
}

/// `POST /jobs/states`: CRM's reconciler (`job-reader`) reads many orders' jobs at once; an
/// order without a job is absent; an empty or oversized list is refused with the field named;
/// a customer may not read jobs.
#[tokio::test]
async fn job_states_are_read_in_bulk_and_bad_lists_are_refused() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    // Paused printers keep the job ACCEPTED while it is read.
    app.set_printers("pause").await;
    let design = Uuid::now_v7();
    let model = cube_stl("states", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 600);
    let id = order.data.order_id;
    app.publish(&order).await;
    app.wait_status(id, OrderStatus::Accepted).await;

    let crm = printflow_test_support::identity::client_as_service("crm-api").await;
    let resp = crm
        .post(format!("{}/jobs/states", app.base))
        .json(&json!({"order_ids": [id, Uuid::now_v7()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let jobs = body["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{body}");
    assert_eq!(jobs[0]["order_id"], id.to_string());
    assert_eq!(jobs[0]["status"], "ACCEPTED");
    assert_eq!(jobs[0]["sequence"], 1);

    let too_many: Vec<Uuid> = (0..501).map(|_| Uuid::now_v7()).collect();
    for ids in [json!([]), json!(too_many)] {
        let (s, body) = app
            .post("/jobs/states", Some(json!({"order_ids": ids})))
            .await;
        assert_error(s, &body, 422, "validation_failed", "order_ids");
        assert_eq!(body["field"], "order_ids", "{body}");
    }
    let customer = printflow_test_support::identity::client_as_user("alice").await;
    let resp = customer
        .post(format!("{}/jobs/states", app.base))
        .json(&json!({"order_ids": [id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    app.stop().await;
}
