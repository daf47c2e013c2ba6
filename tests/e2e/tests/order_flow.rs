//! The whole journey across the three real services, RabbitMQ and PostgreSQL: an order placed
//! through Shop is produced by MES and reaches SHIPPED in CRM with a complete, ordered history.

mod common;

use common::{Stack, HAPPY_PATH};
use printflow_test_support::TestVhost;
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
