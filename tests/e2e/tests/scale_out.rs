//! Two processes of each service on one database and one broker carry order traffic; one of
//! each is SIGKILLed mid-traffic, and every order still ends up reconciled: one MES job per CRM
//! order, the same final status on both sides, outboxes drained, no job printed twice.

mod common;

use common::fleet::{order_traffic, Fleet, LiveShops};
use printflow_test_support::TestVhost;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_each_service_lose_one_of_each_and_every_order_is_still_reconciled() {
    let vhost = TestVhost::new().await;
    let mut fleet = Fleet::start(2, &vhost.amqp_url, |_| Vec::new()).await;
    let shops: LiveShops = Arc::new(Mutex::new(fleet.live_shops()));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(order_traffic(6, shops.clone(), stop.clone()));

    // Both instances take orders, consume and print for a while ...
    let crm = sqlx::PgPool::connect(&fleet.crm_db.url).await.unwrap();
    printflow_test_support::eventually(
        "30 orders placed through both Shops",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
                .fetch_one(&crm)
                .await
                .ok()?;
            (n >= 30).then_some(())
        },
    )
    .await;
    // ... then instance 2 of every service dies at once; the load balancer notices and sends
    // the customers to instance 1 only.
    let doomed = shops.lock().unwrap()[1].clone();
    fleet.kill_instance(1).await;
    shops.lock().unwrap().retain(|s| *s != doomed);
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&crm)
        .await
        .unwrap();
    printflow_test_support::eventually(
        "30 more orders placed after the kill",
        Duration::from_secs(60),
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
                .fetch_one(&crm)
                .await
                .ok()?;
            (n >= before + 30).then_some(())
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let traffic = traffic.await.unwrap();

    // The survivors finish the killed instances' work: unacked messages come back, locked
    // outbox rows are released, model-check leases expire.
    let end = fleet.wait_reconciled(Duration::from_secs(120)).await;
    for id in &traffic.placed {
        assert!(
            end.ids.contains(id),
            "order {id} was confirmed but CRM lost it"
        );
    }
    assert_eq!(end.printed_twice, 0, "a job was started twice: {end:?}");
    assert_eq!(
        end.by_status.get("SHIPPED").copied().unwrap_or(0),
        end.orders,
        "every order ships (no failures configured): {end:?}"
    );
    // Requests caught by the kill may fail; the rest must not.
    assert!(
        traffic.failed.len() <= 12,
        "more failed requests than the 6 clients caught by the kill: {:?}",
        traffic.failed
    );
    fleet.stop().await;
    vhost.delete().await;
}
