//! `GET /metrics`: the contract's MES metric names in OpenMetrics text, the database-backed
//! gauges equal to the database, and the messaging counters moving with real messages.

mod common;

use common::*;
use printflow_contracts::OrderStatus;
use printflow_messaging::topology::MES_ORDER_CREATED;
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{eventually, identity};
use std::collections::HashMap;
use uuid::Uuid;

/// Every metric the contract names for MES (family names, as in the `# TYPE` lines).
const CONTRACT: [(&str, &str); 9] = [
    ("http_server_request_duration_seconds", "histogram"),
    ("printflow_messages_consumed", "counter"),
    ("printflow_messages_dead_lettered", "counter"),
    ("printflow_outbox_published", "counter"),
    ("printflow_outbox_pending", "gauge"),
    ("printflow_outbox_oldest_pending_age_seconds", "gauge"),
    ("printflow_jobs", "gauge"),
    ("printflow_printer_queue_length", "gauge"),
    ("printflow_printers_paused", "gauge"),
];

async fn scrape(app: &TestApp) -> Scrape {
    // As Prometheus does: with a token of the `prometheus` client.
    let resp = identity::client_as_service("prometheus")
        .await
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(&text).expect("OpenMetrics text")
}

/// Jobs per status as the database has them.
async fn jobs_in_db(app: &TestApp) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT status, count(*) FROM jobs GROUP BY status")
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

fn consumed(scrape: &Scrape, outcome: &str) -> f64 {
    scrape
        .value(
            "printflow_messages_consumed_total",
            &[("queue", MES_ORDER_CREATED.name), ("outcome", outcome)],
        )
        .unwrap_or_else(|| panic!("no consumed series for {outcome}"))
}

#[tokio::test]
async fn metrics_follow_jobs_printers_and_messages() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[("MES_PRINTERS", "2")]).await;

    // A family shows up once it has a series: the HTTP histogram after a first request.
    let printers = app.printer_ids().await;
    let first = scrape(&app).await;
    for (name, kind) in CONTRACT {
        assert_eq!(
            first.types.get(name).map(String::as_str),
            Some(kind),
            "{name} is exposed as a {kind}"
        );
    }
    for outcome in ["ok", "poison", "transient"] {
        assert_eq!(consumed(&first, outcome), 0.0, "{outcome} starts at 0");
    }
    for status in OrderStatus::ALL {
        assert_eq!(
            first.value("printflow_jobs", &[("status", status.as_str())]),
            Some(0.0),
            "{status} shown before any job"
        );
    }
    assert_eq!(first.value("printflow_printers_paused", &[]), Some(0.0));

    // Both printers paused: an order's job waits, ACCEPTED, in one printer's queue.
    for id in &printers {
        let (status, _) = app.post(&format!("/printers/{id}/pause"), None).await;
        assert_eq!(status, 200);
    }
    let design = Uuid::now_v7();
    let model = cube_stl("metrics", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 600);
    app.publish(&order).await;
    let job = app
        .wait_status(order.data.order_id, OrderStatus::Accepted)
        .await;
    let printer_id = job["printer_id"].as_i64().expect("queued on a printer");

    // The ACCEPTED event left through the outbox: published, nothing pending.
    let after = eventually("the ACCEPTED event is published", WAIT, || async {
        let s = scrape(&app).await;
        (s.value("printflow_outbox_published_total", &[]) >= Some(1.0)
            && s.value("printflow_outbox_pending", &[]) == Some(0.0))
        .then_some(s)
    })
    .await;
    assert_eq!(after.value("printflow_printers_paused", &[]), Some(2.0));
    assert_eq!(consumed(&after, "ok"), 1.0);
    assert_eq!(
        after.value("printflow_outbox_oldest_pending_age_seconds", &[]),
        Some(0.0)
    );
    let db = jobs_in_db(&app).await;
    for status in OrderStatus::ALL {
        assert_eq!(
            after.value("printflow_jobs", &[("status", status.as_str())]),
            Some(db.get(status.as_str()).copied().unwrap_or(0) as f64),
            "{status} equals the database"
        );
    }
    let (_, printer_views) = app.get("/printers").await;
    for view in printer_views.as_array().unwrap() {
        let name = view["name"].as_str().unwrap();
        let expected = if view["id"].as_i64() == Some(printer_id) {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            after.value("printflow_printer_queue_length", &[("printer", name)]),
            Some(expected),
            "queue of {name}"
        );
        assert_eq!(view["queue_length"].as_f64(), Some(expected));
    }

    // A poison message: consumed as poison, parked once on the dead-letter queue.
    app.publish_body(Uuid::now_v7(), b"{not json".to_vec())
        .await;
    let poisoned = eventually("the poison message is dead-lettered", WAIT, || async {
        let s = scrape(&app).await;
        (s.value(
            "printflow_messages_dead_lettered_total",
            &[("queue", MES_ORDER_CREATED.name)],
        ) == Some(1.0))
        .then_some(s)
    })
    .await;
    assert_eq!(consumed(&poisoned, "poison"), 1.0);
    assert_eq!(consumed(&poisoned, "ok"), 1.0);
    assert_eq!(
        app.drain(&MES_ORDER_CREATED.dead_letter_queue(), 1)
            .await
            .len(),
        1
    );

    // The HTTP histogram saw the operator's requests under their route templates.
    assert_eq!(
        poisoned.value(
            "http_server_request_duration_seconds_count",
            &[
                ("method", "POST"),
                ("route", "/printers/{id}/pause"),
                ("status_class", "2xx"),
            ],
        ),
        Some(printers.len() as f64)
    );
    app.stop().await;
}
