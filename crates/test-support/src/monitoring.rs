//! A private Prometheus and Alertmanager per test, loaded with the repo's alert rules, scraping
//! the test's own services every second and notifying the test's own webhook receiver.
//!
//! Production intervals would make a test wait minutes, so the test copies run with a 1 s scrape
//! and evaluation interval, Alertmanager waits of 1 s, and every rule's `for:` shortened to 1 s:
//! the expressions, labels and annotations are the repo's own.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};

/// One scrape job of the test Prometheus.
#[derive(Debug, Clone)]
pub struct ScrapeTarget {
    /// Job name (the alert rules expect `shop`, `crm`, `mes`, `rabbitmq-queues`, …).
    pub job: String,
    /// `host:port`.
    pub address: String,
    /// Metrics path.
    pub path: String,
    /// URL parameters, e.g. `family` for RabbitMQ's detailed endpoint.
    pub params: Vec<(String, String)>,
    /// Scrape with a token of the dev realm's `prometheus` client (the services' `/metrics`
    /// needs the metrics-reader role), as the real Prometheus does.
    pub oauth2: bool,
}

impl ScrapeTarget {
    /// A service's `/metrics`.
    pub fn service(job: &str, port: u16) -> ScrapeTarget {
        ScrapeTarget {
            job: job.to_owned(),
            address: format!("127.0.0.1:{port}"),
            path: "/metrics".to_owned(),
            params: Vec::new(),
            oauth2: true,
        }
    }

    /// RabbitMQ's per-queue metrics, limited to one vhost.
    pub fn rabbitmq_queues(vhost: &str) -> ScrapeTarget {
        let port = std::env::var("PRINTFLOW_TEST_RABBITMQ_PROMETHEUS_PORT")
            .unwrap_or_else(|_| "15692".to_owned());
        ScrapeTarget {
            job: "rabbitmq-queues".to_owned(),
            address: format!("127.0.0.1:{port}"),
            path: "/metrics/detailed".to_owned(),
            params: vec![
                ("family".to_owned(), "queue_coarse_metrics".to_owned()),
                ("family".to_owned(), "queue_consumer_count".to_owned()),
                ("vhost".to_owned(), vhost.to_owned()),
            ],
            oauth2: false,
        }
    }
}

/// Running Prometheus + Alertmanager + webhook receiver.
pub struct Monitoring {
    /// Prometheus base URL.
    pub prometheus: String,
    /// Alertmanager base URL.
    pub alertmanager: String,
    /// Every notification body the webhook received.
    notifications: Arc<Mutex<Vec<Value>>>,
    /// The two processes.
    children: Vec<Child>,
    /// Config and data.
    dir: PathBuf,
    /// HTTP client.
    http: reqwest::Client,
}

impl std::fmt::Debug for Monitoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitoring")
            .field("prometheus", &self.prometheus)
            .finish_non_exhaustive()
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The repo's rule files with every `for:` shortened to 1 s.
fn copy_rules(into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let src = repo_root().join("config/prometheus/rules");
    for entry in std::fs::read_dir(&src).expect("config/prometheus/rules") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let fast: String = text
            .lines()
            .map(|line| {
                let trimmed = line.trim_start();
                if trimmed.starts_with("for:") {
                    let indent = line.strip_suffix(trimmed).unwrap_or_default();
                    format!("{indent}for: 1s")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(into.join(path.file_name().unwrap()), fast).unwrap();
    }
}

fn prometheus_config(
    dir: &Path,
    prometheus_port: u16,
    alertmanager_port: u16,
    targets: &[ScrapeTarget],
) -> String {
    let mut out = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}/rules/*.yml\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{alertmanager_port}']\nscrape_configs:\n  - job_name: 'prometheus'\n    static_configs:\n      - targets: ['127.0.0.1:{prometheus_port}']\n  - job_name: 'alertmanager'\n    static_configs:\n      - targets: ['127.0.0.1:{alertmanager_port}']\n",
        dir.display()
    );
    for t in targets {
        out.push_str(&format!(
            "  - job_name: '{}'\n    metrics_path: '{}'\n    static_configs:\n      - targets: ['{}']\n",
            t.job, t.path, t.address
        ));
        if t.oauth2 {
            out.push_str(&format!(
                "    oauth2:\n      client_id: 'prometheus'\n      client_secret: '{}'\n      token_url: '{}/protocol/openid-connect/token'\n",
                crate::identity::client_secret("prometheus"),
                crate::identity::issuer()
            ));
        }
        if !t.params.is_empty() {
            out.push_str("    params:\n");
            let mut keys: Vec<&String> = t.params.iter().map(|(k, _)| k).collect();
            keys.dedup();
            for k in keys {
                let values: Vec<String> = t
                    .params
                    .iter()
                    .filter(|(key, _)| key == k)
                    .map(|(_, v)| format!("'{v}'"))
                    .collect();
                out.push_str(&format!("      {k}: [{}]\n", values.join(", ")));
            }
        }
    }
    out
}

async fn receive(State(store): State<Arc<Mutex<Vec<Value>>>>, body: String) {
    if let Ok(v) = serde_json::from_str::<Value>(&body) {
        store.lock().unwrap().push(v);
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str, what: &str) {
    crate::eventually(what, Duration::from_secs(30), || async {
        let r = http.get(url).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;
}

fn spawn(bin: &str, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(bin)
        .args(args)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin} (scripts/infra.sh install puts it there): {e}"))
}

impl Monitoring {
    /// Starts a webhook receiver, Alertmanager and Prometheus scraping `targets`.
    pub async fn start(targets: &[ScrapeTarget]) -> Monitoring {
        let dir = std::env::temp_dir().join(format!("printflow-mon-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let http = reqwest::Client::new();

        let notifications = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_port = listener.local_addr().unwrap().port();
        let app = Router::new()
            .route("/alerts", post(receive))
            .with_state(notifications.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let am_port = free_port();
        std::fs::write(
            dir.join("alertmanager.yml"),
            format!(
                "route:\n  receiver: test\n  group_by: [alertname, status]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test\n    webhook_configs:\n      - url: 'http://127.0.0.1:{hook_port}/alerts'\n        send_resolved: true\n"
            ),
        )
        .unwrap();
        let am = spawn(
            "prometheus-alertmanager",
            &[
                format!("--config.file={}", dir.join("alertmanager.yml").display()),
                format!("--storage.path={}", dir.join("am-data").display()),
                format!("--web.listen-address=127.0.0.1:{am_port}"),
                "--cluster.listen-address=".to_owned(),
            ],
            &dir.join("alertmanager.log"),
        );

        copy_rules(&dir.join("rules"));
        let prom_port = free_port();
        std::fs::write(
            dir.join("prometheus.yml"),
            prometheus_config(&dir, prom_port, am_port, targets),
        )
        .unwrap();
        let prom = spawn(
            "prometheus",
            &[
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
                format!("--web.listen-address=127.0.0.1:{prom_port}"),
                "--enable-feature=exemplar-storage".to_owned(),
                // Resolved alerts are re-sent at this period; keep it short for the test.
                "--rules.alert.resend-delay=1s".to_owned(),
            ],
            &dir.join("prometheus.log"),
        );
        let m = Monitoring {
            prometheus: format!("http://127.0.0.1:{prom_port}"),
            alertmanager: format!("http://127.0.0.1:{am_port}"),
            notifications,
            children: vec![am, prom],
            dir,
            http,
        };
        wait_ready(
            &m.http,
            &format!("{}/-/ready", m.alertmanager),
            "alertmanager",
        )
        .await;
        wait_ready(&m.http, &format!("{}/-/ready", m.prometheus), "prometheus").await;
        m
    }

    /// Runs an instant query; `Err` carries Prometheus's error (e.g. a parse error).
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let resp = self
            .http
            .get(format!("{}/api/v1/query", self.prometheus))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if v["status"] != "success" {
            return Err(format!("{}: {}", v["errorType"], v["error"]));
        }
        let result = &v["data"]["result"];
        Ok(match v["data"]["resultType"].as_str() {
            // A scalar or string result is one `[t, "v"]` pair.
            Some("scalar") | Some("string") => vec![result.clone()],
            _ => result.as_array().cloned().unwrap_or_default(),
        })
    }

    /// The first sample's value of `expr`, if any.
    pub async fn value(&self, expr: &str) -> Option<f64> {
        let r = self.query(expr).await.ok()?;
        let first = r.first()?;
        // A vector sample is {metric, value: [t, "v"]}; a scalar result is [t, "v"] itself.
        let pair = if first.is_array() {
            first
        } else {
            &first["value"]
        };
        pair[1].as_str()?.parse().ok()
    }

    /// Every alert (firing or resolved) the webhook received so far.
    pub fn notified_alerts(&self) -> Vec<Value> {
        self.notifications
            .lock()
            .unwrap()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Where the processes' logs and configs are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops both processes and removes the files.
    pub async fn stop(mut self) {
        for c in &mut self.children {
            let _ = c.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
