//! The whole journey across the three real services, RabbitMQ and PostgreSQL: an order placed
//! through Shop is produced by MES and reaches SHIPPED in CRM with a complete, ordered history;
//! one cancelled in CRM never reaches a printer.

mod common;

use common::{Stack, HAPPY_PATH};
use printflow_test_support::{eventually, TestVhost};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn order_placed_through_shop_is_shipped_with_full_history() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;

    let (design_id, version) = stack.saved_design().await;
    let order_id = stack.place_order(&design_id, version, 1).await;

    stack
        .wait_for_status(&order_id, "SHIPPED", Duration::from_secs(60))
        .await;

    // Shop answers the status through CRM, and agrees.
    let via_shop = stack
        .get(&format!("{}/orders/{order_id}/status", stack.shop))
        .await;
    assert_eq!(via_shop["status"], "SHIPPED");

    let history = stack
        .get(&format!("{}/orders/{order_id}/history", stack.crm))
        .await;
    let entries = history["entries"].as_array().expect("entries");
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, HAPPY_PATH, "history: {history}");
    // Versions count up by one; MES sequences are 1..=6 in order; timestamps never go back.
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["status_version"], (i + 1) as i64, "{entry}");
        if i > 0 {
            assert_eq!(entry["source"], "mes");
            assert_eq!(entry["source_sequence"], i as i64);
            let prev = entries[i - 1]["changed_at"].as_str().unwrap();
            assert!(entry["changed_at"].as_str().unwrap() >= prev, "{history}");
        }
    }

    // MES agrees on the end state and verified the model it printed.
    let job = stack
        .get(&format!("{}/orders/{order_id}/job", stack.mes))
        .await;
    assert_eq!(job["status"], "SHIPPED");

    stack.shutdown().await;
    vhost.delete().await;
}

/// A customer's order cancelled in CRM while it waits for a printer: MES stops its job, CRM
/// records MES's confirmation, and the job is never printed once the printers run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_cancelled_in_crm_is_never_printed() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    stack.set_printers("pause").await;
    let (design_id, version) = stack.saved_design().await;
    let cancelled = stack.place_order(&design_id, version, 1).await;
    stack
        .wait_for_status(&cancelled, "ACCEPTED", Duration::from_secs(60))
        .await;

    let (status, body) = stack
        .post(
            &format!("{}/orders/{cancelled}/cancel", stack.crm),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let job_url = format!("{}/orders/{cancelled}/job", stack.mes);
    eventually("MES stops the job", Duration::from_secs(30), || async {
        (stack.get(&job_url).await["status"] == "CANCELLED").then_some(())
    })
    .await;
    let events_url = format!("{}/orders/{cancelled}/events", stack.crm);
    let events = eventually(
        "CRM receives MES's confirmation",
        Duration::from_secs(30),
        || async {
            let v = stack.get(&events_url).await;
            (v["events"].as_array()?.len() == 2).then_some(v)
        },
    )
    .await;
    assert_eq!(events["events"][1]["status"], "CANCELLED");
    assert_eq!(events["events"][1]["outcome"], "applied", "{events}");

    // The printers run again: another order ships, the cancelled one stays cancelled.
    let other = stack.place_order(&design_id, version, 2).await;
    stack.set_printers("resume").await;
    stack
        .wait_for_status(&other, "SHIPPED", Duration::from_secs(60))
        .await;
    assert_eq!(stack.get(&job_url).await["status"], "CANCELLED");
    let status = stack
        .get(&format!("{}/orders/{cancelled}/status", stack.crm))
        .await;
    assert_eq!(status["status"], "CANCELLED");

    stack.shutdown().await;
    vhost.delete().await;
}
