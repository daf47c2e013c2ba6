//! `POST /orders`: the order, its history, its `order.created` event on the real broker, and
//! idempotency; plus the outbox surviving a broker outage.

mod common;

use common::{
    order_request, outbox_rows, peek_messages, spawn_app, test_database, Cleanup, Running, WAIT,
};
use printflow_contracts::messages::{decode, OrderCreated, SCHEMA_VERSION};
use printflow_contracts::orders::OrderView;
use printflow_contracts::OrderStatus;
use printflow_crm::customers::CustomerView;
use printflow_crm::orders::read::HistoryView;
use printflow_messaging::topology::MES_ORDER_CREATED;
use printflow_test_support::identity;
use printflow_test_support::{eventually, TestVhost};
use reqwest::StatusCode;

#[tokio::test]
async fn creating_an_order_records_it_and_publishes_order_created_once() {
    let t = spawn_app().await;
    let req = order_request();

    let resp = t.post_order(&req).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let order: OrderView = resp.json().await.unwrap();
    assert_eq!(order.order_id, req.order_id);
    assert_eq!(order.status, OrderStatus::New);
    assert_eq!(order.status_version, 1);
    assert_eq!(
        (order.design_id, order.design_version),
        (req.spec.design_id, req.spec.design_version)
    );
    assert_eq!(
        (order.quantity, order.shipping),
        (req.spec.quantity, req.shipping)
    );
    assert_eq!(order.total_price_cents, req.total_price_cents);
    assert_eq!(order.failure_reason, None);

    let (code, body) = t.get(&format!("/orders/{}/history", req.order_id)).await;
    assert_eq!(code, StatusCode::OK);
    let history: HistoryView = serde_json::from_value(body).unwrap();
    assert_eq!(history.entries.len(), 1);
    let created = &history.entries[0];
    assert_eq!(created.from_status, None);
    assert_eq!(created.to_status, OrderStatus::New);
    assert_eq!(
        (created.status_version, created.source.as_str()),
        (1, "crm")
    );
    assert_eq!(created.source_sequence, None);

    // The event really reaches MES's queue, with the order's data and no personal data.
    let messages = peek_messages(&t.vhost, MES_ORDER_CREATED.name, 1).await;
    assert_eq!(messages.len(), 1);
    let payload = messages[0]["payload"].as_str().unwrap();
    let event = decode::<OrderCreated>(payload.as_bytes()).expect("a valid order.created");
    assert_eq!(event.schema_version, SCHEMA_VERSION);
    assert_eq!(event.schema_version, 1);
    let data = &event.data;
    assert_eq!(data.order_id, req.order_id);
    assert_eq!(data.customer_id, order.customer_id);
    assert_eq!(data.spec, req.spec);
    assert_eq!(data.shipping, req.shipping);
    assert!(
        !payload.contains(&req.customer.email),
        "no e-mail in events"
    );
    assert!(!payload.contains(&req.customer.name), "no name in events");
    assert_eq!(
        messages[0]["properties"]["message_id"].as_str(),
        Some(event.message_id.to_string().as_str())
    );
    let rows = eventually("outbox row marked sent", WAIT, || async {
        let rows = t.outbox_rows().await;
        rows.iter().all(|r| r.1).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, event.message_id);

    // A retry answers 200 with the same order and enqueues nothing.
    let resp = t.post_order(&req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: OrderView = resp.json().await.unwrap();
    assert_eq!(again, order);
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
    assert_eq!(t.outbox_rows().await.len(), 1);
    let history_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM order_status_history")
        .fetch_one(&t.db.pool)
        .await
        .unwrap();
    assert_eq!(history_rows, 1);

    // The same id with other content is a conflict, not a silent overwrite.
    let mut other = req.clone();
    other.spec.quantity += 1;
    let resp = t.post_order(&other).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "order_id_conflict");
    let mut other = req.clone();
    other.spec.design_version += 1;
    assert_eq!(t.post_order(&other).await.status(), StatusCode::CONFLICT);
    assert_eq!(t.outbox_rows().await.len(), 1);
    let (_, body) = t.get(&format!("/orders/{}", req.order_id)).await;
    assert_eq!(body["quantity"], req.spec.quantity);
}

#[tokio::test]
async fn customers_are_matched_on_email_case_insensitively() {
    let t = spawn_app().await;
    let first = order_request();
    let resp = t.post_order(&first).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first_order: OrderView = resp.json().await.unwrap();

    let mut second = order_request();
    second.customer.email = first.customer.email.to_uppercase();
    second.customer.name = "Renamed Customer".into();
    second.customer.phone = None;
    let resp = t.post_order(&second).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let second_order: OrderView = resp.json().await.unwrap();
    assert_eq!(second_order.customer_id, first_order.customer_id);

    let (code, body) = t
        .get(&format!("/customers/{}", first_order.customer_id))
        .await;
    assert_eq!(code, StatusCode::OK);
    let customer: CustomerView = serde_json::from_value(body).unwrap();
    assert_eq!(customer.name, "Renamed Customer");
    // An order without a phone keeps the one we had.
    assert_eq!(customer.phone, first.customer.phone);
    assert_eq!(
        customer.email, first.customer.email,
        "the first spelling is kept"
    );
}

#[tokio::test]
async fn an_order_taken_while_the_broker_is_down_is_delivered_later() {
    let db = test_database().await;
    let _db_cleanup = Cleanup::new(None, Some(&db));
    // A port nothing listens on: the broker is "down" for this instance.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead_broker = format!("amqp://guest:guest@127.0.0.1:{closed_port}/%2f");
    let first = Running::start(&db.url, &dead_broker, &[]).await;
    let http = identity::client_as_service("shop-api").await;

    let req = order_request();
    let resp = http
        .post(format!("{}/orders", first.base))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "orders are taken without a broker"
    );

    let resp = http
        .get(format!("{}/readyz", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert!(body["checks"]["broker"]
        .as_str()
        .unwrap()
        .starts_with("error"));

    // The relay tried, failed, and kept the row.
    let rows = eventually("a failed relay attempt", WAIT, || async {
        let rows = outbox_rows(&db.pool).await;
        rows.iter().any(|r| r.2 > 0).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].1, "not sent while the broker is unreachable");
    first.stop().await;

    // A restarted instance that can reach the broker delivers the pending event.
    let vhost = TestVhost::new().await;
    common::declare_topology(&vhost).await;
    let _vhost_cleanup = Cleanup::new(Some(&vhost), None);
    let second = Running::start(&db.url, &vhost.amqp_url, &[]).await;
    eventually("pending outbox row sent", WAIT, || async {
        outbox_rows(&db.pool)
            .await
            .iter()
            .all(|r| r.1)
            .then_some(())
    })
    .await;
    let messages = peek_messages(&vhost, MES_ORDER_CREATED.name, 1).await;
    assert_eq!(messages.len(), 1);
    let event =
        decode::<OrderCreated>(messages[0]["payload"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(event.data.order_id, req.order_id);
    assert_eq!(event.message_id, rows[0].0);
    second.stop().await;
}
