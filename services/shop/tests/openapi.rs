//! `/openapi.json` parses, documents every route the router serves, and documents nothing the
//! router does not serve.

mod common;

use common::{spawn_app, split};
use printflow_shop::routes::ROUTES;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths object") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.0"),
        "{}",
        doc["openapi"]
    );
    assert!(
        doc["components"]["schemas"]["Error"].is_object(),
        "no Error schema"
    );

    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented(&doc),
        listed,
        "openapi.json and routes::ROUTES differ"
    );

    let fill = |path: &str| {
        path.replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{version}", "1")
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let resp = app
                .http
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&fill(path)),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let (status, body) = split(resp).await;
            if let Some(op) = item.get(method) {
                // The router serves it: whatever the answer, it is not "no such route/method".
                assert_ne!(status, 405, "{method} {path} documented but not routed");
                assert_ne!(
                    body["code"], "route_not_found",
                    "{method} {path} documented but not routed"
                );
                // Every operation documents its answers, errors included.
                let responses = op["responses"].as_object().expect("responses");
                assert!(!responses.is_empty(), "{method} {path}: no responses");
                assert!(op["summary"].is_string(), "{method} {path}: no summary");
            } else {
                assert_eq!(status, 405, "{method} {path} routed but not documented");
            }
        }
        // Path parameters are declared.
        for param in ["id", "version"] {
            if path.contains(&format!("{{{param}}}")) {
                let params = item["parameters"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{path}: no parameters"));
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == param && p["in"] == "path"),
                    "{path}: {param}"
                );
            }
        }
    }
}
