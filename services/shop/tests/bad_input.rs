//! Bad input on every endpoint is a JSON 4xx, never a 500 or an empty body.

mod common;

use common::{assert_error, spawn_app, split};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn unknown_ids_are_json_404s() {
    let app = spawn_app().await;
    let (design, _) = app.saved_box_design().await;
    let known = design["design_id"].as_str().unwrap().to_owned();
    let u = Uuid::new_v4();
    let cases: Vec<(Method, String, &str)> = vec![
        (
            Method::GET,
            format!("/catalog/products/{u}"),
            "product_not_found",
        ),
        (Method::GET, format!("/designs/{u}"), "design_not_found"),
        (
            Method::GET,
            format!("/designs/{u}/edits"),
            "design_not_found",
        ),
        (
            Method::POST,
            format!("/designs/{u}/versions"),
            "design_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{u}/versions"),
            "design_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{u}/versions/1"),
            "design_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{u}/versions/1/model"),
            "design_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{u}/saves"),
            "design_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{known}/versions/99"),
            "design_version_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{known}/versions/0"),
            "design_version_not_found",
        ),
        (
            Method::GET,
            format!("/designs/{known}/versions/-1/model"),
            "design_version_not_found",
        ),
    ];
    for (method, path, code) in cases {
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_error(&split(resp).await, 404, code, None);
    }
    let edit = app
        .edit(&u.to_string(), json!([{"op": "scale", "factor": 2}]))
        .await;
    assert_error(&edit, 404, "design_not_found", None);
}

#[tokio::test]
async fn malformed_ids_are_json_400s() {
    let app = spawn_app().await;
    let u = Uuid::new_v4();
    for path in [
        "/catalog/products/abc".to_owned(),
        "/designs/abc".to_owned(),
        "/designs/123/edits".to_owned(),
        "/designs/abc/versions".to_owned(),
        "/designs/abc/saves".to_owned(),
        format!("/designs/{u}/versions/one"),
        format!("/designs/{u}/versions/99999999999/model"),
        "/designs/abc/versions/1/model".to_owned(),
        "/orders/abc".to_owned(),
        "/orders/abc/status".to_owned(),
    ] {
        assert_error(&app.get(&path).await, 400, "invalid_path", None);
    }
    let resp = app
        .http
        .post(app.url("/designs/xyz/versions"))
        .send()
        .await
        .unwrap();
    assert_error(&split(resp).await, 400, "invalid_path", None);
}

/// The endpoints that take a JSON body.
fn json_endpoints(design_id: &str) -> Vec<String> {
    vec![
        "/designs".to_owned(),
        format!("/designs/{design_id}/edits"),
        "/orders".to_owned(),
    ]
}

#[tokio::test]
async fn bad_bodies_are_400_415_413() {
    let app = spawn_app().await;
    let (design, _) = app.saved_box_design().await;
    let id = design["design_id"].as_str().unwrap();
    for path in json_endpoints(id) {
        let send = |content_type: &'static str, body: Vec<u8>| {
            app.http
                .post(app.url(&path))
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let malformed = split(
            send("application/json", b"{\"oops\": ".to_vec())
                .await
                .unwrap(),
        )
        .await;
        assert_error(&malformed, 400, "malformed_json", None);
        let wrong_type = split(send("text/plain", b"{}".to_vec()).await.unwrap()).await;
        assert_error(&wrong_type, 415, "unsupported_media_type", None);
        let no_type = split(
            app.http
                .post(app.url(&path))
                .body("{}")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&no_type, 415, "unsupported_media_type", None);
        let mut big = b"{\"pad\": \"".to_vec();
        big.extend(std::iter::repeat_n(b'x', 300 * 1024));
        big.extend(b"\"}");
        let oversized = split(send("application/json", big).await.unwrap()).await;
        assert_error(&oversized, 413, "payload_too_large", None);
    }
    // Well-formed JSON of the wrong shape is a 422 naming the field.
    assert_error(
        &app.post("/designs", &json!({})).await,
        422,
        "validation_failed",
        Some("product_id"),
    );
    let edits = app
        .post(
            &format!("/designs/{id}/edits"),
            &json!({"operations": "scale"}),
        )
        .await;
    assert_error(&edits, 422, "validation_failed", Some("operations"));
}

#[tokio::test]
async fn wrong_methods_are_json_405s_and_unknown_routes_json_404s() {
    let app = spawn_app().await;
    let u = Uuid::new_v4();
    let cases: Vec<(Method, String)> = vec![
        (Method::POST, "/catalog/products".into()),
        (Method::DELETE, format!("/catalog/products/{u}")),
        (Method::PUT, "/catalog/categories".into()),
        (Method::GET, "/designs".into()),
        (Method::DELETE, format!("/designs/{u}")),
        (Method::PUT, format!("/designs/{u}/edits")),
        (Method::DELETE, format!("/designs/{u}/versions/1")),
        (Method::POST, format!("/designs/{u}/versions/1/model")),
        (Method::POST, format!("/designs/{u}/saves")),
        (Method::GET, "/orders".into()),
        (Method::PATCH, format!("/orders/{u}")),
        (Method::POST, format!("/orders/{u}/status")),
    ];
    for (method, path) in cases {
        let resp = app
            .http
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert!(
            resp.headers().contains_key("allow"),
            "{method} {path}: no Allow header"
        );
        assert_error(&split(resp).await, 405, "method_not_allowed", None);
    }
    for path in ["/nope", "/catalog", "/designs/x/y/z/w/v", "/orders/a/b/c"] {
        assert_error(&app.get(path).await, 404, "route_not_found", None);
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["model_store"], "ok");
    // A model store that cannot be written makes the Shop not ready.
    std::fs::remove_dir_all(&app.store_dir).unwrap();
    std::fs::write(&app.store_dir, b"a file where the directory should be").unwrap();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["checks"]["model_store"]
        .as_str()
        .unwrap()
        .starts_with("error"));
    std::fs::remove_file(&app.store_dir).unwrap();
}

/// PostgreSQL stores no U+0000 in `text` or `jsonb`, yet every operation is logged as sent: a
/// NUL anywhere in one (found by the conformance fuzzer) is logged as U+FFFD, never a 500.
#[tokio::test]
async fn nul_characters_in_edit_operations_are_logged_not_a_500() {
    let app = spawn_app().await;
    let (design, _) = app.saved_box_design().await;
    let id = design["design_id"].as_str().unwrap();
    let (status, body) = app
        .edit(
            id,
            json!([
                {"op": "set_material", "material": "PLA", "x\u{0}": ["\u{0}"]},
                {"op": "set_colour", "colour": "\u{0}"}
            ]),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "operations[1].colour", "{body}");
    let (status, log) = app.get(&format!("/designs/{id}/edits")).await;
    assert_eq!(status, 200, "{log}");
    let logged = log.to_string();
    assert!(logged.contains("x\u{FFFD}"), "{logged}");
    assert!(!logged.contains("\\u0000"), "{logged}");
}
