//! The real service binaries as child processes, for tests that need what only a process has:
//! its own tracer provider and `service.name`, environment-variable configuration, and a SIGTERM.

use super::{crm_db, mes_db, shop_db};
use printflow_test_support::{eventually, identity, TestVhost};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Where `cargo build` put the binaries (`PRINTFLOW_BIN_DIR` overrides).
fn bin_dir() -> PathBuf {
    std::env::var("PRINTFLOW_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"))
}

/// A free loopback port (bound and released; the child binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Settings every traced child gets: export to the test Jaeger quickly.
pub fn otel_env() -> Vec<(&'static str, String)> {
    let endpoint = printflow_test_support::jaeger::otlp_endpoint();
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]
}

/// One running service binary.
pub struct ServiceProcess {
    /// `shop`, `crm` or `mes`.
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The child.
    child: Child,
    /// Its combined output, for failure messages.
    pub log: PathBuf,
}

impl ServiceProcess {
    /// Starts `printflow-<name>` with `env` on a free port (or the `<NAME>_HTTP_PORT` in `env`)
    /// and waits for `/readyz`.
    pub async fn start(name: &'static str, env: &[(&str, String)]) -> ServiceProcess {
        let upper = name.to_uppercase();
        let port_key = format!("{upper}_HTTP_PORT");
        let port = env
            .iter()
            .find(|(k, _)| *k == port_key)
            .map_or_else(free_port, |(_, v)| v.parse().expect("a port number"));
        let log = std::env::temp_dir().join(format!(
            "printflow-{name}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let out = std::fs::File::create(&log).expect("log file");
        let mut vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        vars.insert(format!("{upper}_HTTP_PORT"), port.to_string());
        for (k, v) in identity::service_env(&upper, &format!("{name}-api")) {
            vars.entry(k.to_owned()).or_insert(v);
        }
        let bin = bin_dir().join(format!("printflow-{name}"));
        let child = Command::new(&bin)
            .envs(&vars)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {} (run `cargo build --bins` first): {e}",
                    bin.display()
                )
            });
        let proc = ServiceProcess {
            name,
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        let http = reqwest::Client::new();
        let ready = format!("{}/readyz", proc.url);
        eventually(
            &format!("{name} to be ready"),
            Duration::from_secs(60),
            || {
                let http = http.clone();
                let ready = ready.clone();
                async move {
                    let r = http.get(&ready).send().await.ok()?;
                    r.status().is_success().then_some(())
                }
            },
        )
        .await;
        proc
    }

    /// SIGTERM, then waits (up to 20 s) for a clean exit; returns whether it exited 0.
    pub async fn stop(mut self) -> bool {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.kill().await;
                false
            }
        }
    }

    /// SIGKILL: the process dies mid-work, with no shutdown of any kind (open transactions,
    /// unacked messages and leases are left for the others to recover); waits until it is gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reap the killed child");
    }

    /// The last lines of its output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Shop, CRM and MES binaries wired together on one vhost.
pub struct Processes {
    /// The Shop.
    pub shop: ServiceProcess,
    /// CRM.
    pub crm: ServiceProcess,
    /// MES.
    pub mes: ServiceProcess,
    /// Their broker vhost.
    pub vhost: TestVhost,
    /// Acts as customer `alice` (the Shop).
    pub http: reqwest::Client,
    /// Acts as support `sam` (CRM reads).
    pub support: reqwest::Client,
    /// The Shop's model store.
    pub models: std::path::PathBuf,
}

impl Processes {
    /// Starts the three; `shop_extra` is added to the Shop's settings, `each(name)` to every
    /// service's (`"shop"`, `"crm"`, `"mes"`).
    pub async fn start(
        shop_extra: &[(&'static str, String)],
        each: impl Fn(&str) -> Vec<(&'static str, String)>,
    ) -> Processes {
        let vhost = TestVhost::new().await;
        let (crm_db, shop_db, mes_db) = tokio::join!(crm_db(), shop_db(), mes_db());
        let otel = otel_env();
        let mut env = otel.clone();
        env.push(("CRM_DATABASE_URL", crm_db.url.clone()));
        env.push(("CRM_AMQP_URL", vhost.amqp_url.clone()));
        // MES starts last (it needs the Shop's URL); CRM's reconciler needs MES's now.
        let mes_port = free_port();
        env.push(("CRM_MES_URL", format!("http://127.0.0.1:{mes_port}")));
        env.extend(each("crm"));
        let crm = ServiceProcess::start("crm", &env).await;

        let models =
            std::env::temp_dir().join(format!("printflow-models-{}", uuid::Uuid::new_v4()));
        let mut env = otel.clone();
        env.push(("SHOP_DATABASE_URL", shop_db.url.clone()));
        env.push(("SHOP_CRM_URL", crm.url.clone()));
        env.push(("SHOP_MODEL_STORE_DIR", models.display().to_string()));
        env.extend(each("shop"));
        env.extend(shop_extra.iter().cloned());
        let shop = ServiceProcess::start("shop", &env).await;

        let mut env = otel;
        env.push(("MES_DATABASE_URL", mes_db.url.clone()));
        env.push(("MES_AMQP_URL", vhost.amqp_url.clone()));
        env.push(("MES_SHOP_URL", shop.url.clone()));
        env.push(("MES_TIME_SCALE", "0.00002".to_owned()));
        env.push(("MES_TICK_MS", "25".to_owned()));
        env.push(("MES_HTTP_PORT", mes_port.to_string()));
        env.extend(each("mes"));
        let mes = ServiceProcess::start("mes", &env).await;
        Processes {
            shop,
            crm,
            mes,
            vhost,
            // Customer `alice` for the Shop; CRM's status reads go through `support`.
            http: identity::client_as_user("alice").await,
            support: identity::client_as_user("sam").await,
            models,
        }
    }

    /// Stops all three and removes their vhost and model store.
    pub async fn stop(self) {
        let (a, b, c) = tokio::join!(self.shop.stop(), self.crm.stop(), self.mes.stop());
        assert!(a && b && c, "a service did not stop cleanly");
        self.vhost.delete().await;
        let _ = std::fs::remove_dir_all(&self.models);
    }

    /// Places an order of a freshly saved design as customer `alice` for `name` <`email`>;
    /// the Shop's answer.
    pub async fn place_order(&self, name: &str, email: &str) -> reqwest::Response {
        let (design, version) = self.saved_design().await;
        self.http
            .post(format!("{}/orders", self.shop.url))
            .json(
                &json!({"design_id": design, "design_version": version, "quantity": 1,
                "shipping": "standard", "customer": {"name": name, "email": email}}),
            )
            .send()
            .await
            .unwrap()
    }

    /// Designs and saves a small product; returns (design id, version).
    pub async fn saved_design(&self) -> (String, i64) {
        saved_design(&self.http, &self.shop.url).await
    }
}

/// Designs and saves the cheapest product on the Shop at `shop` as `http`'s caller; returns
/// (design id, version).
pub async fn saved_design(http: &reqwest::Client, shop: &str) -> (String, i64) {
    let page: Value = http
        .get(format!("{shop}/catalog/products?sort=price_asc&per_page=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let design: Value = http
        .post(format!("{shop}/designs"))
        .json(&json!({"product_id": page["items"][0]["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = design["design_id"].as_str().unwrap().to_owned();
    let version: Value = http
        .post(format!("{shop}/designs/{id}/versions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (id, version["version"].as_i64().unwrap())
}

/// The telemetry gate in this process, on free ports, in front of the test Jaeger (its OTLP
/// receivers: `base_url` and `url("otlp-grpc")`).
pub async fn telemetry_gate() -> printflow_runtime::Spawned {
    telemetry_gate_with(&[]).await
}

/// [`telemetry_gate`] with `extra` settings on top (the console's sources, its login).
pub async fn telemetry_gate_with(extra: &[(&'static str, String)]) -> printflow_runtime::Spawned {
    let jaeger_query = std::env::var("PRINTFLOW_TEST_JAEGER_API")
        .unwrap_or_else(|_| "http://127.0.0.1:16687".to_owned());
    let mut env = HashMap::from([
        ("GATE_HTTP_PORT", "0".to_owned()),
        ("GATE_OTLP_GRPC_PORT", "0".to_owned()),
        ("GATE_OTLP_HTTP_PORT", "0".to_owned()),
        ("GATE_AUTH_ISSUER_URL", identity::issuer()),
        (
            "GATE_JAEGER_OTLP_URL",
            format!(
                "{}/v1/traces",
                printflow_test_support::jaeger::otlp_endpoint()
            ),
        ),
        ("GATE_JAEGER_QUERY_URL", jaeger_query),
    ]);
    env.extend(extra.iter().cloned());
    printflow_gate::app::Application::build(
        printflow_gate::config::Config::from_source(&env).unwrap(),
    )
    .await
    .unwrap()
    .spawn()
}

/// Settings that make service `name` (`shop`, ...) export its spans to `endpoint` (a gate's
/// OTLP/HTTP receiver) with its own client-credentials token.
pub fn export_through_gate(endpoint: &str, name: &str) -> Vec<(&'static str, String)> {
    let client = format!("{name}-api");
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        (
            "TELEMETRY_TOKEN_URL",
            format!("{}/protocol/openid-connect/token", identity::issuer()),
        ),
        ("TELEMETRY_CLIENT_SECRET", identity::client_secret(&client)),
        ("TELEMETRY_CLIENT_ID", client),
    ]
}
