//! Shared test plumbing: a migrated database and a private vhost per test, the CRM application
//! started on port 0 in a task, and helpers to talk to it over HTTP and RabbitMQ.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use chrono::Utc;
use futures::future::BoxFuture;
use printflow_contracts::messages::{Envelope, Shipping, EVENTS_EXCHANGE, ORDER_STATUS_CHANGED};
use printflow_contracts::orders::{CreateOrderRequest, CustomerInput, OrderView, StatusView};
use printflow_contracts::PrintSpec;
use printflow_contracts::{OrderStatus, OrderStatusChanged};
use printflow_crm::orders::read::EventsView;
use printflow_crm::{Application, Config};
use printflow_test_support::{eventually, identity, TestDatabase, TestVhost};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgPool};
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long asynchronous effects (relay, consumer) may take before a test fails.
pub const WAIT: Duration = Duration::from_secs(20);

fn migrate(pool: &PgPool) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        printflow_crm::migrate(pool)
            .await
            .map_err(|e| e.to_string())
    })
}

/// A fresh CRM database cloned from the migrated template.
pub async fn test_database() -> TestDatabase {
    TestDatabase::new("crm", &printflow_crm::schema_fingerprint(), migrate).await
}

/// One running CRM process (in a task).
pub struct Running {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Starts a CRM on `database_url` and `amqp_url`, with extra `CRM_*` settings.
    pub async fn start(
        database_url: &str,
        amqp_url: &str,
        extra: &[(&'static str, &str)],
    ) -> Running {
        let mut env: HashMap<&str, String> = HashMap::new();
        env.insert("CRM_HTTP_PORT", "0".into());
        env.insert("CRM_DATABASE_URL", database_url.into());
        env.insert("CRM_AMQP_URL", amqp_url.into());
        env.insert("CRM_DATABASE_MAX_CONNECTIONS", "4".into());
        // No MES in these tests: the reconciler's calls fail fast instead of reaching a
        // developer's running stack. Tests of the reconciler start a MES and override it.
        env.insert("CRM_MES_URL", "http://127.0.0.1:9".into());
        env.extend(identity::service_env("CRM", "crm-api"));
        for (k, v) in extra {
            env.insert(k, (*v).to_owned());
        }
        let config = Config::from_source(&env).expect("test config");
        let app = Application::build(config).await.expect("build CRM");
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run(stop.clone().cancelled_owned()));
        Running { base, stop, task }
    }

    /// Shuts it down and waits until it has stopped.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Shuts it down and waits until it has stopped, keeping the handle: a test then puts a
    /// new instance in its place (`t.app = Running::start(...)`) on the same database.
    pub async fn halt(&mut self) {
        self.stop.cancel();
        (&mut self.task).await.expect("CRM task").expect("CRM run");
    }
}

impl Drop for Running {
    /// A test that ends (or panics) without `stop` still shuts the instance down.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Deletes a test's vhost and database when dropped, even after a panic, so test runs do not
/// pile up quorum queues and databases.
pub struct Cleanup {
    /// The vhost to delete.
    vhost: Option<TestVhost>,
    /// The database to drop.
    database: Option<String>,
}

impl Cleanup {
    /// Cleans up `vhost` and `database` on drop.
    pub fn new(vhost: Option<&TestVhost>, database: Option<&TestDatabase>) -> Cleanup {
        Cleanup {
            vhost: vhost.cloned(),
            database: database.map(|db| db.name.clone()),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let vhost = self.vhost.take().map(|v| v.name);
        let database = self.database.take();
        // Drop cannot await, so a thread with its own runtime does the work (during unwinding
        // too). It must not reuse clients from the test's runtime: their pooled connections
        // belong to that runtime, which is blocked here waiting for the thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                if let Some(name) = vhost {
                    delete_vhost(&name).await;
                }
                if let Some(name) = database {
                    drop_database(&name).await;
                }
            });
        })
        .join();
    }
}

async fn delete_vhost(name: &str) {
    let api = std::env::var("PRINTFLOW_TEST_RABBITMQ_API")
        .unwrap_or_else(|_| "http://127.0.0.1:15672".to_owned());
    let _ = http_client()
        .delete(format!("{api}/api/vhosts/{name}"))
        .basic_auth(
            printflow_test_support::rabbit::admin().0,
            Some(printflow_test_support::rabbit::admin().1),
        )
        .send()
        .await;
}

async fn drop_database(name: &str) {
    let admin = std::env::var("PRINTFLOW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://printflow:printflow@127.0.0.1:5432/postgres".to_owned());
    let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await else {
        return;
    };
    // FORCE: the test's own pool (and a still-stopping CRM) may hold connections.
    let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .execute(&mut conn)
        .await;
}

/// A CRM with its own database and vhost, ready (database and broker reachable).
pub struct TestApp {
    /// The running process.
    pub app: Running,
    /// Its database (the test can look at rows directly).
    pub db: TestDatabase,
    /// Its vhost.
    pub vhost: TestVhost,
    /// HTTP client acting as the Shop (client `shop-api`: records and reads orders).
    pub http: reqwest::Client,
    /// HTTP client acting as support (`sam`: reads everything, cancels).
    pub staff: reqwest::Client,
    /// Removes the vhost and database at the end of the test (declared last: dropped last).
    pub cleanup: Cleanup,
}

/// Starts a CRM on a fresh database and vhost and waits until `/readyz` is green (so the
/// topology is declared and the consumer can receive).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// [`spawn_app`] with extra settings.
pub async fn spawn_app_with(extra: &[(&'static str, &str)]) -> TestApp {
    let db = test_database().await;
    let vhost = TestVhost::new().await;
    declare_topology(&vhost).await;
    let cleanup = Cleanup::new(Some(&vhost), Some(&db));
    let app = Running::start(&db.url, &vhost.amqp_url, extra).await;
    let test_app = TestApp {
        app,
        db,
        vhost,
        http: identity::client_as_service("shop-api").await,
        staff: identity::client_as_user("sam").await,
        cleanup,
    };
    let http = test_app.http.clone();
    let url = format!("{}/readyz", test_app.app.base);
    eventually("CRM ready", WAIT, || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let resp = http.get(&url).send().await.ok()?;
            (resp.status() == StatusCode::OK).then_some(())
        }
    })
    .await;
    test_app
}

/// The whole topology in `vhost`, as the running system has it once MES has started (CRM itself
/// declares only the queue it consumes): the `order.created` events CRM publishes are routed.
pub async fn declare_topology(vhost: &TestVhost) {
    printflow_messaging::Broker::new(vhost.amqp_url.clone(), "crm-test-topology")
        .check()
        .await
        .expect("declare the topology in the test vhost");
}

/// A client with a deadline, so a hanging endpoint fails the test instead of blocking it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A valid order request with fresh ids.
pub fn order_request() -> CreateOrderRequest {
    let n = Uuid::new_v4().simple().to_string();
    CreateOrderRequest {
        order_id: Uuid::now_v7(),
        customer: CustomerInput {
            name: format!("Test Customer {}", n.get(..6).expect("32 hex digits")),
            email: format!(
                "customer-{}@example.org",
                n.get(..12).expect("32 hex digits")
            ),
            phone: Some("+49 30 1234567".into()),
        },
        spec: PrintSpec {
            design_id: Uuid::now_v7(),
            design_version: 3,
            model_sha256: format!("{:0>64}", n),
            model_size_bytes: 123_456,
            estimated_print_seconds: 5_400,
            material: "PETG".into(),
            quantity: 2,
        },
        shipping: Shipping::Express,
        total_price_cents: 4_990,
    }
}

impl TestApp {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.app.base, path)
    }

    /// `POST /orders`.
    pub async fn post_order(&self, req: &CreateOrderRequest) -> reqwest::Response {
        self.http
            .post(self.url("/orders"))
            .json(req)
            .send()
            .await
            .expect("POST /orders")
    }

    /// Creates an order and returns it (asserting 201).
    pub async fn create_order(&self) -> OrderView {
        let resp = self.post_order(&order_request()).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// GET `path` as support; status and JSON body (every answer, errors too, must be JSON).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self.staff.get(self.url(path)).send().await.expect("GET");
        let status = resp.status();
        let body = resp.json().await.expect("JSON body");
        (status, body)
    }

    /// POST `path` without a body as support (cancel); status and JSON body.
    pub async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        let resp = self.staff.post(self.url(path)).send().await.expect("POST");
        let status = resp.status();
        let body = resp.json().await.expect("JSON body");
        (status, body)
    }

    /// `GET /orders/{id}/status`.
    pub async fn status(&self, order_id: Uuid) -> StatusView {
        let (code, body) = self.get(&format!("/orders/{order_id}/status")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// `GET /orders/{id}/events`.
    pub async fn events(&self, order_id: Uuid) -> EventsView {
        let (code, body) = self.get(&format!("/orders/{order_id}/events")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// Waits until the order's status is `status`.
    pub async fn wait_for_status(&self, order_id: Uuid, status: OrderStatus) -> StatusView {
        eventually(
            &format!("order {order_id} reaches {status}"),
            WAIT,
            || async {
                let view = self.status(order_id).await;
                (view.status == status).then_some(view)
            },
        )
        .await
    }

    /// Waits until the inbox of `order_id` lists `count` entries (first receipts and repeats).
    pub async fn wait_for_events(&self, order_id: Uuid, count: usize) -> EventsView {
        eventually(
            &format!("{count} events recorded for {order_id}"),
            WAIT,
            || async {
                let view = self.events(order_id).await;
                (view.events.len() >= count).then_some(view)
            },
        )
        .await
    }

    /// Publishes `envelope` the way MES does: to `printflow.events` with `order.status_changed`.
    pub async fn publish(&self, envelope: &Envelope<OrderStatusChanged>) {
        self.publish_body(&envelope.to_json().to_string()).await;
    }

    /// Publishes a raw body with the status-change routing key.
    pub async fn publish_body(&self, body: &str) {
        self.vhost
            .publish_raw(EVENTS_EXCHANGE, ORDER_STATUS_CHANGED, body)
            .await;
    }

    /// Builds and publishes a status event; returns its envelope.
    pub async fn send_status(
        &self,
        order_id: Uuid,
        sequence: i64,
        status: OrderStatus,
    ) -> Envelope<OrderStatusChanged> {
        let envelope = status_event(order_id, sequence, status);
        self.publish(&envelope).await;
        envelope
    }

    /// Outbox rows as `(message_id, sent, attempts)`.
    pub async fn outbox_rows(&self) -> Vec<(Uuid, bool, i32)> {
        outbox_rows(&self.db.pool).await
    }
}

/// A fresh MES status event.
pub fn status_event(
    order_id: Uuid,
    sequence: i64,
    status: OrderStatus,
) -> Envelope<OrderStatusChanged> {
    Envelope::new(OrderStatusChanged {
        order_id,
        sequence,
        status,
        failure: None,
        detail: None,
        source: "mes".into(),
        changed_at: Utc::now(),
    })
}

/// Outbox rows of `pool` as `(message_id, sent, attempts)`, oldest first.
pub async fn outbox_rows(pool: &PgPool) -> Vec<(Uuid, bool, i32)> {
    sqlx::query_as("SELECT message_id, sent_at IS NOT NULL, attempts FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Waits until `queue` holds at least `count` messages and returns them (peeked, requeued).
/// Peek sparingly on work queues: each requeue counts towards the delivery limit.
pub async fn peek_messages(vhost: &TestVhost, queue: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} messages on {queue}"), WAIT, || async {
        let msgs = vhost.peek(queue, 50).await;
        (msgs.len() >= count).then_some(msgs)
    })
    .await
}
