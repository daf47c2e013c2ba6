//! Starts Shop, CRM and MES in-process, each on port 0 with its own database, wired to each other
//! and to one RabbitMQ vhost (or a private broker), the way `scripts/stack.sh` wires the real
//! binaries.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

pub mod fleet;
pub mod processes;

/// The statuses of an order that goes well, in order.
pub const HAPPY_PATH: [&str; 7] = [
    "NEW",
    "ACCEPTED",
    "PRINTING",
    "POST_PROCESSING",
    "QUALITY_CHECK",
    "READY",
    "SHIPPED",
];

use printflow_test_support::{eventually, identity, TestDatabase};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The three services running for one test.
pub struct Stack {
    /// Shop base URL.
    pub shop: String,
    /// CRM base URL.
    pub crm: String,
    /// MES base URL.
    pub mes: String,
    /// The test's clients, one per role it acts in (see [`Stack::client_for`]).
    clients: Clients,
    /// Stops every service.
    stop: CancellationToken,
    /// The service tasks, awaited on shutdown.
    tasks: Vec<JoinHandle<()>>,
    /// The Shop's model store (removed on drop).
    pub model_dir: PathBuf,
}

pub async fn shop_db() -> TestDatabase {
    TestDatabase::new("shop", &printflow_shop::schema_fingerprint(), |pool| {
        Box::pin(async move {
            printflow_shop::migrate(pool)
                .await
                .map_err(|e| e.to_string())
        })
    })
    .await
}

pub async fn crm_db() -> TestDatabase {
    TestDatabase::new("crm", &printflow_crm::schema_fingerprint(), |pool| {
        Box::pin(async move {
            printflow_crm::migrate(pool)
                .await
                .map_err(|e| e.to_string())
        })
    })
    .await
}

pub async fn mes_db() -> TestDatabase {
    TestDatabase::new("mes", &printflow_mes::schema_fingerprint(), |pool| {
        Box::pin(async move {
            printflow_mes::migrate(pool)
                .await
                .map_err(|e| e.to_string())
        })
    })
    .await
}

fn settings(pairs: &[(&'static str, String)]) -> HashMap<&'static str, String> {
    // Later pairs win, so overrides replace defaults.
    pairs.iter().cloned().collect()
}

/// The port of a `http://127.0.0.1:<port>` URL.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("url with a port")
}

/// Clients acting as the dev realm's people.
struct Clients {
    /// `alice`, a customer.
    customer: reqwest::Client,
    /// `sam`, support.
    support: reqwest::Client,
    /// `pat`, production.
    production: reqwest::Client,
}

impl Clients {
    async fn new() -> Clients {
        Clients {
            customer: identity::client_as_user("alice").await,
            support: identity::client_as_user("sam").await,
            production: identity::client_as_user("pat").await,
        }
    }
}

impl Stack {
    /// Starts CRM, then Shop (pointing at CRM), then MES (pointing at Shop), all on `amqp_url`.
    /// MES runs at a tiny time scale so an order is shipped within a few seconds.
    pub async fn start(amqp_url: &str) -> Stack {
        Stack::start_with(amqp_url, &[]).await
    }

    /// Like [`Stack::start`], with extra settings; each goes to the service its prefix names
    /// (`CRM_…`, `SHOP_…`, `MES_…`; `PRINTFLOW_…` to all three).
    pub async fn start_with(amqp_url: &str, overrides: &[(&'static str, String)]) -> Stack {
        let extra = |prefix: &str| -> Vec<(&'static str, String)> {
            overrides
                .iter()
                // `PRINTFLOW_*` (the drill faults' switch) goes to every service.
                .filter(|(k, _)| k.starts_with(prefix) || k.starts_with("PRINTFLOW_"))
                .cloned()
                .collect()
        };
        let with = |base: Vec<(&'static str, String)>, prefix: &str| {
            let mut all = base;
            all.extend(extra(prefix));
            settings(&all)
        };
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        let (crm_db, shop_db, mes_db) = tokio::join!(crm_db(), shop_db(), mes_db());

        // MES starts last (it needs the Shop's URL) but CRM's reconciler needs MES's: pick its
        // port now.
        let mes_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let crm_cfg = printflow_crm::config::Config::from_source(&with(
            vec![
                ("CRM_HTTP_PORT", "0".into()),
                ("CRM_MES_URL", format!("http://127.0.0.1:{mes_port}")),
                ("CRM_DATABASE_URL", crm_db.url.clone()),
                ("CRM_AMQP_URL", amqp_url.to_owned()),
            ]
            .into_iter()
            .chain(identity::service_env("CRM", "crm-api"))
            .collect(),
            "CRM_",
        ))
        .expect("crm config");
        let crm = printflow_crm::app::Application::build(crm_cfg)
            .await
            .expect("crm starts");
        let crm_url = format!("http://127.0.0.1:{}", crm.port());
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            crm.run(async move { token.cancelled().await })
                .await
                .expect("crm runs");
        }));

        let model_dir =
            std::env::temp_dir().join(format!("printflow-e2e-{}", uuid::Uuid::new_v4()));
        let shop_cfg = printflow_shop::config::Config::from_source(&with(
            vec![
                ("SHOP_HTTP_PORT", "0".into()),
                ("SHOP_DATABASE_URL", shop_db.url.clone()),
                ("SHOP_MODEL_STORE_DIR", model_dir.display().to_string()),
                ("SHOP_CRM_URL", crm_url.clone()),
            ]
            .into_iter()
            .chain(identity::service_env("SHOP", "shop-api"))
            .collect(),
            "SHOP_",
        ))
        .expect("shop config");
        let shop = printflow_shop::app::Application::build(shop_cfg)
            .await
            .expect("shop starts");
        let shop_url = format!("http://127.0.0.1:{}", shop.port());
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            shop.run(async move { token.cancelled().await })
                .await
                .expect("shop runs");
        }));

        let mes_cfg = printflow_mes::config::Config::from_source(&with(
            vec![
                ("MES_HTTP_PORT", mes_port.to_string()),
                ("MES_DATABASE_URL", mes_db.url.clone()),
                ("MES_AMQP_URL", amqp_url.to_owned()),
                ("MES_SHOP_URL", shop_url.clone()),
                ("MES_PRINTERS", "3".into()),
                ("MES_TIME_SCALE", "0.00002".into()),
                ("MES_TICK_MS", "25".into()),
            ]
            .into_iter()
            .chain(identity::service_env("MES", "mes-api"))
            .collect(),
            "MES_",
        ))
        .expect("mes config");
        let mes = printflow_mes::app::Application::build(mes_cfg)
            .await
            .expect("mes starts");
        let mes_url = format!("http://127.0.0.1:{}", mes.port());
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            mes.run(async move { token.cancelled().await })
                .await
                .expect("mes runs");
        }));

        Stack {
            shop: shop_url,
            crm: crm_url,
            mes: mes_url,
            clients: Clients::new().await,
            stop,
            tasks,
            model_dir,
        }
    }

    /// Stops the services and waits for them to finish.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = std::fs::remove_dir_all(&self.model_dir);
    }

    /// The client a call to `url` is made with: the Shop as customer `alice`, MES's printer
    /// actions as production (`pat`), every other CRM and MES call as support (`sam`).
    pub fn client_for(&self, method: &str, url: &str) -> &reqwest::Client {
        if url.starts_with(&self.shop) {
            &self.clients.customer
        } else if method == "POST" && url.starts_with(&self.mes) {
            &self.clients.production
        } else {
            &self.clients.support
        }
    }

    /// GET returning JSON, panicking with the body on a non-2xx answer.
    pub async fn get(&self, url: &str) -> Value {
        let resp = self
            .client_for("GET", url)
            .get(url)
            .send()
            .await
            .expect("GET");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {url} -> {status}: {body}");
        body
    }

    /// POST JSON, returning status and body.
    pub async fn post(&self, url: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .client_for("POST", url)
            .post(url)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `pause` or `resume` every printer of MES (as production).
    pub async fn set_printers(&self, action: &str) {
        let printers = self.get(&format!("{}/printers", self.mes)).await;
        for p in printers.as_array().expect("a list of printers") {
            let url = format!("{}/printers/{}/{action}", self.mes, p["id"]);
            let (status, body) = self.post(&url, &json!({})).await;
            assert_eq!(status, 200, "{action}: {body}");
        }
    }

    /// Picks a small catalog product, designs it, saves version 1; returns (design id, version).
    pub async fn saved_design(&self) -> (String, i64) {
        let page = self
            .get(&format!(
                "{}/catalog/products?sort=price_asc&per_page=5",
                self.shop
            ))
            .await;
        let product = page["items"][0]["id"].clone();
        let (status, design) = self
            .post(
                &format!("{}/designs", self.shop),
                &json!({"product_id": product}),
            )
            .await;
        assert_eq!(status, 201, "create design: {design}");
        let id = design["design_id"].as_str().expect("design_id").to_owned();
        let (status, version) = self
            .post(&format!("{}/designs/{id}/versions", self.shop), &json!({}))
            .await;
        assert_eq!(status, 201, "save design: {version}");
        (id, version["version"].as_i64().expect("version number"))
    }

    /// Places an order through Shop and returns its id.
    pub async fn place_order(&self, design_id: &str, version: i64, customer_no: u32) -> String {
        let (status, order) = self
            .post(
                &format!("{}/orders", self.shop),
                &json!({
                    "design_id": design_id,
                    "design_version": version,
                    "quantity": 1,
                    "shipping": "standard",
                    "customer": {
                        "name": format!("Test Customer {customer_no}"),
                        "email": format!("customer-{customer_no}@example.test"),
                        "phone": "+10000000000"
                    }
                }),
            )
            .await;
        assert_eq!(status, 201, "place order: {order}");
        order["order_id"].as_str().expect("order_id").to_owned()
    }

    /// Waits until the order has reached `status`: CRM's history holds a change to it. The
    /// history, not the current status, because a status the simulated farm leaves within a few
    /// milliseconds (ACCEPTED, PRINTING) may never be seen by a poll of the current one.
    pub async fn wait_for_status(&self, order_id: &str, status: &str, timeout: Duration) {
        let url = format!("{}/orders/{order_id}/history", self.crm);
        eventually(
            &format!("order {order_id} to reach {status}"),
            timeout,
            || {
                let url = url.clone();
                async move {
                    let resp = self.client_for("GET", &url).get(&url).send().await.ok()?;
                    let body: Value = resp.json().await.ok()?;
                    body["entries"]
                        .as_array()?
                        .iter()
                        .any(|entry| entry["to_status"] == status)
                        .then_some(())
                }
            },
        )
        .await
    }
}
