//! Seed points 3 and 6 on the real services: a model file lost from the store, or replaced
//! after the order, is never printed. An order on a lost file is refused and counted
//! (`printflow_model_files_unreadable_total`, alert `ModelFileUnreadable`); a job whose file
//! changed after the order fails with `checksum_mismatch`, CRM shows it FAILED with that reason,
//! and `printflow_job_failures_total{reason}` counts it (alert `ModelFileFailingJobs`).

mod common;

use common::Stack;
use printflow_test_support::identity::{client_as_user, metrics_text};
use printflow_test_support::TestVhost;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn failure_reason(stack: &Stack, order_id: &str) -> String {
    stack.wait_for_status(order_id, "FAILED", WAIT).await;
    let order = stack.get(&format!("{}/orders/{order_id}", stack.crm)).await;
    order["failure_reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_on_a_model_file_lost_from_the_store_is_refused_and_counted() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    let (design_id, version) = stack.saved_design().await;
    let file = stack
        .model_dir
        .join(format!("designs/{design_id}/v{version}.stl"));
    std::fs::remove_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    // Refused before CRM and MES hear of it: nothing is ever printed from a lost file.
    let (status, body) = stack
        .post(
            &format!("{}/orders", stack.shop),
            &json!({
                "design_id": design_id,
                "design_version": version,
                "quantity": 1,
                "shipping": "standard",
                "customer": {"name": "Test Customer 1", "email": "customer-1@example.test"}
            }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (500, Some("model_file_missing")),
        "{body}"
    );
    let metrics = metrics_text(&stack.shop).await;
    assert!(
        metrics.contains("printflow_model_files_unreadable_total{reason=\"missing\"} 1"),
        "{metrics}"
    );
    let jobs = stack.get(&format!("{}/jobs", stack.mes)).await;
    assert_eq!(jobs["total"], 0, "{jobs}");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_model_replaced_after_the_order_fails_the_job_with_checksum_mismatch() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start_with(&vhost.amqp_url, &[("PRINTFLOW_FAULTS", "enabled".into())]).await;
    let (design_id, version) = stack.saved_design().await;
    let resp = client_as_user("ada")
        .await
        .put(format!(
            "{}/admin/faults/model.version.replaced",
            stack.shop
        ))
        .json(&json!({"count": 1}))
        .send()
        .await
        .expect("arm");
    assert_eq!(resp.status(), 200);
    let order_id = stack.place_order(&design_id, version, 1).await;
    assert_eq!(failure_reason(&stack, &order_id).await, "checksum_mismatch");
    let metrics = metrics_text(&stack.mes).await;
    assert!(
        metrics.contains("printflow_job_failures_total{reason=\"checksum_mismatch\"} 1"),
        "{metrics}"
    );
    stack.shutdown().await;
}
