//! Distributed tracing against the real Jaeger, read back through its HTTP API. The services run
//! as their real binaries (each process has its own tracer provider and `service.name`).

mod common;

use common::processes::{otel_env, ServiceProcess};
use common::{crm_db, mes_db, shop_db};
use printflow_test_support::{eventually, identity, Jaeger, TestVhost, TraceView};
use serde_json::{json, Value};
use std::time::Duration;

/// Shop, CRM and MES binaries wired together on one vhost.
struct Processes {
    shop: ServiceProcess,
    crm: ServiceProcess,
    mes: ServiceProcess,
    vhost: TestVhost,
    /// Acts as customer `alice` (the Shop).
    http: reqwest::Client,
    /// Acts as support `sam` (CRM reads).
    support: reqwest::Client,
    models: std::path::PathBuf,
}

impl Processes {
    async fn start(shop_extra: &[(&'static str, String)]) -> Processes {
        let vhost = TestVhost::new().await;
        let (crm_db, shop_db, mes_db) = tokio::join!(crm_db(), shop_db(), mes_db());
        let otel = otel_env();
        let mut env = otel.clone();
        env.push(("CRM_DATABASE_URL", crm_db.url.clone()));
        env.push(("CRM_AMQP_URL", vhost.amqp_url.clone()));
        let crm = ServiceProcess::start("crm", &env).await;

        let models =
            std::env::temp_dir().join(format!("printflow-models-{}", uuid::Uuid::new_v4()));
        let mut env = otel.clone();
        env.push(("SHOP_DATABASE_URL", shop_db.url.clone()));
        env.push(("SHOP_CRM_URL", crm.url.clone()));
        env.push(("SHOP_MODEL_STORE_DIR", models.display().to_string()));
        env.extend(shop_extra.iter().cloned());
        let shop = ServiceProcess::start("shop", &env).await;

        let mut env = otel;
        env.push(("MES_DATABASE_URL", mes_db.url.clone()));
        env.push(("MES_AMQP_URL", vhost.amqp_url.clone()));
        env.push(("MES_SHOP_URL", shop.url.clone()));
        env.push(("MES_TIME_SCALE", "0.00002".to_owned()));
        env.push(("MES_TICK_MS", "25".to_owned()));
        let mes = ServiceProcess::start("mes", &env).await;
        Processes {
            shop,
            crm,
            mes,
            vhost,
            // Customer `alice` for the Shop; CRM's status reads go through `support`.
            http: identity::client_as_user("alice").await,
            support: identity::client_as_user("sam").await,
            models,
        }
    }

    async fn stop(self) {
        let (a, b, c) = tokio::join!(self.shop.stop(), self.crm.stop(), self.mes.stop());
        assert!(a && b && c, "a service did not stop cleanly");
        self.vhost.delete().await;
        let _ = std::fs::remove_dir_all(&self.models);
    }

    /// Designs and saves a small product; returns (design id, version).
    async fn saved_design(&self) -> (String, i64) {
        let page: Value = self
            .http
            .get(format!(
                "{}/catalog/products?sort=price_asc&per_page=1",
                self.shop.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let design: Value = self
            .http
            .post(format!("{}/designs", self.shop.url))
            .json(&json!({"product_id": page["items"][0]["id"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = design["design_id"].as_str().unwrap().to_owned();
        let version: Value = self
            .http
            .post(format!("{}/designs/{id}/versions", self.shop.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (id, version["version"].as_i64().unwrap())
    }
}

const CUSTOMER_NAME: &str = "Grace Hopper-Tracewell";
const CUSTOMER_EMAIL: &str = "grace.tracewell@example.test";
const CUSTOMER_PHONE: &str = "+15550104242";

fn order_body(design_id: &str, version: i64) -> Value {
    json!({
        "design_id": design_id, "design_version": version, "quantity": 1, "shipping": "express",
        "customer": {"name": CUSTOMER_NAME, "email": CUSTOMER_EMAIL, "phone": CUSTOMER_PHONE}
    })
}

/// Polls Jaeger until the trace satisfies `done`.
async fn trace_until(
    jaeger: &Jaeger,
    trace_id: &str,
    what: &str,
    done: impl Fn(&TraceView) -> bool,
) -> TraceView {
    eventually(what, Duration::from_secs(45), || async {
        let t = jaeger.trace(trace_id).await?;
        done(&t).then_some(t)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_is_one_trace_across_shop_crm_mes_and_rabbitmq() {
    let jaeger = Jaeger::from_env();
    let p = Processes::start(&[]).await;
    let (design, version) = p.saved_design().await;

    let resp = p
        .http
        .post(format!("{}/orders", p.shop.url))
        .json(&order_body(&design, version))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let trace_id = resp
        .headers()
        .get("x-trace-id")
        .expect("Shop names the trace")
        .to_str()
        .unwrap()
        .to_owned();
    let order: Value = resp.json().await.unwrap();
    let order_id = order["order_id"].as_str().unwrap().to_owned();

    // Six MES status events published and consumed by CRM, all in the order's trace.
    let t = trace_until(
        &jaeger,
        &trace_id,
        "the order's whole journey in Jaeger",
        |t| {
            t.named("process crm.order_status_changed", Some("crm-api"))
                .len()
                >= 6
                && t.named("publish order.status_changed", Some("mes-api"))
                    .len()
                    >= 6
        },
    )
    .await;

    let shop_server = t.named("POST /orders", Some("shop-api"));
    let shop_server = shop_server
        .iter()
        .find(|s| s.kind() == Some("server"))
        .expect("Shop SERVER span");
    assert!(shop_server.parent_id.is_none(), "Shop starts the trace");
    let shop_client = t
        .spans
        .iter()
        .find(|s| s.service == "shop-api" && s.kind() == Some("client") && s.name == "POST /orders")
        .expect("Shop -> CRM CLIENT span");
    assert!(t.is_ancestor(shop_server, shop_client));
    // The Shop's first call fetched its own token: a CLIENT span of its own, in the same trace.
    let token_fetch = t
        .spans
        .iter()
        .find(|s| s.service == "shop-api" && s.kind() == Some("client") && s.name == "POST token")
        .expect("the Shop's token fetch as a CLIENT span");
    assert!(t.is_ancestor(shop_server, token_fetch));
    let crm_server = t
        .spans
        .iter()
        .find(|s| s.service == "crm-api" && s.kind() == Some("server") && s.name == "POST /orders")
        .expect("CRM SERVER span");
    assert_eq!(
        crm_server.parent_id.as_deref(),
        Some(shop_client.span_id.as_str())
    );
    let publish = t.named("publish order.created", Some("crm-api"));
    let publish = publish.first().expect("outbox PRODUCER span");
    assert_eq!(publish.kind(), Some("producer"));
    assert!(
        t.is_ancestor(crm_server, publish),
        "the relay continues the request's trace"
    );
    assert_eq!(publish.tag("messaging.system").as_deref(), Some("rabbitmq"));
    assert_eq!(
        publish
            .tag("messaging.rabbitmq.destination.routing_key")
            .as_deref(),
        Some("order.created")
    );
    let consume = t.named("process mes.order_created", Some("mes-api"));
    let consume = consume.first().expect("MES CONSUMER span");
    assert_eq!(consume.kind(), Some("consumer"));
    assert_eq!(consume.parent_id.as_deref(), Some(publish.span_id.as_str()));

    let status_publishes = t.named("publish order.status_changed", Some("mes-api"));
    assert!(
        status_publishes.len() >= 6,
        "{} MES publishes",
        status_publishes.len()
    );
    for p in &status_publishes {
        assert_eq!(p.kind(), Some("producer"));
        assert!(
            t.is_ancestor(consume, p),
            "status publish outside the consume's subtree"
        );
    }
    let crm_consumes = t.named("process crm.order_status_changed", Some("crm-api"));
    for c in &crm_consumes {
        assert_eq!(c.kind(), Some("consumer"));
        let parent = t.parent_of(c).expect("consume has a parent");
        assert_eq!(parent.name, "publish order.status_changed");
    }
    assert_eq!(t.services(), ["crm-api", "mes-api", "shop-api"]);

    // A status request shows the status it returned.
    let status: Value = p
        .support
        .get(format!("{}/orders/{order_id}/status", p.crm.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let returned = status["status"].as_str().unwrap().to_owned();
    let found = eventually(
        "the status request's span",
        Duration::from_secs(30),
        || async {
            let traces = jaeger
                .find(
                    "crm-api",
                    &[
                        ("order.id", order_id.as_str()),
                        ("order.status", returned.as_str()),
                    ],
                )
                .await;
            traces.into_iter().find(|t| {
                !t.named("GET /orders/{id}/status", Some("crm-api"))
                    .is_empty()
            })
        },
    )
    .await;
    assert!(!found.spans.is_empty());

    // No personal data from the customer record anywhere in the trace.
    let whole = eventually("the final trace", Duration::from_secs(10), || async {
        jaeger.trace(&trace_id).await
    })
    .await
    .raw
    .to_string();
    for pii in [CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_PHONE, "Tracewell"] {
        assert!(
            !whole.contains(pii),
            "personal data `{pii}` found in the trace"
        );
    }

    let services = jaeger.services().await;
    for s in ["shop-api", "crm-api", "mes-api"] {
        assert!(
            services.iter().any(|x| x == s),
            "{s} missing from {services:?}"
        );
    }
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_shop_sdk_disabled_orders_work_and_crm_starts_the_trace() {
    let jaeger = Jaeger::from_env();
    let p = Processes::start(&[("OTEL_SDK_DISABLED", "true".to_owned())]).await;
    let (design, version) = p.saved_design().await;
    let resp = p
        .http
        .post(format!("{}/orders", p.shop.url))
        .json(&order_body(&design, version))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert!(
        resp.headers().get("x-trace-id").is_none(),
        "Shop exports nothing"
    );
    let order: Value = resp.json().await.unwrap();
    let order_id = order["order_id"].as_str().unwrap().to_owned();

    let t = eventually(
        "CRM's trace of the order",
        Duration::from_secs(45),
        || async {
            jaeger
                .find("crm-api", &[("order.id", order_id.as_str())])
                .await
                .into_iter()
                .find(|t| {
                    !t.named("process mes.order_created", Some("mes-api"))
                        .is_empty()
                })
        },
    )
    .await;
    let root = t
        .spans
        .iter()
        .find(|s| s.parent_id.is_none())
        .expect("a root span");
    assert_eq!(root.service, "crm-api");
    assert_eq!(root.name, "POST /orders");
    assert!(t.services().iter().all(|s| s != "shop-api"));
    p.stop().await;
}
