//! The runtime against a real PostgreSQL (one database per test, from `printflow-test-support`)
//! and real HTTP: background tasks stop on shutdown before the pool closes, readiness names the
//! failing check, a service without database or broker runs, and the combined migrator takes a
//! database whose outbox table was created by hand before it was a migration.

mod common;

use common::{database, nothing, SCHEMA, SERVICE};
use printflow_auth::AuthSettings;
use printflow_runtime::health::check_fn;
use printflow_runtime::{Application, DatabaseSettings, HttpSettings, Runtime};
use printflow_test_support::{eventually, identity, TestDatabase};
use serde_json::Value;
use sqlx::migrate::MigrateError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

/// Tokens of the dev realm (the real Keycloak) for audience `shop-api`, which the realm's people
/// and Prometheus' tokens carry.
fn auth() -> AuthSettings {
    let mut env = std::collections::HashMap::new();
    env.insert("TEST_AUTH_ISSUER_URL", identity::issuer());
    AuthSettings::from_source(&env, "TEST", "shop-api").unwrap()
}

fn any_port() -> HttpSettings {
    HttpSettings {
        host: "127.0.0.1".to_owned(),
        port: 0,
    }
}

fn pool_of(db: &TestDatabase) -> DatabaseSettings {
    DatabaseSettings {
        url: db.url.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(3),
    }
}

/// A running application and the switch that stops it.
struct Running {
    base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

fn start(app: Application) -> Running {
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    Running { base, stop, task }
}

impl Running {
    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
        self.get_with(&reqwest::Client::new(), path).await
    }

    async fn get_with(
        &self,
        http: &reqwest::Client,
        path: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let resp = http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap())
    }

    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the application stops within the deadline")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn background_tasks_stop_and_finish_before_the_pool_closes() {
    let db = database().await;
    let mut runtime = Runtime::new(&any_port(), &auth(), "runtime-test")
        .await
        .unwrap();
    // Migrating the already migrated clone again is a no-op.
    let pool = runtime.database(&pool_of(&db), &SCHEMA).await.unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let task_pool = pool.clone();
    let flag = started.clone();
    let app = runtime
        .task("recorder", move |stop| async move {
            flag.store(true, Ordering::SeqCst);
            stop.cancelled().await;
            // A task's last step after the stop: it still has its pool.
            sqlx::query("INSERT INTO ticks (note) VALUES ('stopped cleanly')")
                .execute(&task_pool)
                .await
                .expect("the pool is open until every task finished");
        })
        .finish();
    let running = start(app);
    eventually("the task started", WAIT, || async {
        started.load(Ordering::SeqCst).then_some(())
    })
    .await;
    let (status, _, _) = running.get("/healthz").await;
    assert_eq!(status, 200);

    running.shut_down().await;
    let notes: Vec<String> = sqlx::query_scalar("SELECT note FROM ticks")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(notes, ["stopped cleanly"]);
    assert!(pool.is_closed(), "the pool is closed once run returned");
}

#[tokio::test]
async fn readiness_names_the_failing_check() {
    let db = database().await;
    let mut runtime = Runtime::new(&any_port(), &auth(), "runtime-test")
        .await
        .unwrap();
    runtime.database(&pool_of(&db), &SCHEMA).await.unwrap();
    let broker_up = Arc::new(AtomicBool::new(false));
    let probe = broker_up.clone();
    let app = runtime
        .check(
            "broker",
            check_fn(move || {
                let up = probe.load(Ordering::SeqCst);
                async move {
                    if up {
                        Ok(())
                    } else {
                        Err("connection refused".to_owned())
                    }
                }
            }),
        )
        .finish();
    let running = start(app);

    let (status, _, body) = running.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["broker"], "error: connection refused");
    let (status, _, _) = running.get("/healthz").await;
    assert_eq!(status, 200, "alive even when not ready");

    broker_up.store(true, Ordering::SeqCst);
    let (status, _, body) = running.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "ready");
    running.shut_down().await;
}

#[tokio::test]
async fn a_service_without_database_or_broker_serves_and_stops() {
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let app = Runtime::new(&any_port(), &auth(), "runtime-test")
        .await
        .unwrap()
        .routes(axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" })))
        .openapi(r#"{"openapi": "3.0.3"}"#)
        .task("ticker", move |stop| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
            }
            flag.store(true, Ordering::SeqCst);
        })
        .finish();
    let running = start(app);

    let (status, headers, _) = running.get("/hello").await;
    assert_eq!(status, 401, "routes need a token by default");
    assert_eq!(headers["www-authenticate"], r#"Bearer realm="printflow""#);
    let customer = identity::client_as_user("alice").await;
    let (status, _, body) = running.get_with(&customer, "/hello").await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    let (status, headers, body) = running.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(body, r#"{"openapi": "3.0.3"}"#);
    let (status, _, body) = running.get("/readyz").await;
    assert_eq!(status, 200, "no checks, nothing to fail: {body}");
    let (status, _, _) = running.get("/metrics").await;
    assert_eq!(status, 401);
    let (status, _, _) = running.get_with(&customer, "/metrics").await;
    assert_eq!(status, 403, "a customer does not read metrics");
    let prometheus = identity::client_as_service("prometheus").await;
    let (status, _, body) = running.get_with(&prometheus, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"auth_failures_total{service="runtime-test",reason="forbidden"} 1"#),
        "the refusals were counted: {body}"
    );
    assert!(
        body.contains("http_server_request_duration_seconds"),
        "{body}"
    );
    let (status, _, body) = running.get("/nowhere").await;
    assert_eq!(status, 404, "JSON 404 from the common layers: {body}");

    running.shut_down().await;
    assert!(stopped.load(Ordering::SeqCst), "the task ran to its end");
}

#[tokio::test]
async fn the_outbox_migration_takes_a_table_created_by_hand() {
    // An empty database, brought to what a dev database looked like before the outbox was a
    // migration: the service's migrations applied, the outbox created by raw SQL, a row in it.
    let db = TestDatabase::new("runtime_empty", "none", nothing).await;
    SERVICE.run(&db.pool).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS outbox (
             id BIGSERIAL PRIMARY KEY, message_id UUID NOT NULL UNIQUE, exchange TEXT NOT NULL,
             routing_key TEXT NOT NULL, payload JSONB NOT NULL,
             headers JSONB NOT NULL DEFAULT '{}'::jsonb,
             created_at TIMESTAMPTZ NOT NULL DEFAULT now(), sent_at TIMESTAMPTZ,
             attempts INT NOT NULL DEFAULT 0, last_error TEXT);
         CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (id) WHERE sent_at IS NULL;
         INSERT INTO outbox (message_id, exchange, routing_key, payload)
         VALUES (gen_random_uuid(), 'printflow.events', 'order.created', '{}');",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    SCHEMA.migrate(&db.pool).await.unwrap();
    SCHEMA.migrate(&db.pool).await.expect("idempotent");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 1, "the existing row survives");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(versions, [1, 9_000_000_000_000_001]);

    // Why one combined migrator: the service's set alone now meets a version it does not know.
    match SERVICE.run(&db.pool).await {
        Err(MigrateError::VersionMissing(v)) => assert_eq!(v, 9_000_000_000_000_001),
        other => panic!("expected VersionMissing, got {other:?}"),
    }
}
