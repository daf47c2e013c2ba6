//! Least privilege below the services, on the real RabbitMQ and PostgreSQL: each service's broker
//! user may declare the topology and read only its own queue (the permissions of
//! `config/rabbitmq/permissions`, applied to a vhost of this test), and each service's database
//! role (created by `scripts/infra.sh`) owns its database and nothing else.

use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use printflow_test_support::rabbit::management;
use printflow_test_support::TestVhost;
use reqwest::Method;
use serde_json::json;
use sqlx::Connection as _;

/// (user, configure, write, read) from the permissions file.
fn permissions() -> Vec<(String, String, String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/rabbitmq/permissions"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "user configure write read: {l}");
            (f[0].into(), f[1].into(), f[2].into(), f[3].into())
        })
        .collect()
}

/// A user of this test with `perms` on `vhost`; its AMQP URL.
async fn user_with(
    vhost: &TestVhost,
    name: &str,
    perms: &(String, String, String, String),
) -> String {
    let resp = management(Method::PUT, &format!("/api/users/{name}"))
        .json(&json!({"password": "test-only-password", "tags": ""}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "create user: {}", resp.status());
    let resp = management(
        Method::PUT,
        &format!("/api/permissions/{}/{name}", vhost.name),
    )
    .json(&json!({"configure": perms.1, "write": perms.2, "read": perms.3}))
    .send()
    .await
    .unwrap();
    assert!(
        resp.status().is_success(),
        "set permissions: {}",
        resp.status()
    );
    let port = vhost.amqp_url.rsplit_once('@').unwrap().1.to_owned();
    format!("amqp://{name}:test-only-password@{port}")
}

async fn delete_user(name: &str) {
    let _ = management(Method::DELETE, &format!("/api/users/{name}"))
        .send()
        .await;
}

/// Whether `user_url` may consume `queue` (a refusal closes the channel with 403).
async fn may_consume(url: &str, queue: &str) -> bool {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let ok = channel
        .basic_consume(
            queue.into(),
            "probe".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .is_ok();
    let _ = conn.close(0, "done".into()).await;
    ok
}

/// Whether `user_url` may publish to `exchange` (a confirm-mode publish: a refusal closes the
/// channel with 403 before the confirm).
async fn may_publish(url: &str, exchange: &str, routing_key: &str) -> bool {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let published = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        )
        .await;
    let ok = match published {
        Ok(confirm) => confirm.await.is_ok(),
        Err(_) => false,
    };
    let _ = conn.close(0, "done".into()).await;
    ok
}

#[tokio::test]
async fn each_service_user_reads_only_its_own_queue() {
    let vhost = TestVhost::new().await;
    let perms = permissions();
    assert_eq!(
        perms.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["printflow-crm", "printflow-mes"]
    );
    let pid = std::process::id();
    for (own, other, p) in [
        ("crm.order_status_changed", "mes.order_created", &perms[0]),
        ("mes.order_created", "crm.order_status_changed", &perms[1]),
    ] {
        let name = format!("{}-test-{pid}", p.0);
        let url = user_with(&vhost, &name, p).await;
        // The service's own broker handle declares the exchanges and its queue as this user.
        let queue = printflow_messaging::topology::ALL_QUEUES
            .into_iter()
            .find(|q| q.name == own)
            .unwrap();
        let broker = printflow_messaging::Broker::owning(url.clone(), "permissions-test", &[queue]);
        broker
            .check()
            .await
            .unwrap_or_else(|e| panic!("{name} declares the topology: {e}"));
        assert!(may_consume(&url, own).await, "{name} consumes {own}");
        // The other queue exists (declared as the admin) and is still out of reach.
        printflow_messaging::Broker::new(vhost.amqp_url.clone(), "permissions-test-admin")
            .check()
            .await
            .unwrap();
        assert!(
            !may_consume(&url, other).await,
            "{name} must not consume {other}"
        );
        assert!(
            !may_consume(&url, &format!("{own}.dlq")).await,
            "{name} must not read a dead-letter queue"
        );
        assert!(
            may_publish(&url, "printflow.events", "order.created").await,
            "{name} publishes events"
        );
        assert!(
            !may_publish(&url, "", other).await,
            "{name} must not publish into a queue directly"
        );
        delete_user(&name).await;
    }
    vhost.delete().await;
}

/// A service role: its password from the environment `scripts/test.sh` passes, else the dev
/// default of scripts/lib.sh.
fn service_url(service: &str, database: &str) -> String {
    let password = std::env::var(format!("PG_{}_PASSWORD", service.to_uppercase()))
        .unwrap_or_else(|_| format!("{service}-db-dev-only"));
    let admin = std::env::var("PRINTFLOW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://printflow:printflow@127.0.0.1:5432/postgres".to_owned());
    let host = admin
        .rsplit_once('@')
        .unwrap()
        .1
        .rsplit_once('/')
        .unwrap()
        .0
        .to_owned();
    format!("postgres://printflow_{service}:{password}@{host}/{database}")
}

#[tokio::test]
async fn each_service_role_owns_its_database_and_nothing_else() {
    for (service, other) in [("shop", "crm"), ("crm", "mes"), ("mes", "shop")] {
        let own = format!("printflow_{service}");
        let mut conn = sqlx::PgConnection::connect(&service_url(service, &own))
            .await
            .unwrap_or_else(|e| panic!("{own} logs in to its database: {e}"));
        let (superuser, createdb, createrole, owner): (bool, bool, bool, String) = sqlx::query_as(
            "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba)::text
               FROM pg_roles r, pg_database d
              WHERE r.rolname = current_user AND d.datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            (superuser, createdb, createrole),
            (false, false, false),
            "{own}"
        );
        assert_eq!(owner, own, "{own} owns its database");
        let refused = sqlx::query("CREATE DATABASE should_not_exist")
            .execute(&mut conn)
            .await;
        assert!(refused.is_err(), "{own} must not create databases");
        let other_db = format!("printflow_{other}");
        let err = sqlx::PgConnection::connect(&service_url(service, &other_db))
            .await
            .expect_err("another service's database refuses the connection");
        assert!(
            err.to_string().contains("permission denied"),
            "{own} -> {other_db}: {err}"
        );
    }
}
