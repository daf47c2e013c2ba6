//! The Shop's drill faults: armed by an `admin`, each makes its failure point happen for real
//! (the search hits its statement timeout; the save-time mesh check refuses a broken mesh).

mod common;

use common::{assert_error, spawn_app_with, TestApp};
use printflow_test_support::identity;
use serde_json::{json, Value};

async fn arm(app: &TestApp, name: &str, arming: Value) {
    let resp = identity::client_as_user("ada")
        .await
        .put(app.url(&format!("/admin/faults/{name}")))
        .json(&arming)
        .send()
        .await
        .expect("PUT fault");
    let (status, body) = common::split(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true, "{body}");
}

fn enabled() -> Vec<(&'static str, String)> {
    vec![
        ("PRINTFLOW_FAULTS", "enabled".into()),
        ("SHOP_SEARCH_TIMEOUT_MS", "300".into()),
    ]
}

#[tokio::test]
async fn a_slow_search_statement_answers_search_timeout() {
    let app = spawn_app_with(&enabled()).await;
    arm(
        &app,
        "catalog.search.slow",
        json!({"count": 1, "delay_ms": 2000}),
    )
    .await;
    let got = app.get("/catalog/products?q=knob").await;
    assert_error(&got, 503, "search_timeout", None);
    // One hit: the next search is served.
    assert_eq!(app.get("/catalog/products?q=knob").await.0, 200);
}

#[tokio::test]
async fn a_non_manifold_mesh_is_refused_at_save_and_recorded() {
    let app = spawn_app_with(&enabled()).await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = design["design_id"].as_str().unwrap().to_owned();
    arm(&app, "model.mesh.non_manifold", json!({"count": 1})).await;
    let got = app.save(&id).await;
    assert_error(&got, 422, "design_invalid", None);
    let (_, saves) = app.get(&format!("/designs/{id}/saves")).await;
    assert_eq!(saves[0]["outcome"], "failed", "{saves}");
    let (_, versions) = app.get(&format!("/designs/{id}/versions")).await;
    assert_eq!(versions, json!([]), "nothing was stored");
    // The generator works again: the same draft saves.
    assert_eq!(app.save(&id).await.0, 201);
}
