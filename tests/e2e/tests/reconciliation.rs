//! The reconciler on the real services: a fault loses what the design cannot prevent losing
//! (a message dropped after its transaction committed, an update skipped), the reconciler
//! reports the order within its grace period, and an admin's repair brings CRM back in line
//! with MES, recorded in the order's history.

mod common;

use common::Stack;
use printflow_test_support::identity::{client_as_user, metrics_text};
use printflow_test_support::{eventually, TestVhost};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

async fn stack(vhost: &TestVhost) -> Stack {
    Stack::start_with(
        &vhost.amqp_url,
        &[
            ("PRINTFLOW_FAULTS", "enabled".into()),
            ("CRM_RECONCILE_INTERVAL_SECONDS", "1".into()),
            ("CRM_RECONCILE_GRACE_SECONDS", "2".into()),
        ],
    )
    .await
}

async fn arm(base: &str, fault: &str) {
    let resp = client_as_user("ada")
        .await
        .put(format!("{base}/admin/faults/{fault}"))
        .json(&json!({"count": 1}))
        .send()
        .await
        .expect("arm");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

/// The reconciler's disagreements, as SRE reads them (`None` before the first run).
async fn disagreements(sre: &reqwest::Client, stack: &Stack) -> Option<Vec<Value>> {
    let report: Value = sre
        .get(format!("{}/reconciliation", stack.crm))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    report["disagreements"].as_array().cloned()
}

/// Waits until the reconciler reports `order_id` as `kind`.
async fn reported(stack: &Stack, order_id: &str, kind: &str) -> Value {
    let sre = client_as_user("riley").await;
    eventually(&format!("{order_id} reported as {kind}"), WAIT, || async {
        disagreements(&sre, stack)
            .await?
            .into_iter()
            .find(|d| d["order_id"] == order_id && d["kind"] == kind)
    })
    .await
}

async fn repair(stack: &Stack, order_id: &str, user: &str) -> (u16, Value) {
    let resp = client_as_user(user)
        .await
        .post(format!("{}/orders/{order_id}/repair", stack.crm))
        .send()
        .await
        .expect("repair");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn reconciled(stack: &Stack, order_id: &str) {
    let sre = client_as_user("riley").await;
    eventually(&format!("{order_id} reconciled"), WAIT, || async {
        let listed = disagreements(&sre, stack)
            .await?
            .iter()
            .any(|d| d["order_id"] == order_id);
        (!listed).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_order_created_is_reported_and_republished() {
    let vhost = TestVhost::new().await;
    let stack = stack(&vhost).await;
    let (design_id, version) = stack.saved_design().await;
    arm(&stack.crm, "outbox.drop.order.created").await;
    let order_id = stack.place_order(&design_id, version, 1).await;

    let finding = reported(&stack, &order_id, "order_created_not_in_mes").await;
    assert_eq!(finding["crm_status"], "NEW", "{finding}");
    assert_eq!(finding["mes_status"], Value::Null, "{finding}");
    let metrics = metrics_text(&stack.crm).await;
    assert!(
        metrics.contains(
            "printflow_reconciliation_disagreements{kind=\"order_created_not_in_mes\"} 1"
        ),
        "{metrics}"
    );

    // Support reads the report but may not repair; an admin may.
    assert_eq!(repair(&stack, &order_id, "sam").await.0, 403);
    let (status, outcome) = repair(&stack, &order_id, "ada").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["action"], "republished");
    stack.wait_for_status(&order_id, "SHIPPED", WAIT).await;
    reconciled(&stack, &order_id).await;
    let history = stack
        .get(&format!("{}/orders/{order_id}/history", stack.crm))
        .await;
    assert_eq!(history["repairs"][0]["kind"], "order_created_not_in_mes");
    assert_eq!(history["repairs"][0]["repaired_by"], "ada");
    // Nothing left to repair.
    assert_eq!(repair(&stack, &order_id, "ada").await.0, 409);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_status_event_is_reported_and_reapplied() {
    let vhost = TestVhost::new().await;
    let stack = stack(&vhost).await;
    let (design_id, version) = stack.saved_design().await;
    arm(&stack.mes, "outbox.drop.order.status_changed").await;
    let order_id = stack.place_order(&design_id, version, 1).await;

    // MES ships it; CRM holds the later events, waiting for the lost first one.
    let finding = reported(&stack, &order_id, "status_events_missing").await;
    assert_eq!(finding["crm_sequence"], 0, "{finding}");
    let status = stack
        .get(&format!("{}/orders/{order_id}/status", stack.crm))
        .await;
    assert_eq!(status["status"], "NEW", "CRM never saw ACCEPTED");

    let (status, outcome) = repair(&stack, &order_id, "ada").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["action"], "reapplied");
    stack.wait_for_status(&order_id, "SHIPPED", WAIT).await;
    reconciled(&stack, &order_id).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_skipped_update_is_a_mismatch_set_to_mes_status() {
    let vhost = TestVhost::new().await;
    let stack = stack(&vhost).await;
    let (design_id, version) = stack.saved_design().await;
    arm(&stack.crm, "status_event.skip_update").await;
    let order_id = stack.place_order(&design_id, version, 1).await;

    // CRM recorded ACCEPTED as applied without moving; every later step is then illegal from
    // NEW and rejected, while MES ships the order.
    let finding = eventually("MES done and the mismatch reported", WAIT, || async {
        let f = reported(&stack, &order_id, "status_mismatch").await;
        (f["mes_status"] == "SHIPPED").then_some(f)
    })
    .await;
    assert_eq!(finding["crm_status"], "NEW", "{finding}");

    let (status, outcome) = repair(&stack, &order_id, "ada").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["action"], "status_set");
    let history = stack
        .get(&format!("{}/orders/{order_id}/history", stack.crm))
        .await;
    let last = history["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["to_status"], "SHIPPED", "{history}");
    assert_eq!(last["source"], "reconciliation", "{history}");
    reconciled(&stack, &order_id).await;
    stack.shutdown().await;
}
