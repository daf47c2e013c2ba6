//! CRM metrics (see `docs/metrics.md`): the order indicators of the seed ("the number of orders
//! in each status", "the time an order spends in a given status", and the overstay alert).
//!
//! Read from the database at scrape time (so right immediately after a restart, and the same
//! whichever CRM instance is scraped):
//!
//! | metric                                      | type  | labels               |
//! |---------------------------------------------|-------|----------------------|
//! | `printflow_orders`                          | gauge | `status` (all, 0 too)|
//! | `printflow_order_oldest_status_age_seconds` | gauge | `status` (all, 0 too)|
//! | `printflow_orders_overdue`                  | gauge | `status` (with limit)|
//! | `printflow_order_overdue_age_seconds`       | gauge | `status`, `order_id` (5 oldest overdue per status) |
//!
//! Set from the configuration: `printflow_order_status_limit_seconds{status}`.
//!
//! Observed when a status change commits ([`CrmMetrics::status_changed`], from the MES consumer
//! and from cancellation), with the order's trace as exemplar:
//! `printflow_order_status_duration_seconds{status}` (the status left, time spent in it) and
//! `printflow_order_lead_time_seconds` (created -> `SHIPPED`). Counted per processed MES event:
//! `printflow_status_events_total{outcome}`. Counted when a new order commits (a repeat is not
//! counted): `printflow_orders_created_total`.

use crate::status_limits::StatusLimits;
use crate::status_trace::{EventOutcome, StatusChange};
use printflow_contracts::OrderStatus;
use printflow_metrics::snapshot::snapshot_transaction;
use printflow_metrics::{buckets, trace_exemplar, GaugeF64, Metrics, TraceExemplar};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

/// At most this many orders per status get an `order_id` series in
/// `printflow_order_overdue_age_seconds`: enough to name the worst cases in an alert, few enough
/// to keep the series count bounded however many orders are late.
pub const OVERDUE_ORDERS_SHOWN: i64 = 5;

/// `status` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    /// An `OrderStatus` spelling.
    status: &'static str,
}

/// Labels of one overdue order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OverdueLabels {
    /// Its status.
    status: &'static str,
    /// The order id.
    order_id: String,
}

/// `outcome` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    /// An `EventOutcome` spelling.
    outcome: &'static str,
}

type TracedHistogram = HistogramWithExemplars<TraceExemplar>;

fn status_duration_histogram() -> TracedHistogram {
    HistogramWithExemplars::new(buckets::STATUS_SECONDS.into_iter())
}

/// Every status an order can leave (all but the final ones): the label values of
/// `printflow_order_status_duration_seconds`.
fn leavable() -> impl Iterator<Item = OrderStatus> {
    OrderStatus::ALL.into_iter().filter(|s| !s.is_terminal())
}

/// The CRM's metrics. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct CrmMetrics {
    /// `printflow_orders`.
    orders: Family<StatusLabels, Gauge>,
    /// `printflow_order_oldest_status_age_seconds`.
    oldest_age: Family<StatusLabels, GaugeF64>,
    /// `printflow_order_status_duration_seconds`.
    status_duration: Family<StatusLabels, TracedHistogram, fn() -> TracedHistogram>,
    /// `printflow_order_lead_time_seconds`.
    lead_time: TracedHistogram,
    /// `printflow_status_events_total`.
    status_events: Family<OutcomeLabels, Counter>,
    /// `printflow_orders_created_total`.
    created: Counter,
    /// `printflow_order_status_limit_seconds`.
    limit: Family<StatusLabels, GaugeF64>,
    /// `printflow_orders_overdue`.
    overdue: Family<StatusLabels, Gauge>,
    /// `printflow_order_overdue_age_seconds`.
    overdue_age: Family<OverdueLabels, GaugeF64>,
    /// The configured limits.
    limits: StatusLimits,
}

impl CrmMetrics {
    /// Registers the CRM's metrics in `metrics`, sets the limit gauges from `limits` and reads
    /// the order gauges from `pool` at every scrape.
    pub fn register(metrics: &Metrics, pool: PgPool, limits: StatusLimits) -> CrmMetrics {
        let m = CrmMetrics::unregistered(limits);
        metrics.register(
            "printflow_orders",
            "Orders in each status (read from the database at scrape time)",
            m.orders.clone(),
        );
        metrics.register(
            "printflow_order_oldest_status_age_seconds",
            "How long the order that has been longest in each status has been in it, 0 when none (read from the database at scrape time)",
            m.oldest_age.clone(),
        );
        metrics.register(
            "printflow_order_status_duration_seconds",
            "Time orders spent in a status, observed when they leave it; label status is the status left",
            m.status_duration.clone(),
        );
        metrics.register(
            "printflow_order_lead_time_seconds",
            "Time from an order's creation to SHIPPED, observed when SHIPPED is applied",
            m.lead_time.clone(),
        );
        metrics.register(
            "printflow_status_events",
            "MES status events by what CRM made of them: applied, pending (arrived ahead of a gap), duplicate, stale, rejected (illegal transition)",
            m.status_events.clone(),
        );
        metrics.register(
            "printflow_orders_created",
            "Orders recorded, counted when a new order commits (an idempotent repeat is not counted)",
            m.created.clone(),
        );
        metrics.register(
            "printflow_order_status_limit_seconds",
            "The configured limit of each status (CRM_STATUS_LIMITS); an order in it longer is overdue",
            m.limit.clone(),
        );
        metrics.register(
            "printflow_orders_overdue",
            "Orders in each status for longer than its limit (read from the database at scrape time)",
            m.overdue.clone(),
        );
        metrics.register(
            "printflow_order_overdue_age_seconds",
            "Time in their status of the oldest overdue orders, at most 5 per status (read from the database at scrape time)",
            m.overdue_age.clone(),
        );
        let gauges = m.clone();
        metrics.refresh_at_scrape("orders", move || {
            let (pool, gauges) = (pool.clone(), gauges.clone());
            async move {
                let snapshot = read(&pool, &gauges.limits).await?;
                gauges.set(&snapshot);
                Ok(())
            }
        });
        m
    }

    /// The metrics with every fixed series created, not in any registry.
    fn unregistered(limits: StatusLimits) -> CrmMetrics {
        let m = CrmMetrics {
            orders: Family::default(),
            oldest_age: Family::default(),
            status_duration: Family::new_with_constructor(status_duration_histogram),
            lead_time: HistogramWithExemplars::new(buckets::LEAD_TIME_SECONDS.into_iter()),
            status_events: Family::default(),
            created: Counter::default(),
            limit: Family::default(),
            overdue: Family::default(),
            overdue_age: Family::default(),
            limits,
        };
        // Every series that can ever exist (but the per-order ones) exists from the start, at 0:
        // a missing series is not a zero to Prometheus, and the first increase of a series that
        // appears with it is invisible to `increase()`.
        for status in leavable() {
            drop(m.status_duration.get_or_create(&status_labels(status)));
        }
        for outcome in [
            EventOutcome::Applied,
            EventOutcome::Pending,
            EventOutcome::Duplicate,
            EventOutcome::Stale,
            EventOutcome::Rejected,
        ] {
            drop(m.status_events.get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            }));
        }
        for (status, limit) in m.limits.iter() {
            m.limit
                .get_or_create(&status_labels(status))
                .set(limit.as_secs_f64());
        }
        m.set(&Snapshot::default());
        m
    }

    /// Counts a new order, once its transaction committed.
    pub fn order_created(&self) {
        self.created.inc();
    }

    /// Observes a committed status change: the time spent in the status it left, and the lead
    /// time when it is `SHIPPED`. Call it in the span of the operation that made the change, so
    /// the order's trace is the exemplar.
    pub fn status_changed(&self, change: &StatusChange) {
        let exemplar = trace_exemplar();
        let in_previous = seconds_between(change.from_since, change.at);
        self.status_duration
            .get_or_create(&status_labels(change.from))
            .observe(in_previous, exemplar.clone(), None);
        if change.to == OrderStatus::Shipped {
            self.lead_time.observe(
                seconds_between(change.created_at, change.at),
                exemplar,
                None,
            );
        }
    }

    /// Counts one processed MES status event.
    pub fn status_event(&self, outcome: EventOutcome) {
        self.status_events
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Sets every database-backed gauge from `snapshot`. Synchronous, and scrapes are one at a
    /// time, so no scrape sees the overdue orders cleared but not yet refilled.
    fn set(&self, snapshot: &Snapshot) {
        for status in OrderStatus::ALL {
            let row = snapshot.statuses.get(status.as_str());
            let labels = status_labels(status);
            self.orders
                .get_or_create(&labels)
                .set(row.map_or(0, |r| r.orders));
            self.oldest_age
                .get_or_create(&labels)
                .set(row.map_or(0.0, |r| r.oldest_age));
            if self.limits.get(status).is_some() {
                self.overdue
                    .get_or_create(&labels)
                    .set(row.map_or(0, |r| r.overdue));
            }
        }
        // Orders that moved on (or whose status now has another limit) lose their series.
        self.overdue_age.clear();
        for order in &snapshot.overdue {
            let Ok(status) = order.status.parse::<OrderStatus>() else {
                continue;
            };
            self.overdue_age
                .get_or_create(&OverdueLabels {
                    status: status.as_str(),
                    order_id: order.order_id.to_string(),
                })
                .set(order.age);
        }
    }
}

fn status_labels(status: OrderStatus) -> StatusLabels {
    StatusLabels {
        status: status.as_str(),
    }
}

/// `to - from` in seconds, never negative (clocks of different transactions).
fn seconds_between(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0)
}

/// One status's row of the scrape query.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
struct StatusRow {
    /// The status, as stored.
    status: String,
    /// Orders in it.
    orders: i64,
    /// Seconds the longest-waiting of them has been in it.
    oldest_age: f64,
    /// How many of them are past the status's limit (0 without a limit).
    overdue: i64,
}

/// One of the oldest overdue orders of a status.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct OverdueRow {
    /// Its status, as stored.
    status: String,
    /// The order.
    order_id: Uuid,
    /// Seconds in that status.
    age: f64,
}

/// What one scrape read.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    /// Rows by status text; statuses without orders are absent.
    statuses: HashMap<String, StatusRow>,
    /// Up to [`OVERDUE_ORDERS_SHOWN`] per status.
    overdue: Vec<OverdueRow>,
}

/// Reads the order gauges, both queries in one snapshot (and with one `now()`).
async fn read(pool: &PgPool, limits: &StatusLimits) -> Result<Snapshot, sqlx::Error> {
    let (names, seconds): (Vec<&str>, Vec<f64>) = limits
        .iter()
        .map(|(status, limit)| (status.as_str(), limit.as_secs_f64()))
        .unzip();
    let mut tx = snapshot_transaction(pool).await?;
    let statuses: Vec<StatusRow> = sqlx::query_as(
        "SELECT o.status,
                count(*) AS orders,
                GREATEST(EXTRACT(EPOCH FROM now() - min(o.status_since)), 0)::float8 AS oldest_age,
                count(*) FILTER (
                    WHERE o.status_since < now() - make_interval(secs => l.seconds)
                ) AS overdue
         FROM orders o
         LEFT JOIN unnest($1::text[], $2::float8[]) AS l(status, seconds) ON l.status = o.status
         GROUP BY o.status",
    )
    .bind(&names)
    .bind(&seconds)
    .fetch_all(&mut *tx)
    .await?;
    let overdue: Vec<OverdueRow> = sqlx::query_as(
        "SELECT status, order_id, age FROM (
             SELECT o.status, o.id AS order_id,
                    GREATEST(EXTRACT(EPOCH FROM now() - o.status_since), 0)::float8 AS age,
                    row_number() OVER (PARTITION BY o.status ORDER BY o.status_since, o.id) AS rank
             FROM orders o
             JOIN unnest($1::text[], $2::float8[]) AS l(status, seconds) ON l.status = o.status
             WHERE o.status_since < now() - make_interval(secs => l.seconds)
         ) ranked
         WHERE rank <= $3
         ORDER BY status, rank",
    )
    .bind(&names)
    .bind(&seconds)
    .bind(OVERDUE_ORDERS_SHOWN)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Snapshot {
        statuses: statuses
            .into_iter()
            .map(|r| (r.status.clone(), r))
            .collect(),
        overdue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use printflow_metrics::scrape::Scrape;

    fn registered(limits: StatusLimits) -> (Metrics, CrmMetrics) {
        let metrics = Metrics::new();
        let m = CrmMetrics::unregistered(limits);
        metrics.register("printflow_orders", "o", m.orders.clone());
        metrics.register("printflow_orders_overdue", "o", m.overdue.clone());
        metrics.register(
            "printflow_order_overdue_age_seconds",
            "o",
            m.overdue_age.clone(),
        );
        metrics.register("printflow_order_status_limit_seconds", "o", m.limit.clone());
        metrics.register(
            "printflow_order_status_duration_seconds",
            "o",
            m.status_duration.clone(),
        );
        metrics.register(
            "printflow_order_lead_time_seconds",
            "o",
            m.lead_time.clone(),
        );
        (metrics, m)
    }

    fn scrape(metrics: &Metrics) -> Scrape {
        Scrape::parse(&metrics.encode().unwrap()).unwrap()
    }

    #[test]
    fn every_status_is_shown_and_overdue_orders_that_moved_on_disappear() {
        let (metrics, m) = registered(StatusLimits::parse("NEW=1").unwrap());
        let late = Uuid::now_v7();
        let row = |status: &str, orders, overdue| StatusRow {
            status: status.into(),
            orders,
            oldest_age: 5.0,
            overdue,
        };
        m.set(&Snapshot {
            statuses: HashMap::from([("NEW".into(), row("NEW", 2, 1))]),
            overdue: vec![OverdueRow {
                status: "NEW".into(),
                order_id: late,
                age: 5.0,
            }],
        });
        let s = scrape(&metrics);
        assert_eq!(s.value("printflow_orders", &[("status", "NEW")]), Some(2.0));
        assert_eq!(
            s.value("printflow_orders", &[("status", "SHIPPED")]),
            Some(0.0)
        );
        assert_eq!(
            s.value("printflow_orders_overdue", &[("status", "NEW")]),
            Some(1.0)
        );
        assert_eq!(
            s.value("printflow_orders_overdue", &[("status", "SHIPPED")]),
            None,
            "no limit, no overdue series"
        );
        assert_eq!(
            s.value(
                "printflow_order_overdue_age_seconds",
                &[("status", "NEW"), ("order_id", &late.to_string())]
            ),
            Some(5.0)
        );
        assert_eq!(
            s.value("printflow_order_status_limit_seconds", &[("status", "NEW")]),
            Some(1.0)
        );
        assert_eq!(
            s.value(
                "printflow_order_status_limit_seconds",
                &[("status", "READY")]
            ),
            Some(86_400.0)
        );

        m.set(&Snapshot {
            statuses: HashMap::from([("ACCEPTED".into(), row("ACCEPTED", 2, 0))]),
            overdue: Vec::new(),
        });
        let s = scrape(&metrics);
        assert_eq!(s.value("printflow_orders", &[("status", "NEW")]), Some(0.0));
        assert_eq!(
            s.value("printflow_orders_overdue", &[("status", "NEW")]),
            Some(0.0)
        );
        assert!(
            s.matching("printflow_order_overdue_age_seconds", &[])
                .next()
                .is_none(),
            "the order that moved on lost its series"
        );
    }

    #[test]
    fn a_change_observes_the_status_left_and_shipping_the_lead_time() {
        let (metrics, m) = registered(StatusLimits::default());
        let created = Utc::now() - Duration::hours(30);
        let change = |from, to, in_from: Duration| {
            let at = Utc::now();
            StatusChange {
                order_id: Uuid::now_v7(),
                from,
                to,
                sequence: Some(1),
                version: 2,
                source: "mes".into(),
                from_since: at - in_from,
                at,
                created_at: created,
            }
        };
        m.status_changed(&change(
            OrderStatus::Printing,
            OrderStatus::PostProcessing,
            Duration::seconds(90),
        ));
        m.status_changed(&change(
            OrderStatus::Ready,
            OrderStatus::Shipped,
            Duration::minutes(10),
        ));
        let s = scrape(&metrics);
        let count = |status: &str| {
            s.value(
                "printflow_order_status_duration_seconds_count",
                &[("status", status)],
            )
        };
        assert_eq!(count("PRINTING"), Some(1.0));
        assert_eq!(count("READY"), Some(1.0));
        assert_eq!(count("NEW"), Some(0.0), "every leavable status exists");
        assert_eq!(count("SHIPPED"), None, "nobody leaves SHIPPED");
        assert_eq!(
            s.value(
                "printflow_order_status_duration_seconds_bucket",
                &[("status", "PRINTING"), ("le", "60.0")]
            ),
            Some(0.0)
        );
        assert_eq!(
            s.value(
                "printflow_order_status_duration_seconds_bucket",
                &[("status", "PRINTING"), ("le", "300.0")]
            ),
            Some(1.0)
        );
        assert_eq!(
            s.value("printflow_order_lead_time_seconds_count", &[]),
            Some(1.0)
        );
        let lead = s
            .value("printflow_order_lead_time_seconds_sum", &[])
            .unwrap();
        assert!((lead - 30.0 * 3600.0).abs() < 60.0, "{lead}");
    }

    #[test]
    fn time_never_runs_backwards() {
        let now = Utc::now();
        assert_eq!(seconds_between(now, now - Duration::seconds(1)), 0.0);
        assert_eq!(
            seconds_between(now, now + Duration::milliseconds(1500)),
            1.5
        );
    }
}
