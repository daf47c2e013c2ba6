//! Messaging metrics, recorded by the consume loop and the outbox relay of every service that
//! uses them (see `docs/metrics.md`):
//!
//! | metric                                        | type    | labels             |
//! |-----------------------------------------------|---------|--------------------|
//! | `printflow_messages_consumed_total`           | counter | `queue`, `outcome` |
//! | `printflow_messages_dead_lettered_total`      | counter | `queue`            |
//! | `printflow_outbox_published_total`            | counter |                    |
//! | `printflow_outbox_pending`                    | gauge   |                    |
//! | `printflow_outbox_oldest_pending_age_seconds` | gauge   |                    |
//!
//! The outbox gauges are read from the database at scrape time ([`MessagingMetrics::watch_outbox`]),
//! so they count the rows of every instance sharing the database and are right after a restart.

use crate::outbox_backlog;
use printflow_metrics::{GaugeF64, Metrics};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::PgPool;

/// What the consume loop did with a delivery, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumeOutcome {
    /// Handled and acked.
    Ok,
    /// The handler called it poison (it is dead-lettered).
    Poison,
    /// The handler failed transiently (it is requeued).
    Transient,
}

impl ConsumeOutcome {
    /// Every outcome.
    pub const ALL: [ConsumeOutcome; 3] = [
        ConsumeOutcome::Ok,
        ConsumeOutcome::Poison,
        ConsumeOutcome::Transient,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumeOutcome::Ok => "ok",
            ConsumeOutcome::Poison => "poison",
            ConsumeOutcome::Transient => "transient",
        }
    }
}

/// Labels of `printflow_messages_consumed_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConsumedLabels {
    /// The queue name (a topology constant, so few).
    queue: &'static str,
    /// `ok`, `poison`, `transient`.
    outcome: &'static str,
}

/// Labels of `printflow_messages_dead_lettered_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabels {
    /// The queue the message was consumed from.
    queue: &'static str,
}

/// The messaging metrics of one application. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct MessagingMetrics {
    /// `printflow_messages_consumed_total`.
    consumed: Family<ConsumedLabels, Counter>,
    /// `printflow_messages_dead_lettered_total`.
    dead_lettered: Family<QueueLabels, Counter>,
    /// `printflow_outbox_published_total`.
    published: Counter,
    /// `printflow_outbox_pending`.
    outbox_pending: Gauge,
    /// `printflow_outbox_oldest_pending_age_seconds`.
    outbox_oldest_age: GaugeF64,
}

impl MessagingMetrics {
    /// Registers the messaging metrics in `metrics`. Once per application.
    pub fn register(metrics: &Metrics) -> MessagingMetrics {
        let m = MessagingMetrics {
            consumed: Family::default(),
            dead_lettered: Family::default(),
            published: Counter::default(),
            outbox_pending: Gauge::default(),
            outbox_oldest_age: GaugeF64::default(),
        };
        metrics.register(
            "printflow_messages_consumed",
            "Deliveries handled by this instance's consumers, by queue and outcome (ok: acked; poison: dead-lettered; transient: requeued)",
            m.consumed.clone(),
        );
        metrics.register(
            "printflow_messages_dead_lettered",
            "Poison messages this instance's consumers parked on the queue's dead-letter queue",
            m.dead_lettered.clone(),
        );
        metrics.register(
            "printflow_outbox_published",
            "Outbox rows this instance's relay published and the broker confirmed",
            m.published.clone(),
        );
        metrics.register(
            "printflow_outbox_pending",
            "Outbox rows not yet confirmed by the broker (read from the database at scrape time)",
            m.outbox_pending.clone(),
        );
        metrics.register(
            "printflow_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not yet confirmed by the broker, 0 when none (read from the database at scrape time)",
            m.outbox_oldest_age.clone(),
        );
        m
    }

    /// Reads the outbox backlog of `pool` at every scrape.
    pub fn watch_outbox(&self, metrics: &Metrics, pool: PgPool) {
        let pending = self.outbox_pending.clone();
        let oldest = self.outbox_oldest_age.clone();
        metrics.refresh_at_scrape("outbox", move || {
            let (pool, pending, oldest) = (pool.clone(), pending.clone(), oldest.clone());
            async move {
                let backlog = outbox_backlog::read(&pool).await?;
                pending.set(backlog.pending);
                oldest.set(backlog.oldest_age_seconds);
                Ok(())
            }
        });
    }

    /// Creates `queue`'s series at 0, so the first poison message is an increase Prometheus can
    /// see (`increase()` ignores a series' first sample).
    pub(crate) fn start_queue(&self, queue: &'static str) {
        for outcome in ConsumeOutcome::ALL {
            drop(self.consumed.get_or_create(&ConsumedLabels {
                queue,
                outcome: outcome.as_str(),
            }));
        }
        drop(self.dead_lettered.get_or_create(&QueueLabels { queue }));
    }

    /// Counts one handled delivery.
    pub(crate) fn consumed(&self, queue: &'static str, outcome: ConsumeOutcome) {
        self.consumed
            .get_or_create(&ConsumedLabels {
                queue,
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Counts one message parked on the dead-letter queue.
    pub(crate) fn dead_lettered(&self, queue: &'static str) {
        self.dead_lettered
            .get_or_create(&QueueLabels { queue })
            .inc();
    }

    /// Counts `n` confirmed outbox publishes.
    pub(crate) fn published(&self, n: usize) {
        self.published.inc_by(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_exist_from_the_start_and_count() {
        let metrics = Metrics::new();
        let m = MessagingMetrics::register(&metrics);
        m.start_queue("work");
        let text = metrics.encode().unwrap();
        for outcome in ["ok", "poison", "transient"] {
            assert!(
                text.contains(&format!(
                    "printflow_messages_consumed_total{{queue=\"work\",outcome=\"{outcome}\"}} 0"
                )),
                "{text}"
            );
        }
        assert!(text.contains("printflow_messages_dead_lettered_total{queue=\"work\"} 0"));
        m.consumed("work", ConsumeOutcome::Poison);
        m.dead_lettered("work");
        m.published(3);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("printflow_messages_consumed_total{queue=\"work\",outcome=\"poison\"} 1")
        );
        assert!(text.contains("printflow_messages_dead_lettered_total{queue=\"work\"} 1"));
        assert!(text.contains("printflow_outbox_published_total 3"));
        assert!(text.contains("printflow_outbox_pending 0"));
        assert!(text.contains("printflow_outbox_oldest_pending_age_seconds 0.0"));
    }
}
