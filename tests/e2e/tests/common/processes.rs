//! The real service binaries as child processes, for tests that need what only a process has:
//! its own tracer provider and `service.name`, environment-variable configuration, and a SIGTERM.

use printflow_test_support::{eventually, identity};
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
    /// Starts `printflow-<name>` with `env` on a free port and waits for `/readyz`.
    pub async fn start(name: &'static str, env: &[(&str, String)]) -> ServiceProcess {
        let port = free_port();
        let upper = name.to_uppercase();
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

    /// The last lines of its output.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}
