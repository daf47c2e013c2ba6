//! The services on a three-node RabbitMQ cluster (`scripts/rabbitmq-cluster.sh`), given all
//! three nodes in their AMQP URL: the node leading the work queue is SIGKILLed under order
//! traffic, and no order is lost, consumption resumes within seconds on the surviving nodes and
//! nothing is dead-lettered.

mod common;

use common::fleet::{order_traffic, Fleet, LiveShops};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The queue whose leader dies: MES's status events to CRM, six per order.
const WORK_QUEUE: &str = "crm.order_status_changed";

/// A private cluster, stopped and removed on drop.
struct Cluster {
    /// Its state directory.
    dir: PathBuf,
    /// Node 1's AMQP port; node i listens on `base + i - 1`.
    base: u16,
    /// `scripts/rabbitmq-cluster.sh`.
    script: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        let script = std::env::var("PRINTFLOW_RABBITMQ_CLUSTER_SCRIPT")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-cluster.sh")
            });
        let base = free_base_port();
        let dir = std::env::temp_dir().join(format!("printflow-cluster-{base}"));
        let cluster = Cluster { dir, base, script };
        cluster.run(&["start", &base.to_string()]);
        cluster
    }

    /// Runs `script ACTION DIR ARGS...`; its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(&self.script)
            .arg(args[0])
            .arg(&self.dir)
            .args(&args[1..])
            .env("QUIET", "1")
            .output()
            .expect("run rabbitmq-cluster.sh");
        assert!(
            out.status.success(),
            "rabbitmq-cluster.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// All three nodes, as one comma-separated AMQP URL.
    fn url(&self) -> String {
        (0..3)
            .map(|i| format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.base + i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index (1..3) of the node leading `queue`, once it has one.
    async fn leader(&self, queue: &str) -> u16 {
        printflow_test_support::eventually(
            &format!("a leader for {queue}"),
            Duration::from_secs(60),
            || async {
                let out = Command::new("bash")
                    .arg(&self.script)
                    .args(["leader"])
                    .arg(&self.dir)
                    .arg(queue)
                    .env("QUIET", "1")
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                out.status.success().then_some(())?;
                text.split_whitespace().next()?.parse().ok()
            },
        )
        .await
    }

    /// Messages in every dead-letter queue, read with a passive declare on node `via` (the
    /// CLI's `list_queues` can lag behind right after a leader change).
    async fn dead_lettered(&self, via: u16) -> u32 {
        let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.base + via - 1);
        let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .expect("connect to a surviving node");
        let channel = conn.create_channel().await.expect("channel");
        let mut total = 0;
        for queue in printflow_messaging::topology::ALL_QUEUES {
            let dlq = channel
                .queue_declare(
                    queue.dead_letter_queue().as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    lapin::types::FieldTable::default(),
                )
                .await
                .expect("the dead-letter queue exists");
            total += dlq.message_count();
        }
        let _ = conn.close(200, "done".into()).await;
        total
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A base port whose three AMQP ports and their distribution ports (+20000) are free.
fn free_base_port() -> u16 {
    for _ in 0..200 {
        let base = 30_000 + (uuid::Uuid::new_v4().as_u128() % 15_000) as u16;
        // The RabbitMQ CLI tools take their distribution ports from 35672-35682; the cluster
        // script refuses a range that reaches into it.
        if (35_670..=35_682).contains(&base) {
            continue;
        }
        let free = (0..3).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + i + 20_000)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free port range found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_work_queue_leader_under_load_loses_no_order() {
    let cluster = Cluster::start();
    let fleet = Fleet::start(1, &cluster.url(), |_| Vec::new()).await;
    let shops: LiveShops = Arc::new(Mutex::new(fleet.live_shops()));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(order_traffic(4, shops, stop.clone()));

    let crm = sqlx::PgPool::connect(&fleet.crm_db.url).await.unwrap();
    let applied = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM status_events WHERE outcome = 'applied'")
            .fetch_one(&crm)
            .await
            .unwrap()
    };
    printflow_test_support::eventually(
        "status events flowing through the cluster",
        Duration::from_secs(60),
        || async { (applied().await >= 60).then_some(()) },
    )
    .await;

    let leader = cluster.leader(WORK_QUEUE).await;
    let survivor: u16 = if leader == 1 { 2 } else { 1 };
    cluster.run(&["kill", &leader.to_string()]);
    let killed_at = Instant::now();
    let before = applied().await;
    // Consumption resumes on the surviving nodes: CRM applies new events again.
    printflow_test_support::eventually(
        "CRM applying status events again after the leader died",
        Duration::from_secs(30),
        || async { (applied().await >= before + 30).then_some(()) },
    )
    .await;
    let resumed_after = killed_at.elapsed();
    assert_ne!(
        cluster.leader(WORK_QUEUE).await,
        leader,
        "a surviving node leads the queue"
    );
    stop.store(true, Ordering::Relaxed);
    let traffic = traffic.await.unwrap();

    let end = fleet.wait_reconciled(Duration::from_secs(120)).await;
    for id in &traffic.placed {
        assert!(end.ids.contains(id), "order {id} was confirmed but lost");
    }
    assert_eq!(
        end.by_status.get("SHIPPED").copied().unwrap_or(0),
        end.orders,
        "every order ships: {end:?}"
    );
    assert!(
        traffic.failed.is_empty(),
        "the Shop kept taking orders while a broker node died: {:?}",
        traffic.failed
    );
    assert!(
        resumed_after < Duration::from_secs(15),
        "consumption resumed {resumed_after:?} after the kill"
    );
    assert_eq!(
        cluster.dead_lettered(survivor).await,
        0,
        "nothing dead-lettered"
    );
    fleet.stop().await;
}
