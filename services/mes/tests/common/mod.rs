//! Test harness: MES on port 0 against its own database and vhost, a stand-in Shop serving
//! model files, a tap on the published `order.status_changed` events, and helpers to publish
//! `order.created`.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use printflow_contracts::messages::{
    decode, Shipping, EVENTS_EXCHANGE, ORDER_CANCELLED, ORDER_CREATED,
};
use printflow_contracts::{
    Envelope, OrderCancelled, OrderCreated, OrderStatus, OrderStatusChanged, PrintSpec,
};
use printflow_mes::{Application, Config};
use printflow_messaging::{Broker, OutgoingMessage, Publisher};
use printflow_test_support::{eventually, identity, TestDatabase, TestVhost};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Scheduler period used by the tests.
pub const TICK_MS: u64 = 20;
/// How long a test waits for an asynchronous outcome before failing.
pub const WAIT: Duration = Duration::from_secs(20);

fn migrate(pool: &PgPool) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        printflow_mes::migrate(pool)
            .await
            .map_err(|e| e.to_string())
    })
}

/// A running MES with everything around it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Client for the API.
    pub http: reqwest::Client,
    /// The test's database.
    pub db: TestDatabase,
    /// The test's vhost.
    pub vhost: TestVhost,
    /// The tap on `order.status_changed`.
    pub events: EventTap,
    /// Publishes into the vhost like CRM would.
    pub publisher: Arc<Publisher>,
    /// A broker connection of the test's own (for the tap and DLQ reads).
    pub broker: Arc<Broker>,
    /// The settings the app was started with.
    env: HashMap<&'static str, String>,
    /// Stops the app (and any peers).
    token: CancellationToken,
    /// The app's run task and those of its peers.
    handles: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// Starts MES against a fresh database and vhost, with `shop_url` as its Shop and `overrides`
/// on top of the test defaults (tick 20 ms, time scale 0.00001).
pub async fn spawn_app(shop_url: &str, overrides: &[(&'static str, &str)]) -> TestApp {
    let db = TestDatabase::new("mes", &printflow_mes::schema_fingerprint(), migrate).await;
    let vhost = TestVhost::new().await;
    let mut env: HashMap<&'static str, String> = HashMap::from([
        ("MES_HTTP_PORT", "0".to_owned()),
        ("MES_DATABASE_URL", db.url.clone()),
        ("MES_AMQP_URL", vhost.amqp_url.clone()),
        ("MES_SHOP_URL", shop_url.to_owned()),
        ("MES_SHOP_TIMEOUT_MS", "1000".to_owned()),
        ("MES_TICK_MS", TICK_MS.to_string()),
        ("MES_TIME_SCALE", "0.00001".to_owned()),
    ]);
    env.extend(identity::service_env("MES", "mes-api"));
    for (k, v) in overrides {
        env.insert(k, (*v).to_owned());
    }
    let config = Config::from_source(&env).expect("test config is valid");
    // The tap is bound before MES starts, so it sees every event MES publishes.
    let broker = Broker::new(vhost.amqp_url.clone(), "mes-test");
    let events = EventTap::start(&broker).await;
    let publisher = Publisher::new(broker.clone());

    let app = Application::build(config).await.expect("build MES");
    let base = format!("http://127.0.0.1:{}", app.port());
    let token = CancellationToken::new();
    let handle = tokio::spawn(app.run(token.clone().cancelled_owned()));
    TestApp {
        base,
        http: identity::client_as_user("pat").await,
        db,
        vhost,
        events,
        publisher,
        broker,
        env,
        token,
        handles: vec![handle],
    }
}

impl TestApp {
    /// Starts a second MES instance on the same database and vhost (as a scaled-out
    /// deployment would run); it stops with this one.
    pub async fn spawn_peer(&mut self) {
        let config = Config::from_source(&self.env).expect("test config is valid");
        let app = Application::build(config).await.expect("build peer MES");
        let token = self.token.clone();
        self.handles
            .push(tokio::spawn(app.run(token.cancelled_owned())));
    }

    /// Stops MES (waiting for its tasks) and deletes the vhost.
    pub async fn stop(self) {
        self.token.cancel();
        for handle in self.handles {
            let result = tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .expect("MES stops within 10 s")
                .expect("MES task did not panic");
            result.expect("MES ran without error");
        }
        self.vhost.delete().await;
    }

    /// Publishes `order.created` through the real confirmed publisher.
    pub async fn publish(&self, envelope: &Envelope<OrderCreated>) {
        self.publish_body(envelope.message_id, serde_json::to_vec(envelope).unwrap())
            .await;
    }

    /// Publishes any body with routing key `order.created`.
    pub async fn publish_body(&self, message_id: Uuid, body: Vec<u8>) {
        self.publish_as(ORDER_CREATED, message_id, body).await;
    }

    /// Publishes `order.cancelled` for `order_id` as CRM would.
    pub async fn publish_cancel(&self, order_id: Uuid) {
        let envelope = Envelope::new(OrderCancelled {
            order_id,
            cancelled_at: chrono::Utc::now(),
        });
        let body = serde_json::to_vec(&envelope).unwrap();
        self.publish_as(ORDER_CANCELLED, envelope.message_id, body)
            .await;
    }

    /// Publishes any body with routing key `order.cancelled`.
    pub async fn publish_cancel_body(&self, message_id: Uuid, body: Vec<u8>) {
        self.publish_as(ORDER_CANCELLED, message_id, body).await;
    }

    async fn publish_as(&self, routing_key: &str, message_id: Uuid, body: Vec<u8>) {
        self.publisher
            .publish(OutgoingMessage {
                exchange: EVENTS_EXCHANGE.to_owned(),
                routing_key: routing_key.to_owned(),
                message_id: message_id.to_string(),
                body,
                headers: BTreeMap::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("publish {routing_key}: {e}"));
    }

    /// `GET path` -> (status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request MES");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    /// `POST path` with an optional JSON body -> (status, JSON body).
    pub async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request MES");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    /// The order's job, if MES has one.
    pub async fn job_for(&self, order_id: Uuid) -> Option<Value> {
        let (status, body) = self.get(&format!("/orders/{order_id}/job")).await;
        match status {
            200 => Some(body),
            404 => None,
            other => panic!("GET /orders/{order_id}/job answered {other}: {body}"),
        }
    }

    /// Waits until the order's job is in `status` and returns it; `poll` is the poll period.
    pub async fn wait_status(&self, order_id: Uuid, status: OrderStatus) -> Value {
        eventually(
            &format!("order {order_id} reaches {status}"),
            WAIT,
            || async {
                self.job_for(order_id)
                    .await
                    .filter(|j| j["status"] == status.as_str())
            },
        )
        .await
    }

    /// Like [`wait_status`](Self::wait_status) but polls every 5 ms, to catch short phases.
    pub async fn wait_status_closely(&self, order_id: Uuid, status: OrderStatus) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(job) = self.job_for(order_id).await {
                if job["status"] == status.as_str() {
                    return job;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id} never reached {status}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until the tap saw the order's event with `sequence`, then returns all the order's
    /// events seen so far.
    pub async fn wait_event(&self, order_id: Uuid, sequence: i64) -> Vec<OrderStatusChanged> {
        eventually(
            &format!("event {sequence} of order {order_id} is published"),
            WAIT,
            || async {
                let seen = self.events.for_order(order_id);
                seen.iter().any(|e| e.sequence == sequence).then_some(seen)
            },
        )
        .await
    }

    /// The printer ids, in order.
    pub async fn printer_ids(&self) -> Vec<i64> {
        let (status, body) = self.get("/printers").await;
        assert_eq!(status, 200);
        body.as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect()
    }

    /// Pauses or resumes (`action`) every printer: paused, the farm leaves accepted jobs
    /// ACCEPTED, so a test can look at them before the scheduler moves them on.
    pub async fn set_printers(&self, action: &str) {
        for id in self.printer_ids().await {
            let (status, body) = self.post(&format!("/printers/{id}/{action}"), None).await;
            assert_eq!(status, 200, "{action} printer {id}: {body}");
        }
    }

    /// Takes messages off `queue` (acking them) until there are at least `want`.
    pub async fn drain(&self, queue: &str, want: usize) -> Vec<lapin::message::BasicGetMessage> {
        let channel = self.broker.channel().await.expect("test channel");
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut got = Vec::new();
        while got.len() < want {
            match channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .expect("basic.get")
            {
                Some(msg) => {
                    msg.delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .expect("ack");
                    got.push(msg);
                }
                None => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "only {} of {want} messages arrived in {queue}",
                        got.len()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        got
    }
}

/// String header of a message.
pub fn header(msg: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    msg.delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(name)
        .and_then(|v| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            AMQPValue::ShortString(s) => Some(s.to_string()),
            _ => None,
        })
}

/// Collects every `order.status_changed` published in the vhost, via a private queue.
#[derive(Clone)]
pub struct EventTap {
    /// Received events in arrival order.
    seen: Arc<Mutex<Vec<OrderStatusChanged>>>,
}

impl EventTap {
    async fn start(broker: &Arc<Broker>) -> EventTap {
        // Connecting declares the topology, so the exchange exists before we bind.
        let channel = broker.channel().await.expect("tap channel");
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare tap queue");
        channel
            .queue_bind(
                queue.name().clone(),
                EVENTS_EXCHANGE.into(),
                "order.status_changed".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind tap queue");
        let mut consumer = channel
            .basic_consume(
                queue.name().clone(),
                "tap".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("consume tap queue");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            let _channel = channel;
            while let Some(Ok(delivery)) = consumer.next().await {
                let env = decode::<OrderStatusChanged>(&delivery.data)
                    .expect("MES publishes valid order.status_changed envelopes");
                assert_eq!(
                    delivery
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string()),
                    Some(env.message_id.to_string()),
                    "AMQP message-id equals the envelope id"
                );
                sink.lock().unwrap().push(env.data);
            }
        });
        EventTap { seen }
    }

    /// The events of one order, in arrival order.
    pub fn for_order(&self, order_id: Uuid) -> Vec<OrderStatusChanged> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.order_id == order_id)
            .cloned()
            .collect()
    }
}

/// A binary STL cube (80-byte header, triangle count, 12 facets of 50 bytes). `label` goes into
/// the header, so different labels give different bytes for the same shape.
pub fn cube_stl(label: &str, size: f32) -> Vec<u8> {
    let mut out = vec![0u8; 80];
    let l = label.as_bytes();
    out[..l.len().min(80)].copy_from_slice(&l[..l.len().min(80)]);
    out.extend_from_slice(&12u32.to_le_bytes());
    let s = size;
    let v = |x: f32, y: f32, z: f32| [x * s, y * s, z * s];
    // Two triangles per face: (normal, a, b, c).
    let faces: [([f32; 3], [[f32; 3]; 4]); 6] = [
        (
            [0., 0., -1.],
            [v(0., 0., 0.), v(0., 1., 0.), v(1., 1., 0.), v(1., 0., 0.)],
        ),
        (
            [0., 0., 1.],
            [v(0., 0., 1.), v(1., 0., 1.), v(1., 1., 1.), v(0., 1., 1.)],
        ),
        (
            [0., -1., 0.],
            [v(0., 0., 0.), v(1., 0., 0.), v(1., 0., 1.), v(0., 0., 1.)],
        ),
        (
            [0., 1., 0.],
            [v(0., 1., 0.), v(0., 1., 1.), v(1., 1., 1.), v(1., 1., 0.)],
        ),
        (
            [-1., 0., 0.],
            [v(0., 0., 0.), v(0., 0., 1.), v(0., 1., 1.), v(0., 1., 0.)],
        ),
        (
            [1., 0., 0.],
            [v(1., 0., 0.), v(1., 1., 0.), v(1., 1., 1.), v(1., 0., 1.)],
        ),
    ];
    for (normal, [a, b, c, d]) in faces {
        for tri in [[a, b, c], [a, c, d]] {
            for f in normal.iter().chain(tri.iter().flatten()) {
                out.extend_from_slice(&f.to_le_bytes());
            }
            out.extend_from_slice(&0u16.to_le_bytes());
        }
    }
    assert_eq!(out.len(), 84 + 12 * 50);
    out
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An `order.created` envelope for a model with `model` as its (expected) bytes.
pub fn order_for(
    design_id: Uuid,
    version: i32,
    model: &[u8],
    print_seconds: i64,
) -> Envelope<OrderCreated> {
    Envelope::new(OrderCreated {
        order_id: Uuid::now_v7(),
        customer_id: Uuid::now_v7(),
        spec: PrintSpec {
            design_id,
            design_version: version,
            model_sha256: sha256_hex(model),
            model_size_bytes: model.len() as i64,
            estimated_print_seconds: print_seconds,
            material: "PLA".to_owned(),
            quantity: 1,
        },
        shipping: Shipping::Standard,
    })
}

/// Model files by (design id, version).
type ModelFiles = HashMap<(Uuid, i32), Vec<u8>>;
/// Error answers (status, JSON body) by (design id, version).
type ModelErrors = HashMap<(Uuid, i32), (u16, Value)>;

/// The stand-in for Shop's model endpoint (the one fake in these tests).
#[derive(Clone)]
pub struct FakeShop {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Served files by (design, version).
    models: Arc<Mutex<ModelFiles>>,
    /// Error answers (status, JSON body) by (design, version), served instead of a file.
    errors: Arc<Mutex<ModelErrors>>,
    /// When false, every request gets a 503.
    up: Arc<AtomicBool>,
}

impl FakeShop {
    /// Serves on a free port.
    pub async fn start() -> FakeShop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    /// Serves on `port` (for a Shop that comes up after MES first tried it).
    pub async fn start_on(port: u16) -> FakeShop {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("rebind the reserved shop port");
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> FakeShop {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shop = FakeShop {
            url,
            models: Arc::default(),
            errors: Arc::default(),
            up: Arc::new(AtomicBool::new(true)),
        };
        let router = axum::Router::new()
            .route(
                "/designs/{design_id}/versions/{version}/model",
                axum::routing::get(serve_model),
            )
            .with_state(shop.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        shop
    }

    /// Serves `bytes` for the design version.
    pub fn put(&self, design_id: Uuid, version: i32, bytes: Vec<u8>) {
        self.models
            .lock()
            .unwrap()
            .insert((design_id, version), bytes);
    }

    /// Answers requests for the design version with `status` and a JSON body.
    pub fn put_error(&self, design_id: Uuid, version: i32, status: u16, body: Value) {
        self.errors
            .lock()
            .unwrap()
            .insert((design_id, version), (status, body));
    }

    /// Makes every request answer 503 (`false`) or work normally (`true`).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

async fn serve_model(
    State(shop): State<FakeShop>,
    Path((design_id, version)): Path<(Uuid, i32)>,
) -> axum::response::Response {
    if !shop.up.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    if let Some((status, body)) = shop.errors.lock().unwrap().get(&(design_id, version)) {
        let status = StatusCode::from_u16(*status).unwrap();
        return (status, axum::Json(body.clone())).into_response();
    }
    match shop.models.lock().unwrap().get(&(design_id, version)) {
        Some(bytes) => (
            [(axum::http::header::CONTENT_TYPE, "model/stl")],
            bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such design version").into_response(),
    }
}

/// A port nothing listens on (bound and released).
pub async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

/// (sequence, status) pairs of events.
pub fn steps(events: &[OrderStatusChanged]) -> Vec<(i64, OrderStatus)> {
    events.iter().map(|e| (e.sequence, e.status)).collect()
}

/// `[(1, s0), (2, s1), ...]` for a list of statuses.
pub fn numbered(statuses: &[OrderStatus]) -> Vec<(i64, OrderStatus)> {
    statuses
        .iter()
        .enumerate()
        .map(|(i, s)| (i as i64 + 1, *s))
        .collect()
}

/// The happy path after intake.
pub const HAPPY: [OrderStatus; 6] = [
    OrderStatus::Accepted,
    OrderStatus::Printing,
    OrderStatus::PostProcessing,
    OrderStatus::QualityCheck,
    OrderStatus::Ready,
    OrderStatus::Shipped,
];
