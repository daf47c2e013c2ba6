//! Seed point 5 ("loss of the message that a new order was created"): orders taken while
//! RabbitMQ is down are kept in CRM's outbox and delivered once the broker is back, and orders
//! already queued survive the broker's restart. Runs its own private RabbitMQ node, because
//! stopping the shared broker would disturb every other test running in parallel.

mod common;

use common::Stack;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A throwaway RabbitMQ node started through `scripts/rabbitmq-node.sh`.
struct PrivateBroker {
    /// Node data directory.
    dir: PathBuf,
    /// AMQP port.
    port: u16,
    /// The control script.
    script: PathBuf,
}

impl PrivateBroker {
    fn start() -> PrivateBroker {
        let script = std::env::var("PRINTFLOW_RABBITMQ_NODE_SCRIPT")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-node.sh")
            });
        let port = free_port_pair();
        let dir = std::env::temp_dir().join(format!("printflow-rmq-{port}"));
        let broker = PrivateBroker { dir, port, script };
        broker.run("start");
        broker
    }

    fn run(&self, action: &str) {
        let mut cmd = Command::new("bash");
        cmd.arg(&self.script).arg(action).arg(&self.dir);
        if action == "start" {
            cmd.arg(self.port.to_string());
        }
        let out = cmd.output().expect("run rabbitmq-node.sh");
        assert!(
            out.status.success(),
            "rabbitmq-node.sh {action} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.run("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An AMQP port whose distribution port (+20000) is free too.
fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let port = 30_000 + (uuid::Uuid::new_v4().as_u128() % 15_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 20_000)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port pair found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_taken_while_rabbitmq_is_down_are_all_delivered_after_it_restarts() {
    let broker = PrivateBroker::start();
    let stack = Stack::start(&broker.url()).await;
    let (design_id, version) = stack.saved_design().await;

    // Before the outage: an order flows normally.
    let before = stack.place_order(&design_id, version, 1).await;
    stack
        .wait_for_status(&before, "ACCEPTED", Duration::from_secs(30))
        .await;

    // Outage: CRM still takes orders (201) because they only need PostgreSQL.
    tokio::task::spawn_blocking({
        let dir = broker.dir.clone();
        let script = broker.script.clone();
        move || {
            let ok = Command::new("bash")
                .arg(script)
                .arg("stop")
                .arg(dir)
                .status()
                .expect("stop broker")
                .success();
            assert!(ok, "broker stop failed");
        }
    })
    .await
    .unwrap();
    let mut during = Vec::new();
    for n in 0..5 {
        during.push(stack.place_order(&design_id, version, 10 + n).await);
    }
    for id in &during {
        let status = stack
            .get(&format!("{}/orders/{id}/status", stack.crm))
            .await;
        assert_eq!(
            status["status"], "NEW",
            "nothing can move while the broker is down"
        );
    }

    // Recovery: the same node comes back with its data; every order reaches production.
    let restart = {
        let dir = broker.dir.clone();
        let script = broker.script.clone();
        let port = broker.port;
        move || {
            Command::new("bash")
                .arg(script)
                .arg("start")
                .arg(dir)
                .arg(port.to_string())
                .status()
                .expect("start broker")
                .success()
        }
    };
    assert!(
        tokio::task::spawn_blocking(restart).await.unwrap(),
        "broker restart failed"
    );

    for id in during.iter().chain(std::iter::once(&before)) {
        stack
            .wait_for_status(id, "SHIPPED", Duration::from_secs(90))
            .await;
    }
    // Exactly one production job per order: nothing lost, nothing doubled.
    for id in during.iter().chain(std::iter::once(&before)) {
        let job = stack.get(&format!("{}/orders/{id}/job", stack.mes)).await;
        assert_eq!(job["order_id"], id.as_str());
    }

    stack.shutdown().await;
    drop(broker);
}
