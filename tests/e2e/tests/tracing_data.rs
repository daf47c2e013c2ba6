//! The data the seed asks traces to record, checked in the real Jaeger: catalog requests and
//! responses, 3D-design edits and saves, dead-lettered messages, and spans surviving a graceful
//! stop.

mod common;

use common::processes::{free_port, otel_env, ServiceProcess};
use common::{crm_db, shop_db};
use printflow_test_support::{eventually, identity, Jaeger, TestVhost, TraceView};
use serde_json::{json, Value};
use std::time::Duration;

async fn start_shop(extra: &[(&'static str, String)]) -> (ServiceProcess, std::path::PathBuf) {
    let db = shop_db().await;
    let models = std::env::temp_dir().join(format!("printflow-models-{}", uuid::Uuid::new_v4()));
    let mut env = otel_env();
    env.push(("SHOP_DATABASE_URL", db.url.clone()));
    env.push(("SHOP_MODEL_STORE_DIR", models.display().to_string()));
    // Nothing here orders; point CRM somewhere closed.
    env.push(("SHOP_CRM_URL", format!("http://127.0.0.1:{}", free_port())));
    env.extend(extra.iter().cloned());
    (ServiceProcess::start("shop", &env).await, models)
}

fn trace_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-trace-id")
        .expect("x-trace-id header")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn wait_trace(jaeger: &Jaeger, id: &str, span: &'static str) -> TraceView {
    eventually(
        &format!("span {span} in trace {id}"),
        Duration::from_secs(30),
        || async {
            let t = jaeger.trace(id).await?;
            (!t.named(span, None).is_empty()).then_some(t)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_search_edit_and_save_are_recorded_with_their_outcomes() {
    let jaeger = Jaeger::from_env();
    let (shop, models) = start_shop(&[]).await;
    let http = identity::client_as_user("alice").await;

    // A search: its parameters and result count.
    let resp = http
        .get(format!(
            "{}/catalog/products?q=organizer&material=PLA&sort=price_desc&page=1&per_page=5",
            shop.url
        ))
        .send()
        .await
        .unwrap();
    let id = trace_id(&resp);
    let page: Value = resp.json().await.unwrap();
    let returned = page["items"].as_array().unwrap().len();
    assert!(returned > 0);
    let t = wait_trace(&jaeger, &id, "catalog.search").await;
    let search = t.named("catalog.search", None)[0];
    assert_eq!(
        search.tag("catalog.search.query").as_deref(),
        Some("organizer")
    );
    assert_eq!(
        search.tag("catalog.search.material").as_deref(),
        Some("PLA")
    );
    assert_eq!(
        search.tag("catalog.search.sort").as_deref(),
        Some("price_desc")
    );
    assert_eq!(
        search.tag("catalog.search.result_count"),
        Some(returned.to_string())
    );
    assert_eq!(
        search.tag("catalog.search.total"),
        Some(page["total"].to_string())
    );

    // An empty search is visible as such.
    let resp = http
        .get(format!("{}/catalog/products?q=zzqxqzz", shop.url))
        .send()
        .await
        .unwrap();
    let id = trace_id(&resp);
    let t = wait_trace(&jaeger, &id, "catalog.search").await;
    let search = t.named("catalog.search", None)[0];
    assert_eq!(
        search.tag("catalog.search.result_count").as_deref(),
        Some("0")
    );
    assert!(search.event("catalog.search.empty").is_some());

    // A design: a rejected edit is ERROR with the reason.
    let product = page["items"][0]["id"].clone();
    let design: Value = http
        .post(format!("{}/designs", shop.url))
        .json(&json!({"product_id": product}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let design_id = design["design_id"].as_str().unwrap().to_owned();
    let dimension = if design["parameters"]["shape"] == "cylinder" {
        "diameter_mm"
    } else {
        "width_mm"
    };
    let resp = http
        .post(format!("{}/designs/{design_id}/edits", shop.url))
        .json(&json!({"operations": [{"op": "set_dimension", "dimension": dimension, "value": 5000.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let id = trace_id(&resp);
    let t = wait_trace(&jaeger, &id, "design.edit").await;
    let edit = t.named("design.edit", None)[0];
    assert!(edit.is_error(), "rejected edit is ERROR: {:?}", edit.tags);
    assert_eq!(edit.tag("design.id").as_deref(), Some(design_id.as_str()));
    let op = edit
        .event("design.edit.operation")
        .expect("per-operation event");
    assert_eq!(op.get("design.edit.accepted"), Some(&Value::Bool(false)));
    assert!(op.contains_key("design.edit.rejection_reason"), "{op:?}");

    // Grow it past the printer (each edit valid on its own), then a save fails with the reason.
    for _ in 0..2 {
        let resp = http
            .post(format!("{}/designs/{design_id}/edits", shop.url))
            .json(&json!({"operations": [{"op": "set_dimension", "dimension": dimension, "value": 900.0}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = http
        .post(format!("{}/designs/{design_id}/versions", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let id = trace_id(&resp);
    let t = wait_trace(&jaeger, &id, "design.save").await;
    let save = t.named("design.save", None)[0];
    assert!(save.is_error());
    assert_eq!(save.tag("design.save.outcome").as_deref(), Some("failed"));
    assert!(save
        .tag("design.save.failure_reason")
        .unwrap()
        .contains("build volume"));

    // A good save: ok, with version and checksum, and a child span for the file write.
    let resp = http
        .post(format!("{}/designs/{design_id}/edits", shop.url))
        .json(&json!({"operations": [{"op": "set_dimension", "dimension": dimension, "value": 40.0}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .post(format!("{}/designs/{design_id}/versions", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = trace_id(&resp);
    let version: Value = resp.json().await.unwrap();
    let t = wait_trace(&jaeger, &id, "model_store.write").await;
    let save = t.named("design.save", None)[0];
    assert_eq!(save.tag("design.save.outcome").as_deref(), Some("ok"));
    assert_eq!(
        save.tag("design.model.sha256"),
        version["sha256"].as_str().map(str::to_owned)
    );
    let write = t.named("model_store.write", None)[0];
    assert_eq!(write.parent_id.as_deref(), Some(save.span_id.as_str()));

    assert!(shop.stop().await);
    let _ = std::fs::remove_dir_all(models);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_right_after_a_request_still_delivers_its_spans() {
    let jaeger = Jaeger::from_env();
    // A one-minute export delay: only the shutdown flush can deliver the span in time.
    let (shop, models) = start_shop(&[("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned())]).await;
    let resp = reqwest::get(format!("{}/catalog/products?q=hook", shop.url))
        .await
        .unwrap();
    let id = trace_id(&resp);
    assert!(shop.stop().await, "clean exit on SIGTERM");
    let t = wait_trace(&jaeger, &id, "catalog.search").await;
    assert!(!t
        .named("GET /catalog/products", Some("shop-api"))
        .is_empty());
    let _ = std::fs::remove_dir_all(models);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_message_keeps_its_trace_and_shows_why() {
    let jaeger = Jaeger::from_env();
    let vhost = TestVhost::new().await;
    let db = crm_db().await;
    let mut env = otel_env();
    env.push(("CRM_DATABASE_URL", db.url.clone()));
    env.push(("CRM_AMQP_URL", vhost.amqp_url.clone()));
    env.push(("CRM_MES_URL", "http://127.0.0.1:9".to_owned()));
    let crm = ServiceProcess::start("crm", &env).await;

    // The producer's context, as a real producer would have injected it.
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = &format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0);
    vhost
        .publish_raw_with_headers(
            "printflow.events",
            "order.status_changed",
            "this is not json",
            json!({"traceparent": format!("00-{trace}-{parent}-01")}),
        )
        .await;

    let t = eventually(
        "the dead-lettering in Jaeger",
        Duration::from_secs(30),
        || async {
            let t = jaeger.trace(&trace).await?;
            let found = t
                .named("process crm.order_status_changed", Some("crm-api"))
                .iter()
                .any(|s| s.event("message dead-lettered").is_some());
            found.then_some(t)
        },
    )
    .await;
    let consume = t.named("process crm.order_status_changed", Some("crm-api"))[0];
    assert_eq!(
        consume.parent_id.as_deref(),
        Some(parent.as_str()),
        "continues the producer's trace"
    );
    assert!(consume.is_error());
    let event = consume.event("message dead-lettered").unwrap();
    let reason = event
        .get("messaging.rabbitmq.dead_letter.reason")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(reason.contains("malformed"), "{reason}");

    // The parked message still carries the trace context.
    let parked = eventually(
        "the message in the DLQ",
        Duration::from_secs(20),
        || async {
            let msgs = vhost.peek("crm.order_status_changed.dlq", 1).await;
            msgs.into_iter().next()
        },
    )
    .await;
    let tp = parked["properties"]["headers"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    assert!(tp.contains(&trace), "{parked}");

    assert!(crm.stop().await);
    vhost.delete().await;
}
