//! Several processes of each service on one set of databases and one broker (or cluster), with
//! order traffic through every Shop and the end-of-test check that every order is reconciled,
//! read straight from the databases.

use super::processes::{free_port, otel_env, saved_design, ServiceProcess};
use super::{crm_db, mes_db, shop_db};
use printflow_test_support::{identity, TestDatabase};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// `instances` processes of Shop, CRM and MES. Instance `i` of the Shop talks to CRM `i`, MES
/// `i` fetches models from Shop `i`; all share the three databases, the model store and the
/// broker, as replicas behind a load balancer would.
pub struct Fleet {
    /// The Shops, in instance order (`None` once killed).
    pub shops: Vec<Option<ServiceProcess>>,
    /// The CRMs.
    pub crms: Vec<Option<ServiceProcess>>,
    /// The MESs.
    pub mess: Vec<Option<ServiceProcess>>,
    /// CRM's database (kept alive for the test; dropped with the fleet).
    pub crm_db: TestDatabase,
    /// MES's database.
    pub mes_db: TestDatabase,
    /// The Shop's database.
    pub shop_db: TestDatabase,
    /// The Shops' shared model store.
    pub models: std::path::PathBuf,
}

impl Fleet {
    /// Starts `instances` of each service on `amqp_url` (one URL, or a cluster's
    /// comma-separated nodes), with `each(name)` added to every service's settings.
    pub async fn start(
        instances: usize,
        amqp_url: &str,
        each: impl Fn(&str) -> Vec<(&'static str, String)>,
    ) -> Fleet {
        let (crm_db, shop_db, mes_db) = tokio::join!(crm_db(), shop_db(), mes_db());
        let models =
            std::env::temp_dir().join(format!("printflow-models-{}", uuid::Uuid::new_v4()));
        let mes_ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
        let mut crms = Vec::new();
        for port in &mes_ports {
            let mut env = otel_env();
            env.push(("CRM_DATABASE_URL", crm_db.url.clone()));
            env.push(("CRM_AMQP_URL", amqp_url.to_owned()));
            env.push(("CRM_MES_URL", format!("http://127.0.0.1:{port}")));
            env.extend(each("crm"));
            crms.push(ServiceProcess::start("crm", &env).await);
        }
        let mut shops = Vec::new();
        for crm in &crms {
            let mut env = otel_env();
            env.push(("SHOP_DATABASE_URL", shop_db.url.clone()));
            env.push(("SHOP_CRM_URL", crm.url.clone()));
            env.push(("SHOP_MODEL_STORE_DIR", models.display().to_string()));
            env.extend(each("shop"));
            shops.push(ServiceProcess::start("shop", &env).await);
        }
        let mut mess = Vec::new();
        for (shop, port) in shops.iter().zip(&mes_ports) {
            let mut env = otel_env();
            env.push(("MES_DATABASE_URL", mes_db.url.clone()));
            env.push(("MES_AMQP_URL", amqp_url.to_owned()));
            env.push(("MES_SHOP_URL", shop.url.clone()));
            env.push(("MES_TIME_SCALE", "0.00002".to_owned()));
            env.push(("MES_TICK_MS", "25".to_owned()));
            env.push(("MES_PRINTERS", "8".to_owned()));
            // A killed instance's model-check leases (timeout + 10 s) expire within the test.
            env.push(("MES_SHOP_TIMEOUT_MS", "1000".to_owned()));
            env.push(("MES_HTTP_PORT", port.to_string()));
            env.extend(each("mes"));
            mess.push(ServiceProcess::start("mes", &env).await);
        }
        Fleet {
            shops: shops.into_iter().map(Some).collect(),
            crms: crms.into_iter().map(Some).collect(),
            mess: mess.into_iter().map(Some).collect(),
            crm_db,
            mes_db,
            shop_db,
            models,
        }
    }

    /// The base URLs of the Shops still running.
    pub fn live_shops(&self) -> Vec<String> {
        self.shops.iter().flatten().map(|s| s.url.clone()).collect()
    }

    /// SIGKILLs instance `i` of Shop, CRM and MES at once.
    pub async fn kill_instance(&mut self, i: usize) {
        let (shop, crm, mes) = (
            self.shops[i].take().expect("shop running"),
            self.crms[i].take().expect("crm running"),
            self.mess[i].take().expect("mes running"),
        );
        tokio::join!(shop.kill(), crm.kill(), mes.kill());
    }

    /// Stops what still runs (SIGTERM; each must exit cleanly) and removes the model store.
    pub async fn stop(mut self) {
        let all = self
            .shops
            .drain(..)
            .chain(self.crms.drain(..))
            .chain(self.mess.drain(..))
            .flatten();
        for process in all {
            let name = process.name;
            assert!(process.stop().await, "{name} did not stop cleanly");
        }
        let _ = std::fs::remove_dir_all(&self.models);
    }

    /// Waits (up to `within`) until every order CRM knows is reconciled, then returns the
    /// final picture; panics with the last disagreement otherwise. Reconciled means: CRM's
    /// and MES's outboxes are drained, each CRM order has exactly one MES job, the job has
    /// reached a final status and CRM shows that status, and CRM applied MES's events
    /// 1..n without a gap.
    pub async fn wait_reconciled(&self, within: Duration) -> Reconciled {
        let crm = PgPool::connect(&self.crm_db.url).await.expect("CRM db");
        let mes = PgPool::connect(&self.mes_db.url).await.expect("MES db");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let (state, problem) = reconciliation(&crm, &mes).await;
            match problem {
                None => return state,
                Some(p) if tokio::time::Instant::now() >= deadline => {
                    panic!("not reconciled after {within:?}: {p}")
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
}

/// What the databases showed once every order was reconciled.
#[derive(Debug)]
pub struct Reconciled {
    /// CRM's orders.
    pub orders: usize,
    /// Orders per final status.
    pub by_status: HashMap<String, usize>,
    /// Jobs MES started printing more than once (must be none: a restarted job would show two
    /// PRINTING events).
    pub printed_twice: i64,
    /// The order ids CRM has.
    pub ids: Vec<Uuid>,
}

/// One look at both databases: the state, and the first disagreement if there is one.
async fn reconciliation(crm: &PgPool, mes: &PgPool) -> (Reconciled, Option<String>) {
    let crm_orders: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT o.id, o.status,
                COALESCE((SELECT max(sequence) FROM status_events e
                          WHERE e.order_id = o.id AND e.outcome = 'applied'), 0)
           FROM orders o",
    )
    .fetch_all(crm)
    .await
    .expect("CRM orders");
    let gaps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT order_id FROM status_events WHERE outcome = 'applied'
             GROUP BY order_id HAVING count(*) <> max(sequence)) g",
    )
    .fetch_one(crm)
    .await
    .expect("CRM event gaps");
    let crm_outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(crm)
        .await
        .expect("CRM outbox");
    let jobs: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT j.order_id, j.status, count(*) OVER (PARTITION BY j.order_id) FROM jobs j",
    )
    .fetch_all(mes)
    .await
    .expect("MES jobs");
    let mes_outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(mes)
        .await
        .expect("MES outbox");
    let printed_twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE to_status = 'PRINTING'
                                GROUP BY job_id HAVING count(*) > 1) t",
    )
    .fetch_one(mes)
    .await
    .expect("MES printing events");
    let jobs: HashMap<Uuid, (String, i64)> = jobs
        .into_iter()
        .map(|(order, status, n)| (order, (status, n)))
        .collect();
    let mut by_status = HashMap::new();
    let mut problem = None;
    for (id, status, _) in &crm_orders {
        *by_status.entry(status.clone()).or_insert(0) += 1;
        if problem.is_some() {
            continue;
        }
        problem = match jobs.get(id) {
            None => Some(format!("order {id} ({status}) has no MES job")),
            Some((_, n)) if *n != 1 => Some(format!("order {id} has {n} MES jobs")),
            Some((job, _)) if job != status => {
                Some(format!("order {id}: CRM says {status}, MES says {job}"))
            }
            Some((job, _)) if !["SHIPPED", "FAILED", "CANCELLED"].contains(&job.as_str()) => {
                Some(format!("order {id} is still {job}"))
            }
            _ => None,
        };
    }
    if problem.is_none() && jobs.len() != crm_orders.len() {
        problem = Some(format!(
            "MES has {} jobs for {} CRM orders",
            jobs.len(),
            crm_orders.len()
        ));
    }
    if problem.is_none() && crm_outbox + mes_outbox > 0 {
        problem = Some(format!(
            "outboxes not drained: CRM {crm_outbox}, MES {mes_outbox}"
        ));
    }
    if problem.is_none() && gaps > 0 {
        problem = Some(format!("{gaps} orders with a gap in their applied events"));
    }
    let state = Reconciled {
        orders: crm_orders.len(),
        by_status,
        printed_twice,
        ids: crm_orders.iter().map(|o| o.0).collect(),
    };
    (state, problem)
}

/// What closed-loop order traffic achieved.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Orders the Shop confirmed (201), by id.
    pub placed: Vec<Uuid>,
    /// Requests that failed (connection refused or reset by a killed instance, or an error
    /// answer), with what happened.
    pub failed: Vec<String>,
}

/// The Shops a load balancer would send customers to; a test removes one it killed.
pub type LiveShops = Arc<Mutex<Vec<String>>>;

/// `clients` closed-loop customers place orders until `stop` is set, taking turns over the
/// Shops in `shops` (read before every order, so traffic moves off an instance once the test
/// takes it out). Each client saves one design first and orders it repeatedly.
pub async fn order_traffic(clients: usize, shops: LiveShops, stop: Arc<AtomicBool>) -> Traffic {
    let traffic = Arc::new(Mutex::new(Traffic::default()));
    let http = identity::client_as_user("alice").await;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (shops, stop, traffic, http) =
            (shops.clone(), stop.clone(), traffic.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let first = {
                let live = shops.lock().unwrap();
                live[client % live.len()].clone()
            };
            let (design, version) = saved_design(&http, &first).await;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let shop = {
                    let live = shops.lock().unwrap();
                    live[(client + n) % live.len()].clone()
                };
                n += 1;
                let outcome = http
                    .post(format!("{shop}/orders"))
                    .json(&json!({"design_id": design, "design_version": version,
                        "quantity": 1, "shipping": "standard",
                        "customer": {"name": format!("Client {client}"),
                                     "email": format!("client-{client}@example.com")}}))
                    .send()
                    .await;
                match outcome {
                    Ok(r) if r.status() == 201 => {
                        let body: Value = r.json().await.expect("order JSON");
                        let id = body["order_id"]
                            .as_str()
                            .expect("order_id")
                            .parse()
                            .unwrap();
                        traffic.lock().unwrap().placed.push(id);
                    }
                    Ok(r) => {
                        let failure = format!("{shop}: {}", r.status());
                        traffic.lock().unwrap().failed.push(failure);
                    }
                    Err(e) => traffic.lock().unwrap().failed.push(format!("{shop}: {e}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    Arc::try_unwrap(traffic)
        .map_err(|_| "traffic still shared")
        .unwrap()
        .into_inner()
        .unwrap()
}
