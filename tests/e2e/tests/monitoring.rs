//! Monitoring end to end: the repo's alert rules in a real Prometheus, notifications through a
//! real Alertmanager to the test's webhook, metrics scraped from the real services.

mod common;

use common::{crm_db, port_of, Stack};
use printflow_test_support::{eventually, identity, Monitoring, ScrapeTarget, TestVhost};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first notified alert matching `alertname`, `status` (firing/resolved) and label filters.
async fn wait_alert(
    mon: &Monitoring,
    alertname: &str,
    state: &str,
    labels: &[(&str, &str)],
    timeout: Duration,
) -> Value {
    eventually(
        &format!("{alertname} {state} {labels:?} at the webhook"),
        timeout,
        || async {
            mon.notified_alerts().into_iter().find(|a| {
                a["labels"]["alertname"] == alertname
                    && a["status"] == state
                    && labels.iter().all(|(k, v)| a["labels"][*k] == *v)
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_overstaying_a_status_fires_the_alert_and_its_release_resolves_it() {
    let vhost = TestVhost::new().await;
    let limits =
        "NEW=3600,ACCEPTED=2,PRINTING=3600,POST_PROCESSING=3600,QUALITY_CHECK=3600,READY=3600";
    let stack =
        Stack::start_with(&vhost.amqp_url, &[("CRM_STATUS_LIMITS", limits.to_owned())]).await;
    let mon = Monitoring::start(&[ScrapeTarget::service("crm", port_of(&stack.crm))]).await;

    // Every printer paused: the order waits in ACCEPTED past its 2 s limit.
    stack.set_printers("pause").await;
    let (design, version) = stack.saved_design().await;
    let order_id = stack.place_order(&design, version, 1).await;
    stack
        .wait_for_status(&order_id, "ACCEPTED", Duration::from_secs(30))
        .await;

    let alert = wait_alert(
        &mon,
        "OrderOverstayedStatus",
        "firing",
        &[("status", "ACCEPTED")],
        Duration::from_secs(60),
    )
    .await;
    let description = alert["annotations"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        description.contains(&order_id),
        "alert names the order: {description}"
    );
    assert!(alert["annotations"]["summary"]
        .as_str()
        .unwrap_or_default()
        .contains("ACCEPTED"));

    // Unpausing lets the order move on; the alert resolves and the resolution is notified.
    stack.set_printers("resume").await;
    stack
        .wait_for_status(&order_id, "SHIPPED", Duration::from_secs(60))
        .await;
    wait_alert(
        &mon,
        "OrderOverstayedStatus",
        "resolved",
        &[("status", "ACCEPTED")],
        Duration::from_secs(60),
    )
    .await;

    mon.stop().await;
    stack.shutdown().await;
    vhost.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_fires_the_dead_letter_alert() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    let mon = Monitoring::start(&[
        ScrapeTarget::service("crm", port_of(&stack.crm)),
        ScrapeTarget::rabbitmq_queues(&vhost.name),
    ])
    .await;
    vhost
        .publish_raw("printflow.events", "order.status_changed", "{not json")
        .await;
    let alert = wait_alert(
        &mon,
        "DeadLetterQueueNotEmpty",
        "firing",
        &[("queue", "crm.order_status_changed.dlq")],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(alert["labels"]["vhost"], vhost.name.as_str());
    mon.stop().await;
    stack.shutdown().await;
    vhost.delete().await;
}

/// Starts CRM on `port` and returns its stop token and task.
async fn start_crm(
    db_url: &str,
    amqp: &str,
    port: u16,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let mut env = std::collections::HashMap::from([
        ("CRM_HTTP_PORT", port.to_string()),
        ("CRM_DATABASE_URL", db_url.to_owned()),
        ("CRM_AMQP_URL", amqp.to_owned()),
    ]);
    env.extend(identity::service_env("CRM", "crm-api"));
    let cfg = printflow_crm::config::Config::from_source(&env).unwrap();
    let app = printflow_crm::app::Application::build(cfg).await.unwrap();
    let token = CancellationToken::new();
    let stop = token.clone();
    let task = tokio::spawn(async move {
        app.run(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    (token, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_orders_per_status_gauge_follows_the_database_across_a_restart() {
    let vhost = TestVhost::new().await;
    let db = crm_db().await;
    let port = common::processes::free_port();
    let (token, task) = start_crm(&db.url, &vhost.amqp_url, port).await;
    let mon = Monitoring::start(&[ScrapeTarget::service("crm", port)]).await;
    // Orders reach CRM through the Shop's client only.
    let http = identity::client_as_service("shop-api").await;
    for n in 0..3 {
        let body = json!({
            "order_id": uuid::Uuid::now_v7(),
            "customer": {"name": "Gauge Tester", "email": format!("gauge-{n}@example.test")},
            "design_id": uuid::Uuid::now_v7(), "design_version": 1,
            "model_sha256": "a".repeat(64), "model_size_bytes": 684,
            "estimated_print_seconds": 1000, "material": "PLA", "quantity": 1,
            "shipping": "standard", "total_price_cents": 1000
        });
        let r = http
            .post(format!("http://127.0.0.1:{port}/orders"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let count = |status: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx_count(&pool, status).await }
    };
    eventually(
        "Prometheus sees 3 NEW orders",
        Duration::from_secs(30),
        || async {
            (mon.value(r#"printflow_orders{status="NEW"}"#).await == Some(3.0)).then_some(())
        },
    )
    .await;

    // Down, the database changes behind its back (an operator fixes two orders), and back up.
    token.cancel();
    task.await.unwrap();
    let changed = sqlx_exec(
        &db.pool,
        "UPDATE orders SET status = 'CANCELLED', status_version = status_version + 1
         WHERE id IN (SELECT id FROM orders ORDER BY id LIMIT 2)",
    )
    .await;
    assert_eq!(changed, 2);
    let restarted_at = chrono_now_secs();
    let (token, task) = start_crm(&db.url, &vhost.amqp_url, port).await;

    let new_in_db = count("NEW").await;
    let cancelled_in_db = count("CANCELLED").await;
    assert_eq!((new_in_db, cancelled_in_db), (1, 2));
    eventually("the gauge after the restart matches the database", Duration::from_secs(30), || async {
        let new = mon
            .query(&format!(r#"printflow_orders{{status="NEW"}} and (timestamp(printflow_orders{{status="NEW"}}) > {restarted_at})"#))
            .await
            .ok()?;
        let cancelled = mon.value(r#"printflow_orders{status="CANCELLED"}"#).await?;
        let new: f64 = new.first()?["value"][1].as_str()?.parse().ok()?;
        (new == new_in_db as f64 && cancelled == cancelled_in_db as f64).then_some(())
    })
    .await;

    token.cancel();
    task.await.unwrap();
    mon.stop().await;
    vhost.delete().await;
}

async fn sqlx_count(pool: &sqlx::PgPool, status: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = $1")
        .bind(status)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn sqlx_exec(pool: &sqlx::PgPool, sql: &str) -> u64 {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected()
}

fn chrono_now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
