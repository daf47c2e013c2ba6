//! Distributed tracing against the real Jaeger, read back through its HTTP API. The services run
//! as their real binaries (each process has its own tracer provider and `service.name`).

mod common;

use common::processes::Processes;
use printflow_test_support::{eventually, Jaeger, TraceView};
use serde_json::{json, Value};
use std::time::Duration;

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
    let p = Processes::start(&[], |_| Vec::new()).await;
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
    let p = Processes::start(&[("OTEL_SDK_DISABLED", "true".to_owned())], |_| Vec::new()).await;
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
