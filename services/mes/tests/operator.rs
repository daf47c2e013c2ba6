//! Operator actions: pausing printers, manual quality control, retrying failed jobs.

mod common;

use common::*;
use printflow_contracts::{FailureReason, OrderStatus};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// Asserts the order's job stays in `status` for `ticks` scheduler periods. This bounded window
/// *is* the assertion (nothing must happen), so it is the one place the tests wait on a clock.
async fn stays(app: &TestApp, order_id: Uuid, status: OrderStatus, ticks: u32) {
    for _ in 0..ticks {
        let job = app.job_for(order_id).await.expect("job exists");
        assert_eq!(
            job["status"],
            status.as_str(),
            "job moved while it should not: {job}"
        );
        tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
    }
}

#[tokio::test]
async fn a_paused_printer_holds_its_queue_and_freezes_its_print() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[("MES_PRINTERS", "1")]).await;
    let printer = app.printer_ids().await;
    assert_eq!(printer.len(), 1);
    let printer = printer[0];

    let (status, paused) = app.post(&format!("/printers/{printer}/pause"), None).await;
    assert_eq!(status, 200);
    assert_eq!(paused["paused"], true);
    let (status, again) = app.post(&format!("/printers/{printer}/pause"), None).await;
    assert_eq!(status, 200, "pause is idempotent");
    assert_eq!(
        again["paused_at"], paused["paused_at"],
        "a second pause keeps the first time"
    );

    // 100 000 simulated s x 0.00001 = a 1 s print: long enough to pause it mid-way.
    let design = Uuid::now_v7();
    let model = cube_stl("pause", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 100_000);
    let id = order.data.order_id;
    app.publish(&order).await;

    // Queued on the paused printer (the only one), verified, but not started.
    eventually_verified(&app, id).await;
    stays(&app, id, OrderStatus::Accepted, 10).await;
    let (_, view) = app.get(&format!("/printers/{printer}")).await;
    assert!(view["current_job"].is_null());
    assert_eq!(view["queue_length"], 1);
    assert_eq!(view["queue"][0]["order_id"], id.to_string());
    assert_eq!(view["queue"][0]["status"], "ACCEPTED");

    // Resume: it starts; pause mid-print: it is frozen past its end time.
    let (status, resumed) = app.post(&format!("/printers/{printer}/resume"), None).await;
    assert_eq!(status, 200);
    assert_eq!(resumed["paused"], false);
    assert!(resumed["paused_at"].is_null());
    let job = app.wait_status_closely(id, OrderStatus::Printing).await;
    let (status, _) = app.post(&format!("/printers/{printer}/pause"), None).await;
    assert_eq!(status, 200);
    let (_, view) = app.get(&format!("/printers/{printer}")).await;
    assert_eq!(view["current_job"]["order_id"], id.to_string());
    assert_eq!(view["current_job"]["job_id"], job["id"]);
    let ends: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(job["phase_ends_at"].clone()).unwrap();
    let frozen = app.job_for(id).await.unwrap();
    assert_eq!(
        frozen["status"], "PRINTING",
        "paused before the print ended"
    );
    while chrono::Utc::now() < ends {
        stays(&app, id, OrderStatus::Printing, 1).await;
    }
    stays(&app, id, OrderStatus::Printing, 10).await;

    app.post(&format!("/printers/{printer}/resume"), None).await;
    app.wait_status(id, OrderStatus::Shipped).await;
    let events = app.wait_event(id, 6).await;
    assert_eq!(steps(&events), numbered(&HAPPY));
    app.stop().await;
}

async fn eventually_verified(app: &TestApp, order_id: Uuid) {
    printflow_test_support::eventually("model verified", WAIT, || async {
        app.job_for(order_id)
            .await
            .filter(|j| j["model_verified"] == true)
    })
    .await;
}

#[tokio::test]
async fn manual_qc_pass_fail_and_retry_keep_the_sequence_going() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[("MES_QC_MODE", "manual")]).await;
    let design = Uuid::now_v7();
    let model = cube_stl("qc", 10.0);
    shop.put(design, 1, model.clone());
    let passed = order_for(design, 1, &model, 60);
    let rejected = order_for(design, 1, &model, 60);
    app.publish(&passed).await;
    app.publish(&rejected).await;

    // Manual mode: both wait in QUALITY_CHECK.
    let a = app
        .wait_status(passed.data.order_id, OrderStatus::QualityCheck)
        .await;
    let b = app
        .wait_status(rejected.data.order_id, OrderStatus::QualityCheck)
        .await;
    stays(&app, passed.data.order_id, OrderStatus::QualityCheck, 5).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    let b_id = b["id"].as_str().unwrap().to_owned();

    // Retry is only for FAILED jobs.
    let (status, err) = app.post(&format!("/jobs/{b_id}/retry"), None).await;
    assert_eq!(status, 409);
    assert_eq!(err["code"], "invalid_job_state");
    assert!(
        err["message"].as_str().unwrap().contains("QUALITY_CHECK"),
        "{err}"
    );

    // Pass -> READY -> SHIPPED.
    let (status, job) = app
        .post(
            &format!("/jobs/{a_id}/qc"),
            Some(json!({"result": "pass", "note": "clean"})),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "READY");
    app.wait_status(passed.data.order_id, OrderStatus::Shipped)
        .await;
    let events = app.wait_event(passed.data.order_id, 6).await;
    assert_eq!(steps(&events), numbered(&HAPPY));
    assert_eq!(events[4].detail.as_deref(), Some("clean"));

    // QC and retry on a shipped job are refused, naming its status.
    for (path, body) in [
        (format!("/jobs/{a_id}/qc"), Some(json!({"result": "fail"}))),
        (format!("/jobs/{a_id}/retry"), None),
    ] {
        let (status, err) = app.post(&path, body).await;
        assert_eq!(status, 409, "{path}");
        assert_eq!(err["code"], "invalid_job_state");
        assert!(
            err["message"].as_str().unwrap().contains("SHIPPED"),
            "{err}"
        );
    }

    // Fail -> FAILED qc_rejected with the note.
    let note = "layer shift at 12 mm";
    let (status, job) = app
        .post(
            &format!("/jobs/{b_id}/qc"),
            Some(json!({"result": "fail", "note": note})),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "FAILED");
    assert_eq!(job["failure_reason"], "qc_rejected");
    let events = app.wait_event(rejected.data.order_id, 5).await;
    assert_eq!(events[4].status, OrderStatus::Failed);
    assert_eq!(events[4].failure, Some(FailureReason::QcRejected));
    assert_eq!(events[4].detail.as_deref(), Some(note));
    let (status, err) = app
        .post(&format!("/jobs/{b_id}/qc"), Some(json!({"result": "pass"})))
        .await;
    assert_eq!(status, 409);
    assert!(err["message"].as_str().unwrap().contains("FAILED"), "{err}");

    // Retry: back to ACCEPTED with a new attempt, the model checked again, sequences continue.
    let (status, job) = app.post(&format!("/jobs/{b_id}/retry"), None).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "ACCEPTED");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["sequence"], 6);
    assert!(job["failure_reason"].is_null());
    let job = app
        .wait_status(rejected.data.order_id, OrderStatus::QualityCheck)
        .await;
    assert_eq!(job["model_verified"], true);
    let (status, _) = app
        .post(&format!("/jobs/{b_id}/qc"), Some(json!({"result": "pass"})))
        .await;
    assert_eq!(status, 200);
    app.wait_status(rejected.data.order_id, OrderStatus::Shipped)
        .await;
    let events = app.wait_event(rejected.data.order_id, 11).await;
    use OrderStatus::*;
    assert_eq!(
        steps(&events),
        numbered(&[
            Accepted,
            Printing,
            PostProcessing,
            QualityCheck,
            Failed,
            Accepted,
            Printing,
            PostProcessing,
            QualityCheck,
            Ready,
            Shipped
        ])
    );
    let (_, history) = app.get(&format!("/jobs/{b_id}/events")).await;
    let seqs: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test]
async fn an_idle_printer_takes_work_queued_behind_a_paused_one() {
    let shop = FakeShop::start().await;
    let app = spawn_app(&shop.url, &[("MES_PRINTERS", "2")]).await;
    let printers = app.printer_ids().await;
    assert_eq!(printers.len(), 2);
    // Pause both so the job is queued on one of them, then resume only the other one.
    for p in &printers {
        let (status, _) = app.post(&format!("/printers/{p}/pause"), None).await;
        assert_eq!(status, 200);
    }
    let design = Uuid::now_v7();
    let model = cube_stl("steal", 10.0);
    shop.put(design, 1, model.clone());
    let order = order_for(design, 1, &model, 1_000);
    let id = order.data.order_id;
    app.publish(&order).await;
    eventually_verified(&app, id).await;
    let queued_on = app.job_for(id).await.unwrap()["printer_id"]
        .as_i64()
        .unwrap();
    let other = *printers.iter().find(|p| **p != queued_on).unwrap();
    let (status, _) = app.post(&format!("/printers/{other}/resume"), None).await;
    assert_eq!(status, 200);

    // The paused printer's queue does not hold the job: the idle printer prints it.
    let job = app.wait_status(id, OrderStatus::Shipped).await;
    assert_eq!(job["printer_id"].as_i64(), Some(other), "{job}");
    app.stop().await;
}
