//! The HTTP surface: cancellation, listing, error answers, the OpenAPI document and the query
//! timeout that keeps status requests from hanging.

mod common;

use common::{order_request, peek_messages, spawn_app, spawn_app_with};
use printflow_contracts::messages::decode;
use printflow_contracts::orders::OrderView;
use printflow_contracts::OrderCancelled;
use printflow_contracts::OrderStatus;
use printflow_crm::orders::list::OrderPage;
use printflow_crm::orders::read::HistoryView;
use printflow_crm::status_events::EventOutcome;
use printflow_messaging::topology::MES_ORDER_CANCELLED;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[tokio::test]
async fn cancel_is_allowed_only_before_printing() {
    let t = spawn_app().await;

    // NEW -> CANCELLED.
    let order = t.create_order().await;
    let (code, body) = t
        .post_empty(&format!("/orders/{}/cancel", order.order_id))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let cancelled: OrderView = serde_json::from_value(body).unwrap();
    assert_eq!(
        (cancelled.status, cancelled.status_version),
        (OrderStatus::Cancelled, 2)
    );
    let (_, body) = t.get(&format!("/orders/{}/history", order.order_id)).await;
    let history: HistoryView = serde_json::from_value(body).unwrap();
    let last = history.entries.last().unwrap();
    assert_eq!(
        (last.from_status, last.to_status),
        (Some(OrderStatus::New), OrderStatus::Cancelled)
    );
    assert_eq!((last.source.as_str(), last.source_sequence), ("crm", None));

    // Twice is a conflict naming the current status.
    let (code, body) = t
        .post_empty(&format!("/orders/{}/cancel", order.order_id))
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(body["code"], "cancellation_not_allowed");
    assert!(body["message"].as_str().unwrap().contains("CANCELLED"));

    // A later MES event cannot revive it.
    t.send_status(order.order_id, 1, OrderStatus::Accepted)
        .await;
    let inbox = t.wait_for_events(order.order_id, 1).await;
    assert_eq!(inbox.events[0].outcome, EventOutcome::Rejected);
    assert_eq!(
        inbox.events[0].reason.as_deref(),
        Some("illegal transition CANCELLED -> ACCEPTED")
    );
    assert_eq!(
        t.status(order.order_id).await.status,
        OrderStatus::Cancelled
    );

    // ACCEPTED may still be cancelled; PRINTING may not.
    let accepted = t.create_order().await.order_id;
    t.send_status(accepted, 1, OrderStatus::Accepted).await;
    t.wait_for_status(accepted, OrderStatus::Accepted).await;
    let (code, _) = t.post_empty(&format!("/orders/{accepted}/cancel")).await;
    assert_eq!(code, StatusCode::OK);
    // MES is told, through the outbox, for both cancelled orders.
    let messages = peek_messages(&t.vhost, MES_ORDER_CANCELLED.name, 2).await;
    let told: BTreeSet<Uuid> = messages
        .iter()
        .map(|m| {
            let body = m["payload"].as_str().unwrap().as_bytes();
            decode::<OrderCancelled>(body)
                .expect("a valid order.cancelled")
                .data
                .order_id
        })
        .collect();
    assert_eq!(told, BTreeSet::from([order.order_id, accepted]));
    // MES stops the job and says so: applied as a confirmation, nothing changes.
    t.send_status(accepted, 2, OrderStatus::Cancelled).await;
    let inbox = t.wait_for_events(accepted, 2).await;
    assert_eq!(inbox.events[1].outcome, EventOutcome::Applied);
    assert_eq!(
        inbox.events[1].reason.as_deref(),
        Some("confirms the cancellation made in CRM")
    );
    let (_, body) = t.get(&format!("/orders/{accepted}/history")).await;
    let history: HistoryView = serde_json::from_value(body).unwrap();
    assert_eq!(
        history.entries.len(),
        3,
        "created, accepted, cancelled by CRM"
    );
    assert_eq!(history.entries[2].source, "crm");

    let printing = t.create_order().await.order_id;
    t.send_status(printing, 1, OrderStatus::Accepted).await;
    t.send_status(printing, 2, OrderStatus::Printing).await;
    t.wait_for_status(printing, OrderStatus::Printing).await;
    let (code, body) = t.post_empty(&format!("/orders/{printing}/cancel")).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(body["message"].as_str().unwrap().contains("PRINTING"));
    assert_eq!(t.status(printing).await.status, OrderStatus::Printing);

    let (code, body) = t
        .post_empty(&format!("/orders/{}/cancel", Uuid::now_v7()))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn orders_are_listed_by_status_and_paged() {
    let t = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(t.create_order().await.order_id);
    }
    let cancelled: BTreeSet<Uuid> = ids[..2].iter().copied().collect();
    for id in &cancelled {
        let (code, _) = t.post_empty(&format!("/orders/{id}/cancel")).await;
        assert_eq!(code, StatusCode::OK);
    }
    let still_new: BTreeSet<Uuid> = ids[2..].iter().copied().collect();

    let page = |query: String| {
        let t = &t;
        async move {
            let (code, body) = t.get(&format!("/orders?{query}")).await;
            assert_eq!(code, StatusCode::OK, "{query}: {body}");
            serde_json::from_value::<OrderPage>(body).unwrap()
        }
    };
    let mut seen = BTreeSet::new();
    for (n, expected_len) in [(1u32, 2usize), (2, 1), (3, 0)] {
        let p = page(format!("status=NEW&per_page=2&page={n}")).await;
        assert_eq!((p.page, p.per_page, p.total), (n, 2, 3));
        assert_eq!(p.items.len(), expected_len);
        assert!(p.items.iter().all(|o| o.status == OrderStatus::New));
        assert!(
            p.items
                .windows(2)
                .all(|w| w[0].created_at >= w[1].created_at),
            "newest first"
        );
        seen.extend(p.items.iter().map(|o| o.order_id));
    }
    assert_eq!(seen, still_new);

    let p = page("status=cancelled".into()).await;
    assert_eq!(p.total, 2);
    assert_eq!(
        p.items.iter().map(|o| o.order_id).collect::<BTreeSet<_>>(),
        cancelled
    );
    let p = page(String::new()).await;
    assert_eq!((p.total, p.items.len(), p.page, p.per_page), (5, 5, 1, 20));
    let p = page("status=PRINTING".into()).await;
    assert_eq!((p.total, p.items.len()), (0, 0));

    for (query, field) in [
        ("status=LOST", "status"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
    ] {
        let (code, body) = t.get(&format!("/orders?{query}")).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(body["field"], field, "{query}");
    }
    let (_, body) = t.get("/orders?status=LOST").await;
    let message = body["message"].as_str().unwrap();
    assert!(
        OrderStatus::ALL
            .iter()
            .all(|s| message.contains(s.as_str())),
        "{message}"
    );
}

#[tokio::test]
async fn orders_are_listed_by_customer_id_or_email() {
    let t = spawn_app().await;
    let first = order_request();
    let mut second = order_request();
    second.customer = first.customer.clone();
    for req in [&first, &second] {
        assert_eq!(t.post_order(req).await.status(), StatusCode::CREATED);
    }
    let _someone_else = t.create_order().await;
    let (code, _) = t
        .post_empty(&format!("/orders/{}/cancel", first.order_id))
        .await;
    assert_eq!(code, StatusCode::OK);
    let ids = |body: &serde_json::Value| -> BTreeSet<Uuid> {
        let page: OrderPage = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(page.total, page.items.len() as i64);
        page.items.iter().map(|o| o.order_id).collect()
    };
    let both = BTreeSet::from([first.order_id, second.order_id]);

    let email = first.customer.email.to_uppercase();
    let query: String = form_urlencoded_pair("customer", &email);
    let (code, body) = t.get(&format!("/orders?{query}")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), both, "the e-mail matches ignoring case");
    let customer_id = body["items"][0]["customer_id"].as_str().unwrap().to_owned();
    let (_, body) = t.get(&format!("/orders?customer={customer_id}")).await;
    assert_eq!(ids(&body), both);
    let (_, body) = t
        .get(&format!("/orders?customer={customer_id}&status=cancelled"))
        .await;
    assert_eq!(ids(&body), BTreeSet::from([first.order_id]));
    let (_, body) = t.get("/orders?customer=nobody%40example.org").await;
    assert_eq!(
        ids(&body),
        BTreeSet::new(),
        "an unknown customer has no orders"
    );
    for bad in ["nobody", "%40example.org"] {
        let (code, body) = t.get(&format!("/orders?customer={bad}")).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["field"], "customer");
    }
}

/// `name=value`, URL-encoded.
fn form_urlencoded_pair(name: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    format!("{name}={encoded}")
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let t = spawn_app().await;
    let order = t.create_order().await;
    let unknown = Uuid::now_v7();

    for suffix in ["", "/status", "/history", "/events"] {
        let (code, body) = t.get(&format!("/orders/not-a-uuid{suffix}")).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_path"))
        );
        let (code, body) = t.get(&format!("/orders/{unknown}{suffix}")).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{suffix}"
        );
        let (code, _) = t.get(&format!("/orders/{}{suffix}", order.order_id)).await;
        assert_eq!(code, StatusCode::OK, "{suffix}");
    }
    let (code, _) = t.post_empty("/orders/not-a-uuid/cancel").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _) = t.get("/customers/42").await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, body) = t.get(&format!("/customers/{unknown}")).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    // Bodies.
    let post_raw = |body: &'static str, content_type: Option<&'static str>| {
        let t = &t;
        async move {
            let mut req = t.http.post(t.url("/orders")).body(body);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let resp = req.send().await.unwrap();
            let code = resp.status();
            (code, resp.json::<Value>().await.unwrap())
        }
    };
    let (code, body) = post_raw("{\"order_id\":", Some("application/json")).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (code, _) = post_raw("{}", None).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (code, body) = post_raw("{\"order_id\": \"x\"}", Some("application/json")).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );

    // Validation names the field.
    type Breakage = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Breakage)> = vec![
        ("quantity", Box::new(|v| v["quantity"] = json!(0))),
        ("quantity", Box::new(|v| v["quantity"] = json!(101))),
        (
            "customer.name",
            Box::new(|v| v["customer"]["name"] = json!("")),
        ),
        (
            "customer.name",
            Box::new(|v| v["customer"]["name"] = json!("n".repeat(201))),
        ),
        (
            "customer.email",
            Box::new(|v| v["customer"]["email"] = json!("not-an-email")),
        ),
        (
            "model_sha256",
            Box::new(|v| v["model_sha256"] = json!("abc")),
        ),
        (
            "model_size_bytes",
            Box::new(|v| v["model_size_bytes"] = json!(0)),
        ),
        (
            "estimated_print_seconds",
            Box::new(|v| v["estimated_print_seconds"] = json!(-5)),
        ),
        (
            "total_price_cents",
            Box::new(|v| v["total_price_cents"] = json!(0)),
        ),
        (
            "design_version",
            Box::new(|v| v["design_version"] = json!(0)),
        ),
        // Only the material codes of the shared list are printable.
        ("material", Box::new(|v| v["material"] = json!("wood"))),
        ("quantity", Box::new(|v| v["quantity"] = json!(101))),
    ];
    for (field, break_it) in cases {
        let mut body = serde_json::to_value(order_request()).unwrap();
        break_it(&mut body);
        let resp = t
            .http
            .post(t.url("/orders"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["code"], "validation_failed");
        assert_eq!(err["field"], field);
    }
    let (_, page) = t.get("/orders").await;
    assert_eq!(page["total"], 1, "no invalid order was stored");

    // Wrong method, unknown route.
    let resp = t
        .http
        .delete(t.url(&format!("/orders/{}", order.order_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );
    let resp = t.http.put(t.url("/orders")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (code, body) = t.get("/no/such/route").await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("route_not_found"))
    );
}

#[tokio::test]
async fn a_hung_status_query_answers_503_instead_of_hanging() {
    let t = spawn_app_with(&[("CRM_QUERY_TIMEOUT_MS", "300")]).await;
    let order = t.create_order().await;

    // Something holds the orders table (a stuck migration, a runaway transaction).
    let mut blocker = t.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let started = Instant::now();
    let (code, body) = t.get(&format!("/orders/{}/status", order.order_id)).await;
    let waited = started.elapsed();
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "query_timeout");
    assert!(
        waited >= Duration::from_millis(300),
        "the timeout was applied: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "answered promptly: {waited:?}"
    );
    blocker.rollback().await.unwrap();

    assert_eq!(t.status(order.order_id).await.status, OrderStatus::New);
}
