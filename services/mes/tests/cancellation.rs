//! `order.cancelled` from CRM stops the order's job: an accepted job waiting for a printer is
//! cancelled (and never printed once the printers run again), CRM hears of it as the next
//! status event; a cancellation that overtakes its `order.created` still cancels the job the
//! order then gets; a job already printing goes on; a repeated cancellation changes nothing; an
//! unreadable one is dead-lettered with the reason.

mod common;

use common::*;
use printflow_contracts::OrderStatus;
use printflow_messaging::consumer::REASON_HEADER;
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{eventually, identity};
use uuid::Uuid;

#[tokio::test]
async fn an_accepted_job_is_cancelled_and_never_printed() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    app.set_printers("pause").await;
    let design = Uuid::now_v7();
    let model = cube_stl("cancel", 10.0);
    shop.put(design, 1, model.clone());
    let cancelled = order_for(design, 1, &model, 600);
    let other = order_for(design, 1, &model, 600);
    let id = cancelled.data.order_id;
    app.publish(&cancelled).await;
    app.wait_status(id, OrderStatus::Accepted).await;

    app.publish_cancel(id).await;
    let job = app.wait_status(id, OrderStatus::Cancelled).await;
    assert_eq!(job["detail"], "cancelled in CRM");
    let events = app.wait_event(id, 2).await;
    assert_eq!(
        steps(&events),
        numbered(&[OrderStatus::Accepted, OrderStatus::Cancelled]),
        "CRM hears of it as the next status"
    );
    // A repeat changes nothing.
    app.publish_cancel(id).await;

    // The printers run again and print another order; the cancelled one stays cancelled.
    app.publish(&other).await;
    app.set_printers("resume").await;
    app.wait_status(other.data.order_id, OrderStatus::Shipped)
        .await;
    let job = app.job_for(id).await.expect("the job is kept");
    assert_eq!(job["status"], "CANCELLED");
    assert_eq!(job["sequence"], 2, "nothing after the cancellation");
    assert_eq!(app.events.for_order(id).len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_cancellation_that_overtakes_its_order_cancels_the_job_it_gets() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("overtaken", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 600);
    let id = order.data.order_id;

    app.publish_cancel(id).await;
    // The note is written once the cancellation is consumed.
    eventually("the cancellation noted", WAIT, || async {
        let noted: Option<Uuid> =
            sqlx::query_scalar("SELECT order_id FROM cancelled_orders WHERE order_id = $1")
                .bind(id)
                .fetch_optional(&app.db.pool)
                .await
                .unwrap();
        noted
    })
    .await;
    assert!(
        app.job_for(id).await.is_none(),
        "no job before the order arrives"
    );

    app.publish(&order).await;
    let job = app.wait_status(id, OrderStatus::Cancelled).await;
    assert_eq!(job["printer_id"], serde_json::Value::Null, "never queued");
    let events = app.wait_event(id, 1).await;
    assert_eq!(steps(&events), numbered(&[OrderStatus::Cancelled]));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cancelled_orders")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the note is used up");
    app.stop().await;
}

#[tokio::test]
async fn a_job_already_printing_goes_on() {
    let shop = FakeShop::start().await;
    // Prints last long enough (3600 simulated seconds at this scale) to cancel during one.
    let app = spawn_app(&shop.url, &[("MES_TIME_SCALE", "0.001")]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("too late", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 3_600);
    let id = order.data.order_id;
    app.publish(&order).await;
    app.wait_status(id, OrderStatus::Printing).await;

    app.publish_cancel(id).await;
    // The cancellation is consumed and acknowledged (not dead-lettered), and the job prints on.
    eventually("the cancellation consumed", WAIT, || async {
        let text = identity::metrics_text(&app.base).await;
        let scrape = Scrape::parse(&text).ok()?;
        let labels = [("queue", "mes.order_cancelled"), ("outcome", "ok")];
        (scrape.value("printflow_messages_consumed_total", &labels) == Some(1.0)).then_some(())
    })
    .await;
    let job = app.wait_status(id, OrderStatus::PostProcessing).await;
    assert_eq!(job["status"], "POST_PROCESSING");
    assert!(
        app.events
            .for_order(id)
            .iter()
            .all(|e| e.status != OrderStatus::Cancelled),
        "no cancellation published"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreadable_cancellation_is_dead_lettered_with_its_reason() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    app.publish_cancel_body(Uuid::now_v7(), b"{not json".to_vec())
        .await;
    let parked = app.drain("mes.order_cancelled.dlq", 1).await;
    let reason = header(&parked[0], REASON_HEADER).expect("dead letter carries its reason");
    assert!(reason.contains("malformed"), "{reason}");
    app.stop().await;
}
