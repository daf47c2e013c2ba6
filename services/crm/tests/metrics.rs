//! `GET /metrics`: the contract's CRM metric names in OpenMetrics text; orders per status equal
//! to the database, also right after a restart; overdue orders against `CRM_STATUS_LIMITS`;
//! status durations, lead time and event outcomes observed as MES events are applied; the
//! messaging counters moving with valid and poison messages.

mod common;

use common::*;
use printflow_contracts::OrderStatus;
use printflow_messaging::topology::CRM_ORDER_STATUS_CHANGED;
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{eventually, identity};
use reqwest::StatusCode;
use std::collections::HashMap;

/// Every metric the contract names for CRM that exists without overdue orders (family names,
/// as in the `# TYPE` lines). `printflow_order_overdue_age_seconds` has a series only per
/// overdue order; the overdue test checks it.
const CONTRACT: [(&str, &str); 14] = [
    ("http_server_request_duration_seconds", "histogram"),
    ("printflow_messages_consumed", "counter"),
    ("printflow_messages_dead_lettered", "counter"),
    ("printflow_outbox_published", "counter"),
    ("printflow_outbox_pending", "gauge"),
    ("printflow_outbox_oldest_pending_age_seconds", "gauge"),
    ("printflow_orders", "gauge"),
    ("printflow_order_oldest_status_age_seconds", "gauge"),
    ("printflow_order_status_duration_seconds", "histogram"),
    ("printflow_order_lead_time_seconds", "histogram"),
    ("printflow_status_events", "counter"),
    ("printflow_order_status_limit_seconds", "gauge"),
    ("printflow_orders_overdue", "gauge"),
    ("printflow_orders_created", "counter"),
];

/// Scrapes as Prometheus does: with a token of the `prometheus` client.
async fn scrape_at(base: &str) -> Scrape {
    let http = identity::client_as_service("prometheus").await;
    let resp = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(&text).expect("OpenMetrics text")
}

async fn scrape(t: &TestApp) -> Scrape {
    scrape_at(&t.app.base).await
}

/// Orders per status as the database has them.
async fn orders_in_db(t: &TestApp) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT status, count(*) FROM orders GROUP BY status")
        .fetch_all(&t.db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

fn assert_orders_match(scrape: &Scrape, db: &HashMap<String, i64>, when: &str) {
    for status in OrderStatus::ALL {
        assert_eq!(
            scrape.value("printflow_orders", &[("status", status.as_str())]),
            Some(db.get(status.as_str()).copied().unwrap_or(0) as f64),
            "{when}: printflow_orders{{status=\"{status}\"}} equals the database"
        );
    }
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .value(name, labels)
        .unwrap_or_else(|| panic!("no series {name}{labels:?}"))
}

fn consumed(scrape: &Scrape, outcome: &str) -> f64 {
    value(
        scrape,
        "printflow_messages_consumed_total",
        &[
            ("queue", CRM_ORDER_STATUS_CHANGED.name),
            ("outcome", outcome),
        ],
    )
}

#[tokio::test]
async fn orders_per_status_equal_the_database_also_right_after_a_restart() {
    let t = spawn_app().await;
    let first = scrape(&t).await;
    for (name, kind) in CONTRACT {
        assert_eq!(
            first.types.get(name).map(String::as_str),
            Some(kind),
            "{name} is exposed as a {kind}"
        );
    }
    assert_orders_match(&first, &HashMap::new(), "empty database");

    assert_eq!(value(&first, "printflow_orders_created_total", &[]), 0.0);
    let first_request = order_request();
    let printing = first_request.order_id;
    assert_eq!(
        t.post_order(&first_request).await.status(),
        StatusCode::CREATED
    );
    // A repeat of an order is not a new one.
    assert_eq!(t.post_order(&first_request).await.status(), StatusCode::OK);
    let accepted = t.create_order().await.order_id;
    let cancelled = t.create_order().await.order_id;
    let _new = t.create_order().await.order_id;
    t.send_status(printing, 1, OrderStatus::Accepted).await;
    t.send_status(printing, 2, OrderStatus::Printing).await;
    t.send_status(accepted, 1, OrderStatus::Accepted).await;
    let (code, _) = t.post_empty(&format!("/orders/{cancelled}/cancel")).await;
    assert_eq!(code, StatusCode::OK);
    t.wait_for_status(printing, OrderStatus::Printing).await;
    t.wait_for_status(accepted, OrderStatus::Accepted).await;

    let db = orders_in_db(&t).await;
    assert_eq!(db.values().sum::<i64>(), 4);
    let live = scrape(&t).await;
    assert_orders_match(&live, &db, "live");
    assert_eq!(value(&live, "printflow_orders_created_total", &[]), 4.0);
    assert_eq!(consumed(&live, "ok"), 3.0);
    assert_eq!(
        value(
            &live,
            "printflow_status_events_total",
            &[("outcome", "applied")]
        ),
        3.0
    );
    // Three orders left NEW (two by MES events, one cancelled), one left ACCEPTED.
    let left = |status: &str| {
        value(
            &live,
            "printflow_order_status_duration_seconds_count",
            &[("status", status)],
        )
    };
    assert_eq!((left("NEW"), left("ACCEPTED")), (3.0, 1.0));
    // The NEW order has been waiting since it was created; nothing was ever SHIPPED.
    assert!(
        value(
            &live,
            "printflow_order_oldest_status_age_seconds",
            &[("status", "NEW")]
        ) > 0.0
    );
    assert_eq!(
        value(
            &live,
            "printflow_order_oldest_status_age_seconds",
            &[("status", "SHIPPED")]
        ),
        0.0
    );
    // The four order.created events and the one order.cancelled went out through the outbox.
    let relayed = eventually("the events relayed", WAIT, || async {
        let s = scrape(&t).await;
        (value(&s, "printflow_outbox_published_total", &[]) == 5.0
            && value(&s, "printflow_outbox_pending", &[]) == 0.0)
            .then_some(s)
    })
    .await;
    assert_eq!(
        value(&relayed, "printflow_outbox_oldest_pending_age_seconds", &[]),
        0.0
    );

    // A restart: a new CRM on the same database knows the numbers at its first scrape.
    let TestApp {
        app,
        db,
        vhost,
        http,
        staff,
        cleanup,
    } = t;
    app.stop().await;
    let restarted = Running::start(&db.url, &vhost.amqp_url, &[]).await;
    let after_restart = scrape_at(&restarted.base).await;
    let t = TestApp {
        app: restarted,
        db,
        vhost,
        http,
        staff,
        cleanup,
    };
    assert_orders_match(&after_restart, &orders_in_db(&t).await, "after a restart");
    t.app.stop().await;
}

#[tokio::test]
async fn an_order_left_in_new_beyond_its_limit_is_overdue_until_it_moves_on() {
    let t = spawn_app_with(&[("CRM_STATUS_LIMITS", "NEW=1")]).await;
    let before = scrape(&t).await;
    assert_eq!(
        value(
            &before,
            "printflow_order_status_limit_seconds",
            &[("status", "NEW")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &before,
            "printflow_order_status_limit_seconds",
            &[("status", "PRINTING")]
        ),
        172_800.0,
        "unnamed statuses keep the production default"
    );
    assert_eq!(
        before.value(
            "printflow_order_status_limit_seconds",
            &[("status", "SHIPPED")]
        ),
        None
    );
    assert_eq!(
        value(&before, "printflow_orders_overdue", &[("status", "NEW")]),
        0.0
    );

    let order = t.create_order().await.order_id;
    let id = order.to_string();
    let overdue = eventually("the NEW order is overdue", WAIT, || async {
        let s = scrape(&t).await;
        (s.value("printflow_orders_overdue", &[("status", "NEW")]) == Some(1.0)).then_some(s)
    })
    .await;
    assert_eq!(
        overdue
            .types
            .get("printflow_order_overdue_age_seconds")
            .map(String::as_str),
        Some("gauge")
    );
    let age = value(
        &overdue,
        "printflow_order_overdue_age_seconds",
        &[("status", "NEW"), ("order_id", &id)],
    );
    assert!(age >= 1.0, "overdue after its 1 s limit: {age}");
    assert!(
        value(
            &overdue,
            "printflow_order_oldest_status_age_seconds",
            &[("status", "NEW")]
        ) >= age
    );

    // Accepted by MES: no longer overdue, and its series is gone.
    t.send_status(order, 1, OrderStatus::Accepted).await;
    t.wait_for_status(order, OrderStatus::Accepted).await;
    let moved = scrape(&t).await;
    assert_eq!(
        value(&moved, "printflow_orders_overdue", &[("status", "NEW")]),
        0.0
    );
    assert_eq!(
        moved
            .matching("printflow_order_overdue_age_seconds", &[("order_id", &id)])
            .count(),
        0
    );
    assert_eq!(
        value(
            &moved,
            "printflow_orders_overdue",
            &[("status", "ACCEPTED")]
        ),
        0.0,
        "ACCEPTED keeps its 30 min default"
    );
}

#[tokio::test]
async fn driving_an_order_to_shipped_observes_every_status_left_and_the_lead_time() {
    let t = spawn_app().await;
    let order = t.create_order().await.order_id;
    let path = [
        OrderStatus::Accepted,
        OrderStatus::Printing,
        OrderStatus::PostProcessing,
        OrderStatus::QualityCheck,
        OrderStatus::Ready,
        OrderStatus::Shipped,
    ];
    // Sequence 2 first: it waits for 1 (pending), then both apply; 1 is then delivered again.
    t.send_status(order, 2, path[1]).await;
    t.wait_for_events(order, 1).await;
    let first = t.send_status(order, 1, path[0]).await;
    t.wait_for_status(order, OrderStatus::Printing).await;
    t.publish(&first).await;
    t.wait_for_events(order, 3).await;
    for (i, status) in path.iter().enumerate().skip(2) {
        t.send_status(order, i as i64 + 1, *status).await;
    }
    t.wait_for_status(order, OrderStatus::Shipped).await;

    let s = scrape(&t).await;
    let events =
        |outcome: &str| value(&s, "printflow_status_events_total", &[("outcome", outcome)]);
    assert_eq!(
        (events("applied"), events("pending"), events("duplicate")),
        (6.0, 1.0, 1.0)
    );
    assert_eq!((events("stale"), events("rejected")), (0.0, 0.0));
    assert_eq!(consumed(&s, "ok"), 7.0);

    let mut in_statuses = 0.0;
    for left in [OrderStatus::New].iter().chain(&path[..5]) {
        let labels = [("status", left.as_str())];
        assert_eq!(
            value(&s, "printflow_order_status_duration_seconds_count", &labels),
            1.0,
            "{left} was left once"
        );
        in_statuses += value(&s, "printflow_order_status_duration_seconds_sum", &labels);
    }
    assert_eq!(
        value(&s, "printflow_order_lead_time_seconds_count", &[]),
        1.0
    );
    let lead = value(&s, "printflow_order_lead_time_seconds_sum", &[]);
    let (in_db,): (f64,) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM status_since - created_at)::float8 FROM orders WHERE id = $1",
    )
    .bind(order)
    .fetch_one(&t.db.pool)
    .await
    .unwrap();
    assert!(
        (lead - in_db).abs() < 1e-3,
        "lead time {lead} s, database {in_db} s"
    );
    assert!(
        (lead - in_statuses).abs() < 1e-3,
        "the statuses' times ({in_statuses} s) add up to the lead time ({lead} s)"
    );

    // A poison message: counted, parked once on the dead-letter queue; a valid one still works.
    t.publish_body("{\"not\": \"an envelope\"}").await;
    let poisoned = eventually("the poison message is dead-lettered", WAIT, || async {
        let s = scrape(&t).await;
        (s.value(
            "printflow_messages_dead_lettered_total",
            &[("queue", CRM_ORDER_STATUS_CHANGED.name)],
        ) == Some(1.0))
        .then_some(s)
    })
    .await;
    assert_eq!(consumed(&poisoned, "poison"), 1.0);
    assert_eq!(
        peek_messages(&t.vhost, &CRM_ORDER_STATUS_CHANGED.dead_letter_queue(), 1)
            .await
            .len(),
        1
    );
    let other = t.create_order().await.order_id;
    t.send_status(other, 1, OrderStatus::Accepted).await;
    t.wait_for_status(other, OrderStatus::Accepted).await;
    let after = scrape(&t).await;
    assert_eq!(consumed(&after, "ok"), 8.0);
    assert_eq!(consumed(&after, "transient"), 0.0);
    assert_eq!(
        value(
            &after,
            "printflow_messages_dead_lettered_total",
            &[("queue", CRM_ORDER_STATUS_CHANGED.name)]
        ),
        1.0
    );
}
