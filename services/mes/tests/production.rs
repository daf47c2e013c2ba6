//! From `order.created` to `SHIPPED` (or `FAILED`) against real PostgreSQL and RabbitMQ.

mod common;

use common::*;
use printflow_contracts::{FailureReason, OrderStatus};
use printflow_messaging::consumer::REASON_HEADER;
use printflow_messaging::topology::MES_ORDER_CREATED;
use uuid::Uuid;

#[tokio::test]
async fn an_order_goes_through_every_phase_with_gap_free_events() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("happy", 20.0);
    shop.put(design, 3, model.clone());
    let order = order_for(design, 3, &model, 3_600);
    let order_id = order.data.order_id;

    app.publish(&order).await;
    let job = app.wait_status(order_id, OrderStatus::Shipped).await;
    let events = app.wait_event(order_id, 6).await;

    assert_eq!(
        steps(&events),
        numbered(&HAPPY),
        "each status once, in order, numbered 1..6"
    );
    assert!(events
        .iter()
        .all(|e| e.source == "mes" && e.failure.is_none()));
    assert_eq!(job["sequence"], 6);
    assert_eq!(job["model_verified"], true);
    assert_eq!(job["design_id"], design.to_string());
    assert_eq!(job["model_sha256"], sha256_hex(&model));
    assert_eq!(job["attempts"], 1);

    // MES's own history is exactly what it published.
    let (status, history) = app
        .get(&format!("/jobs/{}/events", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), events.len());
    let mut from = OrderStatus::New;
    for (entry, event) in history.iter().zip(&events) {
        assert_eq!(entry["sequence"], event.sequence);
        assert_eq!(entry["to_status"], event.status.as_str());
        assert_eq!(entry["from_status"], from.as_str());
        from = event.status;
    }

    // Finished jobs leave the printer queues.
    let (_, printers) = app.get("/printers").await;
    for p in printers.as_array().unwrap() {
        assert_eq!(p["queue_length"], 0, "{p}");
        assert!(p["current_job"].is_null());
    }
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_order_created_makes_one_job_and_one_accepted_event() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("dup", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 600);
    let barrier = order_for(design, 1, &model, 600);

    // The same message twice (as after a redelivery), then another order: the consumer handles
    // messages in queue order, so once the barrier's job exists both copies were handled.
    app.publish(&order).await;
    app.publish(&order).await;
    app.publish(&barrier).await;
    app.wait_status(order.data.order_id, OrderStatus::Shipped)
        .await;
    app.wait_status(barrier.data.order_id, OrderStatus::Shipped)
        .await;
    let events = app.wait_event(order.data.order_id, 6).await;
    app.wait_event(barrier.data.order_id, 6).await;

    assert_eq!(steps(&events), numbered(&HAPPY));
    let (_, page) = app.get("/jobs?per_page=100").await;
    assert_eq!(page["total"], 2, "one job per order: {page}");
    let ours: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["order_id"] == order.data.order_id.to_string())
        .collect();
    assert_eq!(ours.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_a_reason_and_consumption_goes_on() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("after poison", 10.0);
    shop.put(design, 1, model.clone());

    let not_json = b"this is not json".to_vec();
    let mut future_version = order_for(design, 1, &model, 60).to_json();
    future_version["schema_version"] = 99.into();
    let mut zero_quantity = order_for(design, 1, &model, 60);
    zero_quantity.data.spec.quantity = 0;
    app.publish_body(Uuid::now_v7(), not_json).await;
    app.publish_body(Uuid::now_v7(), future_version.to_string().into_bytes())
        .await;
    app.publish(&zero_quantity).await;
    let valid = order_for(design, 1, &model, 60);
    app.publish(&valid).await;

    app.wait_status(valid.data.order_id, OrderStatus::Shipped)
        .await;
    let dead = app.drain(&MES_ORDER_CREATED.dead_letter_queue(), 3).await;
    let reasons: Vec<String> = dead
        .iter()
        .map(|m| header(m, REASON_HEADER).expect("dead letter carries its reason"))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("malformed"), "{}", reasons[0]);
    assert!(reasons[1].contains("schema_version 99"), "{}", reasons[1]);
    assert!(reasons[2].contains("quantity"), "{}", reasons[2]);
    assert_eq!(
        dead[2].delivery.data,
        serde_json::to_vec(&zero_quantity).unwrap()
    );
    assert!(app.job_for(zero_quantity.data.order_id).await.is_none());
    app.stop().await;
}

#[tokio::test]
async fn a_model_that_is_not_the_ordered_one_fails_the_job() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[]).await;
    let ordered = cube_stl("ordered", 10.0);

    // Shop now serves other bytes for the version the order was placed with.
    let changed = Uuid::now_v7();
    shop.put(changed, 1, cube_stl("edited later", 10.0));
    let mismatch = order_for(changed, 1, &ordered, 60);
    // Shop does not know the version at all.
    let missing = order_for(Uuid::now_v7(), 1, &ordered, 60);
    // The bytes match the order but are not a binary STL.
    let junk = b"solid cube\nendsolid cube\n".repeat(4);
    let not_stl_design = Uuid::now_v7();
    shop.put(not_stl_design, 2, junk.clone());
    let not_stl = order_for(not_stl_design, 2, &junk, 60);

    // Shop lost the saved file (its 500 with code model_file_missing): permanent, not a delay.
    let lost_design = Uuid::now_v7();
    shop.put_error(
        lost_design,
        1,
        500,
        serde_json::json!({"code": "model_file_missing", "message": "the saved file is gone"}),
    );
    let lost = order_for(lost_design, 1, &ordered, 60);

    for o in [&mismatch, &missing, &not_stl, &lost] {
        app.publish(o).await;
    }
    let cases = [
        (&mismatch, FailureReason::ChecksumMismatch),
        (&missing, FailureReason::BadModel),
        (&not_stl, FailureReason::BadModel),
        (&lost, FailureReason::BadModel),
    ];
    for (order, reason) in cases {
        let id = order.data.order_id;
        let job = app.wait_status(id, OrderStatus::Failed).await;
        assert_eq!(job["failure_reason"], reason.as_str());
        assert_eq!(job["model_verified"], false);
        let events = app.wait_event(id, 2).await;
        assert_eq!(
            steps(&events),
            numbered(&[OrderStatus::Accepted, OrderStatus::Failed])
        );
        assert_eq!(events[1].failure, Some(reason));
        assert_eq!(events[1].detail.as_deref(), job["detail"].as_str());
    }
    let job = app.job_for(lost.data.order_id).await.unwrap();
    assert!(
        job["detail"]
            .as_str()
            .unwrap()
            .contains("model_file_missing"),
        "{job}"
    );
    let job = app.job_for(mismatch.data.order_id).await.unwrap();
    let detail = job["detail"].as_str().unwrap();
    assert!(
        detail.contains(&sha256_hex(&ordered)),
        "names the expected digest: {detail}"
    );
    assert!(
        detail.contains(&sha256_hex(&cube_stl("edited later", 10.0))),
        "names the actual digest: {detail}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_shop_delays_the_job_without_failing_it() {
    let port = free_port().await;
    let app = spawn_app(&format!("http://127.0.0.1:{port}"), &[]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("patience", 10.0);
    let order = order_for(design, 1, &model, 60);
    let id = order.data.order_id;
    app.publish(&order).await;

    // Nobody listens: the fetch fails, the job stays ACCEPTED with a back-off.
    let job = eventually_job(&app, id, |j| j["model_fetch_failures"].as_i64() >= Some(1)).await;
    assert_eq!(job["status"], "ACCEPTED");
    assert!(job["model_fetch_error"]
        .as_str()
        .unwrap()
        .contains("connect"));

    // Shop comes up but answers 503: still only a delay.
    let shop = FakeShop::start_on(port).await;
    shop.set_up(false);
    shop.put(design, 1, model.clone());
    let job = eventually_job(&app, id, |j| j["model_fetch_failures"].as_i64() >= Some(2)).await;
    assert_eq!(job["status"], "ACCEPTED");
    assert!(job["model_fetch_error"].as_str().unwrap().contains("503"));

    shop.set_up(true);
    let job = app.wait_status(id, OrderStatus::Shipped).await;
    assert_eq!(job["model_fetch_failures"], 0);
    assert!(job["model_fetch_error"].is_null());
    let events = app.wait_event(id, 6).await;
    assert_eq!(steps(&events), numbered(&HAPPY), "no FAILED in between");
    app.stop().await;
}

async fn eventually_job(
    app: &TestApp,
    order_id: Uuid,
    cond: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    printflow_test_support::eventually("job condition", WAIT, || async {
        app.job_for(order_id).await.filter(|j| cond(j))
    })
    .await
}

#[tokio::test]
async fn simulated_print_failures_and_qc_rejections_fail_the_job() {
    let shop = FakeShop::start().await;
    let design = Uuid::now_v7();
    let model = cube_stl("unlucky", 10.0);
    shop.put(design, 1, model.clone());
    use OrderStatus::*;
    let cases = [
        (
            "MES_PRINT_FAILURE_RATE",
            FailureReason::PrintFailure,
            vec![Accepted, Printing, Failed],
        ),
        (
            "MES_QC_REJECT_RATE",
            FailureReason::QcRejected,
            vec![Accepted, Printing, PostProcessing, QualityCheck, Failed],
        ),
    ];
    for (setting, reason, path) in cases {
        let app = spawn_app(&shop.url, &[(setting, "1")]).await;
        let order = order_for(design, 1, &model, 60);
        app.publish(&order).await;
        let job = app.wait_status(order.data.order_id, Failed).await;
        assert_eq!(job["failure_reason"], reason.as_str());
        let events = app.wait_event(order.data.order_id, path.len() as i64).await;
        assert_eq!(steps(&events), numbered(&path), "{setting}");
        assert_eq!(events.last().unwrap().failure, Some(reason));
        app.stop().await;
    }
}

#[tokio::test]
async fn two_instances_share_the_work_without_doing_anything_twice() {
    let shop = FakeShop::start().await;
    let mut app = spawn_app(&shop.url, &[("MES_PRINTERS", "2")]).await;
    app.spawn_peer().await;
    let design = Uuid::now_v7();
    let model = cube_stl("scale out", 10.0);
    shop.put(design, 1, model.clone());
    let orders: Vec<_> = (0..12).map(|_| order_for(design, 1, &model, 600)).collect();
    for o in &orders {
        app.publish(o).await;
    }
    for o in &orders {
        app.wait_status(o.data.order_id, OrderStatus::Shipped).await;
        // Two relays may publish one order's events out of order (CRM's inbox puts them back in
        // sequence), so wait for every sequence and compare them sorted.
        let mut published = Vec::new();
        for sequence in 1..=6 {
            published = steps(&app.wait_event(o.data.order_id, sequence).await);
        }
        published.sort_by_key(|(sequence, _)| *sequence);
        assert_eq!(published, numbered(&HAPPY), "order {}", o.data.order_id);
    }
    let (_, page) = app.get("/jobs?per_page=100").await;
    assert_eq!(page["total"], orders.len());
    // Both instances created printers at start; there are still exactly two.
    assert_eq!(app.printer_ids().await.len(), 2);
    app.stop().await;
}
