//! The reconciler: every [`ReconcileSettings::interval`], CRM compares the orders it holds with
//! MES's jobs and with its own outbox, and reports the disagreements that outlived the grace
//! period (`printflow_reconciliation_disagreements{kind}`, alert `OrdersOutOfSync`,
//! `GET /reconciliation`). It never changes an order: [`repair`] is an `admin`'s decision, and
//! is recorded in the order's history.
//!
//! Which orders: every order not in `SHIPPED`, `FAILED` or `CANCELLED`, plus those that entered
//! one of these within [`ReconcileSettings::window`] (a cancellation production ignored, a
//! terminal status CRM missed), oldest first, at most [`MAX_ORDERS`] per run.
//!
//! Every CRM instance reconciles on its own; the reports are read-only, so several agree
//! rather than conflict (the alert takes the maximum).
//!
//! Modules: `repair` uses `classify` and `mes_client`; `classify` and `mes_client` use no
//! sibling. Errors: [`ReconcileError`] for a run, [`repair::RepairError`] for a repair.

pub mod classify;
pub mod mes_client;
pub mod repair;

use crate::db::Db;
use chrono::{DateTime, Utc};
use classify::{classify, Finding, Kind, OrderSnapshot};
use mes_client::{MesClient, MesError};
use printflow_metrics::{GaugeF64, Metrics};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use uuid::Uuid;

/// Most orders compared in one run (the oldest first); more is logged as a warning.
pub const MAX_ORDERS: i64 = 20_000;

/// How the reconciler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Time between runs (`CRM_RECONCILE_INTERVAL_SECONDS`, default 15).
    pub interval: Duration,
    /// How long a disagreement may last before it is reported: longer than a message normally
    /// takes from one service to the other (`CRM_RECONCILE_GRACE_SECONDS`, default 60).
    pub grace: Duration,
    /// How long orders stay compared after reaching `SHIPPED`, `FAILED` or `CANCELLED`
    /// (`CRM_RECONCILE_WINDOW_SECONDS`, default 3600).
    pub window: Duration,
}

/// The last run's result, as `GET /reconciliation` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// When the run compared.
    pub checked_at: DateTime<Utc>,
    /// The grace period applied.
    pub grace_seconds: u64,
    /// Orders compared.
    pub orders_checked: usize,
    /// What disagrees, oldest first.
    pub disagreements: Vec<Finding>,
}

/// Why a run did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading CRM's orders failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// MES could not be asked.
    #[error(transparent)]
    Mes(#[from] MesError),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The reconciler's metrics (docs/metrics.md).
#[derive(Debug, Clone, Default)]
struct ReconcileMetrics {
    /// `printflow_reconciliation_disagreements{kind}`.
    disagreements: Family<KindLabel, Gauge>,
    /// `printflow_reconciliation_orders_checked`.
    checked: Gauge,
    /// `printflow_reconciliation_runs_total{outcome}`.
    runs: Family<OutcomeLabel, Counter>,
    /// `printflow_reconciliation_last_success_timestamp_seconds`.
    last_success: GaugeF64,
}

/// The reconciler and the last report it made. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reconciler {
    /// CRM's orders.
    db: Db,
    /// MES's jobs.
    mes: MesClient,
    /// Interval, grace, window.
    settings: ReconcileSettings,
    /// Metrics.
    metrics: ReconcileMetrics,
    /// The last successful run's report.
    latest: Arc<RwLock<Option<Report>>>,
}

impl Reconciler {
    /// A reconciler of `db` against `mes`, registering its metrics in `registry`.
    pub fn new(db: Db, mes: MesClient, settings: ReconcileSettings, registry: &Metrics) -> Self {
        let metrics = ReconcileMetrics::default();
        registry.register(
            "printflow_reconciliation_disagreements",
            "Orders whose CRM status, MES job and outbox disagree for longer than the grace period, by kind",
            metrics.disagreements.clone(),
        );
        registry.register(
            "printflow_reconciliation_orders_checked",
            "Orders the last reconciliation run compared",
            metrics.checked.clone(),
        );
        registry.register(
            "printflow_reconciliation_runs",
            "Reconciliation runs, by outcome (ok, error)",
            metrics.runs.clone(),
        );
        registry.register(
            "printflow_reconciliation_last_success_timestamp_seconds",
            "When the last reconciliation run completed (Unix time)",
            metrics.last_success.clone(),
        );
        let grace = GaugeF64::default();
        grace.set(settings.grace.as_secs_f64());
        registry.register(
            "printflow_reconciliation_grace_seconds",
            "How long a disagreement may last before it is reported",
            grace,
        );
        for kind in Kind::ALL {
            metrics
                .disagreements
                .get_or_create(&KindLabel {
                    kind: kind.as_str(),
                })
                .set(0);
        }
        for outcome in ["ok", "error"] {
            let _ = metrics.runs.get_or_create(&OutcomeLabel { outcome });
        }
        Reconciler {
            db,
            mes,
            settings,
            metrics,
            latest: Arc::new(RwLock::new(None)),
        }
    }

    /// The last successful run's report (`None` before the first).
    pub fn latest(&self) -> Option<Report> {
        self.latest
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The MES client (for repairs).
    pub fn mes(&self) -> &MesClient {
        &self.mes
    }

    /// The settings.
    pub fn settings(&self) -> ReconcileSettings {
        self.settings
    }

    /// Runs every interval until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.settings.interval) => {}
            }
            // A failed run keeps the last report and gauges: MES being down for a moment says
            // nothing new about the orders (ReconciliationFailing says it is not running).
            if let Err(e) = self.check().await {
                tracing::warn!(error = %e, "reconciliation failed; will retry");
            }
        }
    }

    /// One run: compares, updates the gauges and the report, logs what is newly found.
    #[tracing::instrument(
        name = "orders.reconcile",
        skip_all,
        fields(reconcile.orders_checked, reconcile.disagreements, error.type)
    )]
    pub async fn check(&self) -> Result<Report, ReconcileError> {
        let result = self.compare().await;
        let span = tracing::Span::current();
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                self.count("error");
                let kind = match e {
                    ReconcileError::Database(_) => "database",
                    ReconcileError::Mes(_) => "mes_unavailable",
                };
                printflow_telemetry::record_error(&span, kind, &e.to_string());
                return Err(e);
            }
        };
        span.record("reconcile.orders_checked", report.orders_checked);
        span.record("reconcile.disagreements", report.disagreements.len());
        let mut counts: HashMap<Kind, i64> = HashMap::new();
        for finding in &report.disagreements {
            *counts.entry(finding.kind).or_default() += 1;
        }
        for kind in Kind::ALL {
            self.metrics
                .disagreements
                .get_or_create(&KindLabel {
                    kind: kind.as_str(),
                })
                .set(counts.get(&kind).copied().unwrap_or(0));
        }
        self.metrics
            .checked
            .set(i64::try_from(report.orders_checked).unwrap_or(i64::MAX));
        self.metrics
            .last_success
            .set(report.checked_at.timestamp_millis() as f64 / 1000.0);
        self.count("ok");
        let known: HashSet<(Uuid, Kind)> = self
            .latest()
            .map(|r| {
                r.disagreements
                    .iter()
                    .map(|f| (f.order_id, f.kind))
                    .collect()
            })
            .unwrap_or_default();
        for finding in &report.disagreements {
            if !known.contains(&(finding.order_id, finding.kind)) {
                tracing::warn!(
                    order.id = %finding.order_id,
                    reconcile.kind = finding.kind.as_str(),
                    detail = %finding.detail,
                    "CRM and MES disagree"
                );
            }
        }
        *self
            .latest
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report.clone());
        Ok(report)
    }

    fn count(&self, outcome: &'static str) {
        self.metrics
            .runs
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    async fn compare(&self) -> Result<Report, ReconcileError> {
        let checked_at = Utc::now();
        let orders = candidates(&self.db, self.settings.window).await?;
        let ids: Vec<Uuid> = orders.iter().map(|o| o.order_id).collect();
        let jobs: HashMap<Uuid, _> = self
            .mes
            .states(&ids)
            .await?
            .into_iter()
            .map(|j| (j.order_id, j))
            .collect();
        let mut disagreements: Vec<Finding> = orders
            .iter()
            .filter_map(|o| classify(o, jobs.get(&o.order_id), checked_at, self.settings.grace))
            .collect();
        disagreements.sort_by_key(|f| f.since);
        Ok(Report {
            checked_at,
            grace_seconds: self.settings.grace.as_secs(),
            orders_checked: orders.len(),
            disagreements,
        })
    }
}

/// An order row as [`snapshots`] reads it: id, status, last source sequence, status since,
/// created at, acknowledged.
type SnapshotRow = (Uuid, String, i64, DateTime<Utc>, DateTime<Utc>, bool);

/// The orders to compare (see the module docs), oldest first.
pub async fn candidates(db: &Db, window: Duration) -> Result<Vec<OrderSnapshot>, sqlx::Error> {
    snapshots(db, window, None).await
}

/// The snapshots of [`candidates`], or of order `only` alone (whatever its status).
async fn snapshots(
    db: &Db,
    window: Duration,
    only: Option<Uuid>,
) -> Result<Vec<OrderSnapshot>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let unpublished: HashSet<Uuid> = sqlx::query_scalar::<_, String>(
        "SELECT payload->'data'->>'order_id' FROM outbox
         WHERE sent_at IS NULL AND routing_key = 'order.created'",
    )
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .filter_map(|s| s.parse().ok())
    .collect();
    let rows: Vec<SnapshotRow> = sqlx::query_as(
        // The candidates' ids first (open orders through `orders_open_idx`, recent changes
        // through `orders_status_since_idx`), then their rows: as a filter on a walk of all
        // orders in creation order, the cost grew with every order ever placed.
        "WITH ids AS MATERIALIZED (
             SELECT id FROM orders
             WHERE $3::uuid IS NULL AND status NOT IN ('SHIPPED', 'FAILED', 'CANCELLED')
             UNION
             SELECT id FROM orders
             WHERE $3::uuid IS NULL AND status_since > now() - make_interval(secs => $1)
             UNION
             SELECT $3::uuid WHERE $3::uuid IS NOT NULL)
         SELECT o.id, o.status, o.last_source_sequence, o.status_since, o.created_at,
                EXISTS (SELECT 1 FROM order_repairs r
                        WHERE r.order_id = o.id AND r.action = 'acknowledged')
         FROM ids JOIN orders o ON o.id = ids.id
         ORDER BY o.created_at, o.id
         LIMIT $2",
    )
    .bind(window.as_secs_f64())
    .bind(MAX_ORDERS)
    .bind(only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= MAX_ORDERS {
        tracing::warn!(
            max = MAX_ORDERS,
            "more orders to reconcile than one run compares; the newest wait"
        );
    }
    rows.into_iter()
        .map(
            |(order_id, status, last_source_sequence, status_since, created_at, acknowledged)| {
                Ok(OrderSnapshot {
                    order_id,
                    status: status.parse().map_err(
                        |e: printflow_contracts::status::UnknownStatus| {
                            sqlx::Error::Decode(e.into())
                        },
                    )?,
                    last_source_sequence,
                    status_since,
                    created_at,
                    unpublished: unpublished.contains(&order_id),
                    acknowledged,
                })
            },
        )
        .collect()
}
