//! MES gauges, read from the database at every scrape (see `docs/metrics.md`):
//!
//! | metric                           | type  | labels    | meaning                                    |
//! |----------------------------------|-------|-----------|--------------------------------------------|
//! | `printflow_jobs`                 | gauge | `status`  | jobs in each status (every status, 0 too)  |
//! | `printflow_printer_queue_length` | gauge | `printer` | a printer's unfinished jobs (`ACCEPTED` queued on it, `PRINTING`) |
//! | `printflow_printers_paused`      | gauge |           | paused printers                            |
//! | `printflow_job_failures_total`   | counter | `reason` | steps to `FAILED` ever recorded, by failure reason (`bad_model`: the model file was missing, corrupt or not an STL; `checksum_mismatch`: it is not the ordered version; seed points 3 and 6) |
//!
//! Reading them from the database rather than counting transitions keeps them right after a
//! restart and with several MES instances on one database. The messaging metrics (consumer,
//! relay, outbox backlog) come from `printflow_messaging::metrics`.

use printflow_contracts::{FailureReason, OrderStatus};
use printflow_metrics::snapshot::snapshot_transaction;
use printflow_metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::PgPool;
use std::collections::HashMap;

/// `status` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    /// An `OrderStatus` spelling.
    status: &'static str,
}

/// `reason` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    /// A `FailureReason` spelling.
    reason: String,
}

/// `printer` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PrinterLabels {
    /// The printer's name (`printer-N`; as many as `MES_PRINTERS` created).
    printer: String,
}

/// MES's own gauges.
#[derive(Debug, Clone)]
pub struct MesMetrics {
    /// `printflow_jobs`.
    jobs: Family<StatusLabels, Gauge>,
    /// `printflow_printer_queue_length`.
    queue_length: Family<PrinterLabels, Gauge>,
    /// `printflow_printers_paused`.
    paused: Gauge,
    /// `printflow_job_failures_total`: raised to the count of `FAILED` steps in `job_events`
    /// (an append-only table, so the count only grows, as a counter must).
    failures: Family<ReasonLabels, Counter>,
}

/// What one scrape read.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    /// Jobs per status text, as stored.
    jobs: HashMap<String, i64>,
    /// `(printer name, queue length)`.
    queues: Vec<(String, i64)>,
    /// Paused printers.
    paused: i64,
    /// `(failure reason, FAILED steps recorded)`.
    failures: Vec<(String, i64)>,
}

impl MesMetrics {
    /// Registers the gauges in `metrics` and refreshes them from `pool` at every scrape.
    pub fn register(metrics: &Metrics, pool: PgPool) -> MesMetrics {
        let m = MesMetrics {
            jobs: Family::default(),
            queue_length: Family::default(),
            paused: Gauge::default(),
            failures: Family::default(),
        };
        // Every reason from the start: a reason's first failure must be an increase from 0,
        // not the first sample of a new series (which `increase()` cannot see).
        for reason in FailureReason::ALL {
            let _ = m.failures.get_or_create(&ReasonLabels {
                reason: reason.as_str().to_owned(),
            });
        }
        metrics.register(
            "printflow_job_failures",
            "Job steps to FAILED ever recorded, by failure reason (read from the database at scrape time)",
            m.failures.clone(),
        );
        metrics.register(
            "printflow_jobs",
            "Production jobs in each status (read from the database at scrape time)",
            m.jobs.clone(),
        );
        metrics.register(
            "printflow_printer_queue_length",
            "Unfinished jobs assigned to each printer: the one printing and the accepted ones waiting for it (read from the database at scrape time)",
            m.queue_length.clone(),
        );
        metrics.register(
            "printflow_printers_paused",
            "Printers paused by an operator (read from the database at scrape time)",
            m.paused.clone(),
        );
        let gauges = m.clone();
        metrics.refresh_at_scrape("mes", move || {
            let (pool, gauges) = (pool.clone(), gauges.clone());
            async move {
                let snapshot = read(&pool).await?;
                gauges.set(&snapshot);
                Ok(())
            }
        });
        m
    }

    /// Sets every gauge from `snapshot`. Synchronous, so a scrape never sees it half-done.
    fn set(&self, snapshot: &Snapshot) {
        for status in OrderStatus::ALL {
            let count = snapshot.jobs.get(status.as_str()).copied().unwrap_or(0);
            self.jobs
                .get_or_create(&StatusLabels {
                    status: status.as_str(),
                })
                .set(count);
        }
        // Printers can be renamed or removed from the table; only the current ones remain.
        self.queue_length.clear();
        for (printer, length) in &snapshot.queues {
            self.queue_length
                .get_or_create(&PrinterLabels {
                    printer: printer.clone(),
                })
                .set(*length);
        }
        self.paused.set(snapshot.paused);
        for (reason, count) in &snapshot.failures {
            let counter = self.failures.get_or_create(&ReasonLabels {
                reason: reason.clone(),
            });
            let seen = counter.get();
            let now = u64::try_from(*count).unwrap_or(0);
            if now > seen {
                counter.inc_by(now - seen);
            }
        }
    }
}

/// Reads everything the gauges show, in one snapshot.
async fn read(pool: &PgPool) -> Result<Snapshot, sqlx::Error> {
    let mut tx = snapshot_transaction(pool).await?;
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM jobs GROUP BY status")
            .fetch_all(&mut *tx)
            .await?;
    let printers: Vec<(String, bool, i64)> = sqlx::query_as(
        "SELECT p.name, p.paused, count(j.id)
         FROM printers p
         LEFT JOIN jobs j ON j.printer_id = p.id AND j.status IN ('ACCEPTED', 'PRINTING')
         GROUP BY p.id ORDER BY p.id",
    )
    .fetch_all(&mut *tx)
    .await?;
    let failures: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(failure_reason, 'unknown'), count(*) FROM job_events
         WHERE to_status = 'FAILED' GROUP BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Snapshot {
        failures,
        jobs: jobs.into_iter().collect(),
        paused: printers.iter().filter(|(_, paused, _)| *paused).count() as i64,
        queues: printers
            .into_iter()
            .map(|(name, _, length)| (name, length))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_shown_and_removed_printers_disappear() {
        let metrics = Metrics::new();
        let m = MesMetrics {
            jobs: Family::default(),
            queue_length: Family::default(),
            paused: Gauge::default(),
            failures: Family::default(),
        };
        metrics.register("printflow_jobs", "Jobs", m.jobs.clone());
        metrics.register("printflow_job_failures", "Failures", m.failures.clone());
        metrics.register(
            "printflow_printer_queue_length",
            "Queues",
            m.queue_length.clone(),
        );
        m.set(&Snapshot {
            jobs: HashMap::from([("PRINTING".to_owned(), 2)]),
            queues: vec![("printer-1".into(), 2), ("printer-2".into(), 0)],
            paused: 1,
            failures: vec![("checksum_mismatch".into(), 2)],
        });
        m.set(&Snapshot {
            jobs: HashMap::from([("PRINTING".to_owned(), 1)]),
            queues: vec![("printer-1".into(), 1)],
            paused: 0,
            failures: vec![("checksum_mismatch".into(), 3)],
        });
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("printflow_jobs{status=\"PRINTING\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("printflow_jobs{status=\"CANCELLED\"} 0"),
            "{text}"
        );
        assert!(text.contains("printflow_printer_queue_length{printer=\"printer-1\"} 1"));
        assert!(!text.contains("printer-2"), "{text}");
        assert_eq!(m.paused.get(), 0);
        // Raised to the database's count, never counted twice.
        assert!(
            text.contains("printflow_job_failures_total{reason=\"checksum_mismatch\"} 3"),
            "{text}"
        );
    }
}
