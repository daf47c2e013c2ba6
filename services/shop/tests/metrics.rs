//! `GET /metrics`: the contract's Shop metric names in OpenMetrics text, and the search and
//! design metrics moving with real requests.

mod common;

use common::{spawn_app_with, TestApp};
use printflow_metrics::scrape::Scrape;
use printflow_test_support::identity;
use serde_json::json;

/// Every metric the contract names for Shop (family names, as in the `# TYPE` lines).
const CONTRACT: [(&str, &str); 5] = [
    ("http_server_request_duration_seconds", "histogram"),
    ("printflow_catalog_search_duration_seconds", "histogram"),
    ("printflow_catalog_search_results", "histogram"),
    ("printflow_design_saves", "counter"),
    ("printflow_design_edits", "counter"),
];

async fn scrape(app: &TestApp) -> Scrape {
    // As Prometheus does: with a token of the `prometheus` client.
    let resp = identity::client_as_service("prometheus")
        .await
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    Scrape::parse(&text).expect("OpenMetrics text")
}

fn searches(scrape: &Scrape, outcome: &str) -> f64 {
    scrape
        .value(
            "printflow_catalog_search_duration_seconds_count",
            &[("outcome", outcome)],
        )
        .unwrap_or_else(|| panic!("no search series for {outcome}"))
}

#[tokio::test]
async fn searches_are_timed_and_counted_by_outcome() {
    let app = spawn_app_with(&[("SHOP_SEARCH_TIMEOUT_MS", "300".into())]).await;
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
    let before = scrape(&app).await;
    for (name, kind) in CONTRACT {
        assert_eq!(
            before.types.get(name).map(String::as_str),
            Some(kind),
            "{name} is exposed as a {kind}"
        );
    }
    for outcome in ["ok", "empty", "rejected", "failed"] {
        assert_eq!(searches(&before, outcome), 0.0, "{outcome} starts at 0");
    }

    let (status, page) = app.get("/catalog/products?q=knob").await;
    assert_eq!(status, 200);
    let total = page["total"].as_f64().unwrap();
    assert!(total > 0.0, "{page}");
    let (status, page) = app.get("/catalog/products?q=xyzzyplughfrobozz").await;
    assert_eq!((status, page["total"].as_i64()), (200, Some(0)));
    let (status, _) = app.get("/catalog/products?per_page=0").await;
    assert_eq!(status, 422);
    // A search that cannot finish (the table is locked) times out: failed.
    let mut locker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let (status, _) = app.get("/catalog/products?q=knob").await;
    assert_eq!(status, 503);
    locker.rollback().await.unwrap();

    let after = scrape(&app).await;
    for outcome in ["ok", "empty", "rejected", "failed"] {
        assert_eq!(searches(&after, outcome), 1.0, "one {outcome} search");
    }
    // The results histogram saw the two answered searches: `total` and 0.
    assert_eq!(
        after.value("printflow_catalog_search_results_count", &[]),
        Some(2.0)
    );
    assert_eq!(
        after.value("printflow_catalog_search_results_sum", &[]),
        Some(total)
    );
    assert_eq!(
        after.value("printflow_catalog_search_results_bucket", &[("le", "0.0")]),
        Some(1.0)
    );
    let failed_took = after
        .value(
            "printflow_catalog_search_duration_seconds_sum",
            &[("outcome", "failed")],
        )
        .unwrap();
    assert!(
        failed_took >= 0.25,
        "the timed-out search took {failed_took} s"
    );
    // The HTTP histogram has the same requests under the route template.
    let by_class = |class: &str| {
        after.value(
            "http_server_request_duration_seconds_count",
            &[
                ("method", "GET"),
                ("route", "/catalog/products"),
                ("status_class", class),
            ],
        )
    };
    assert_eq!(
        (by_class("2xx"), by_class("4xx"), by_class("5xx")),
        (Some(2.0), Some(1.0), Some(1.0))
    );
}

#[tokio::test]
async fn design_edits_and_saves_are_counted_by_outcome() {
    let app = spawn_app_with(&[]).await;
    let product = app.product_of_shape("box").await;
    let design = app.create_design(&product["id"]).await;
    let id = design["design_id"].as_str().unwrap().to_owned();
    let count = |scrape: &Scrape, name: &str, outcome: &str| {
        scrape
            .value(name, &[("outcome", outcome)])
            .unwrap_or_else(|| panic!("no {name}{{outcome={outcome}}}"))
    };

    // Too big for the printer (each edit is legal; the result is not): the save fails.
    let (status, _) = app
        .edit(
            &id,
            json!([{"op": "set_dimension", "dimension": "width_mm", "value": 100.0},
                   {"op": "set_dimension", "dimension": "depth_mm", "value": 100.0},
                   {"op": "set_dimension", "dimension": "height_mm", "value": 100.0},
                   {"op": "scale", "factor": 2.4}]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.edit(&id, json!([{"op": "scale", "factor": 100}])).await;
    assert_eq!(status, 422);
    let (status, _) = app.save(&id).await;
    assert_eq!(status, 422);
    let failed = scrape(&app).await;
    assert_eq!(
        count(&failed, "printflow_design_edits_total", "accepted"),
        1.0
    );
    assert_eq!(
        count(&failed, "printflow_design_edits_total", "rejected"),
        1.0
    );
    assert_eq!(
        count(&failed, "printflow_design_saves_total", "failed"),
        1.0
    );
    assert_eq!(count(&failed, "printflow_design_saves_total", "ok"), 0.0);

    // Shrunk back, it saves.
    let (status, _) = app.edit(&id, json!([{"op": "scale", "factor": 0.5}])).await;
    assert_eq!(status, 200);
    let (status, _) = app.save(&id).await;
    assert_eq!(status, 201);
    // An unknown design is no save attempt at all.
    let (status, _) = app.save(&uuid::Uuid::now_v7().to_string()).await;
    assert_eq!(status, 404);
    let saved = scrape(&app).await;
    assert_eq!(
        count(&saved, "printflow_design_edits_total", "accepted"),
        2.0
    );
    assert_eq!(count(&saved, "printflow_design_saves_total", "ok"), 1.0);
    assert_eq!(count(&saved, "printflow_design_saves_total", "failed"), 1.0);
}
