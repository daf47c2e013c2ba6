//! Starts a real Shop (own database cloned from the migrated template, own model directory)
//! on port 0 and talks to it over HTTP.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use futures::future::BoxFuture;
use printflow_shop::app::Application;
use printflow_shop::config::Config;
use printflow_test_support::{identity, TestDatabase};

/// The customer the tests act as unless they say otherwise.
pub const CUSTOMER: &str = "alice";
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

fn migrate(pool: &PgPool) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        printflow_shop::migrate(pool)
            .await
            .map_err(|e| e.to_string())
    })
}

/// A running Shop.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Client for it.
    pub http: reqwest::Client,
    /// Its database.
    pub db: TestDatabase,
    /// Its model store directory.
    pub store_dir: PathBuf,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.store_dir);
    }
}

/// A Shop with default settings (CRM pointing at a closed port).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A Shop with some settings overridden (`SHOP_CRM_URL`, timeouts, ...).
pub async fn spawn_app_with(overrides: &[(&'static str, String)]) -> TestApp {
    let db = TestDatabase::new("shop", &printflow_shop::schema_fingerprint(), migrate).await;
    let store_dir = std::env::temp_dir().join(format!("printflow-shop-test-{}", db.name));
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("SHOP_HTTP_PORT", "0".into());
    env.insert("SHOP_DATABASE_URL", db.url.clone());
    env.insert("SHOP_MODEL_STORE_DIR", store_dir.display().to_string());
    env.insert(
        "SHOP_CRM_URL",
        format!("http://127.0.0.1:{}", closed_port().await),
    );
    env.extend(identity::service_env("SHOP", "shop-api"));
    for (k, v) in overrides {
        env.insert(k, v.clone());
    }
    let config = Config::from_source(&env).expect("test config");
    let app = Application::build(config).await.expect("build the shop");
    let port = app.port();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { app.run(async move { stop.cancelled().await }).await });
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        http: identity::client_as_user(CUSTOMER).await,
        db,
        store_dir,
        shutdown,
    }
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET, answering (status, JSON body or Null).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.http.get(self.url(path)).send().await.expect("GET");
        split(resp).await
    }

    /// GET as dev user `user` instead of the default customer.
    pub async fn get_as(&self, user: &str, path: &str) -> (u16, Value) {
        let resp = identity::client_as_user(user)
            .await
            .get(self.url(path))
            .send()
            .await
            .expect("GET");
        split(resp).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST");
        split(resp).await
    }

    /// A product id of the given shape (the first by name).
    pub async fn product_of_shape(&self, shape: &str) -> Value {
        for page_no in 1..=10 {
            let (status, page) = self
                .get(&format!(
                    "/catalog/products?sort=name&per_page=100&page={page_no}"
                ))
                .await;
            assert_eq!(status, 200);
            let found = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["shape"] == shape)
                .cloned();
            if let Some(product) = found {
                return product;
            }
        }
        panic!("no {shape} product in the first 1000")
    }

    /// Creates a design from a product; answers the design JSON.
    pub async fn create_design(&self, product_id: &Value) -> Value {
        let (status, design) = self
            .post("/designs", &serde_json::json!({ "product_id": product_id }))
            .await;
        assert_eq!(status, 201, "{design}");
        design
    }

    /// Applies edit operations; answers (status, body).
    pub async fn edit(&self, design_id: &str, ops: Value) -> (u16, Value) {
        self.post(
            &format!("/designs/{design_id}/edits"),
            &serde_json::json!({ "operations": ops }),
        )
        .await
    }

    /// Saves a version; answers (status, body).
    pub async fn save(&self, design_id: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(&format!("/designs/{design_id}/versions")))
            .send()
            .await
            .expect("POST save");
        split(resp).await
    }

    /// Creates a design from the first box product and saves it; answers (design, version).
    pub async fn saved_box_design(&self) -> (Value, Value) {
        let product = self.product_of_shape("box").await;
        let design = self.create_design(&product["id"]).await;
        let id = design["design_id"].as_str().unwrap().to_owned();
        let (status, version) = self.save(&id).await;
        assert_eq!(status, 201, "{version}");
        (design, version)
    }
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn split(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Asserts an error answer: status, `code`, and (if given) `field`.
pub fn assert_error(got: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (s, body) = got;
    assert_eq!(*s, status, "status of {body}");
    assert_eq!(body["code"], code, "code of {body}");
    assert!(body["message"].is_string(), "message of {body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "field of {body}");
    }
}
