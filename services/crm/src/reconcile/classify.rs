//! The comparison itself, without I/O: one CRM order against its MES job (or the lack of one),
//! and what disagreement, if any, has lasted longer than the grace period.

use chrono::{DateTime, Utc};
use printflow_contracts::jobs::JobState;
use printflow_contracts::OrderStatus;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// What kind of disagreement (the `kind` label of `printflow_reconciliation_disagreements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `order.created` is still in CRM's outbox: the relay or the broker is not delivering.
    OrderCreatedUnpublished,
    /// `order.created` left CRM's outbox but MES has no job: the message was lost on the way
    /// (seed point 5).
    OrderCreatedNotInMes,
    /// MES's job is ahead of CRM: status events were lost or are stuck (seed point 7).
    StatusEventsMissing,
    /// CRM processed every event MES published but shows another status (a lost update, a
    /// rejected step; seed point 4).
    StatusMismatch,
    /// CRM cancelled the order, MES's job did not stop.
    CancellationNotHonoured,
}

impl Kind {
    /// Every kind, for the metric's zero series and the docs.
    pub const ALL: [Kind; 5] = [
        Kind::OrderCreatedUnpublished,
        Kind::OrderCreatedNotInMes,
        Kind::StatusEventsMissing,
        Kind::StatusMismatch,
        Kind::CancellationNotHonoured,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrderCreatedUnpublished => "order_created_unpublished",
            Kind::OrderCreatedNotInMes => "order_created_not_in_mes",
            Kind::StatusEventsMissing => "status_events_missing",
            Kind::StatusMismatch => "status_mismatch",
            Kind::CancellationNotHonoured => "cancellation_not_honoured",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What CRM knows of an order, for the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSnapshot {
    /// The order.
    pub order_id: Uuid,
    /// Its status in CRM.
    pub status: OrderStatus,
    /// The highest MES sequence CRM processed.
    pub last_source_sequence: i64,
    /// Since when it has been in `status`.
    pub status_since: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its `order.created` is still unsent in CRM's outbox.
    pub unpublished: bool,
    /// An admin acknowledged a cancellation production could not honour (nothing else to do).
    pub acknowledged: bool,
}

/// One disagreement found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The order.
    pub order_id: Uuid,
    /// What disagrees.
    pub kind: Kind,
    /// CRM's status.
    pub crm_status: OrderStatus,
    /// The highest MES sequence CRM processed.
    pub crm_sequence: i64,
    /// MES's job status (none without a job).
    pub mes_status: Option<OrderStatus>,
    /// MES's last published sequence (none without a job).
    pub mes_sequence: Option<i64>,
    /// Since when the two disagree (at the latest).
    pub since: DateTime<Utc>,
    /// One sentence for a person.
    pub detail: String,
}

/// The disagreement between `order` and `job` that is older than `grace` at `now`, if any.
pub fn classify(
    order: &OrderSnapshot,
    job: Option<&JobState>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Option<Finding> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let aged = |since: DateTime<Utc>| now - since >= grace;
    let finding = |kind, since, detail: String| Finding {
        order_id: order.order_id,
        kind,
        crm_status: order.status,
        crm_sequence: order.last_source_sequence,
        mes_status: job.map(|j| j.status),
        mes_sequence: job.map(|j| j.sequence),
        since,
        detail,
    };
    let Some(job) = job else {
        if !aged(order.created_at) {
            return None;
        }
        return Some(if order.unpublished {
            finding(
                Kind::OrderCreatedUnpublished,
                order.created_at,
                "order.created is still waiting in CRM's outbox".into(),
            )
        } else {
            finding(
                Kind::OrderCreatedNotInMes,
                order.created_at,
                "order.created was sent but MES has no job for the order".into(),
            )
        });
    };
    if job.sequence > order.last_source_sequence {
        return aged(job.changed_at).then(|| {
            finding(
                Kind::StatusEventsMissing,
                job.changed_at,
                format!(
                    "MES is at sequence {} ({}), CRM processed up to {}",
                    job.sequence, job.status, order.last_source_sequence
                ),
            )
        });
    }
    if job.status == order.status {
        return None;
    }
    let since = order.status_since.max(job.changed_at);
    if order.status == OrderStatus::Cancelled {
        if order.acknowledged || !aged(order.status_since) {
            return None;
        }
        return Some(finding(
            Kind::CancellationNotHonoured,
            order.status_since,
            format!("cancelled in CRM, but MES's job is {}", job.status),
        ));
    }
    aged(since).then(|| {
        finding(
            Kind::StatusMismatch,
            since,
            format!(
                "CRM shows {} after MES's sequence {}, MES shows {}",
                order.status, job.sequence, job.status
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(60);

    fn at(seconds_ago: i64) -> DateTime<Utc> {
        now() - chrono::Duration::seconds(seconds_ago)
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn order(status: OrderStatus, seq: i64, since_ago: i64) -> OrderSnapshot {
        OrderSnapshot {
            order_id: Uuid::nil(),
            status,
            last_source_sequence: seq,
            status_since: at(since_ago),
            created_at: at(600),
            unpublished: false,
            acknowledged: false,
        }
    }

    fn job(status: OrderStatus, seq: i64, changed_ago: i64) -> JobState {
        JobState {
            order_id: Uuid::nil(),
            job_id: Uuid::nil(),
            status,
            sequence: seq,
            changed_at: at(changed_ago),
        }
    }

    fn kind(o: &OrderSnapshot, j: Option<&JobState>) -> Option<Kind> {
        classify(o, j, now(), GRACE).map(|f| f.kind)
    }

    use OrderStatus::*;

    #[test]
    fn agreement_is_silent() {
        assert_eq!(kind(&order(New, 0, 600), Some(&job(New, 0, 600))), None);
        assert_eq!(
            kind(&order(Printing, 2, 10), Some(&job(Printing, 2, 10))),
            None
        );
        // Cancelled in CRM, stopped in MES and confirmed.
        assert_eq!(
            kind(&order(Cancelled, 2, 600), Some(&job(Cancelled, 2, 600))),
            None
        );
    }

    #[test]
    fn a_missing_job_is_named_by_where_order_created_is() {
        let mut o = order(New, 0, 600);
        assert_eq!(kind(&o, None), Some(Kind::OrderCreatedNotInMes));
        o.unpublished = true;
        assert_eq!(kind(&o, None), Some(Kind::OrderCreatedUnpublished));
        o.created_at = at(5);
        assert_eq!(kind(&o, None), None, "within the grace period");
    }

    #[test]
    fn mes_ahead_is_missing_events_once_the_grace_is_over() {
        let o = order(Accepted, 1, 600);
        assert_eq!(
            kind(&o, Some(&job(Printing, 2, 61))),
            Some(Kind::StatusEventsMissing)
        );
        assert_eq!(kind(&o, Some(&job(Printing, 2, 30))), None, "in flight");
    }

    #[test]
    fn same_sequence_other_status_is_a_mismatch() {
        // A skipped update: CRM processed sequence 1 but still shows NEW.
        let f = classify(
            &order(New, 1, 600),
            Some(&job(Accepted, 1, 120)),
            now(),
            GRACE,
        )
        .unwrap();
        assert_eq!(f.kind, Kind::StatusMismatch);
        assert_eq!(f.since, at(120));
        assert_eq!(f.mes_status, Some(Accepted));
        assert_eq!(
            kind(&order(New, 1, 600), Some(&job(Accepted, 1, 10))),
            None,
            "within the grace period"
        );
    }

    #[test]
    fn a_cancellation_production_ignored_is_reported_until_acknowledged() {
        let mut o = order(Cancelled, 2, 120);
        assert_eq!(
            kind(&o, Some(&job(Printing, 2, 130))),
            Some(Kind::CancellationNotHonoured)
        );
        o.acknowledged = true;
        assert_eq!(kind(&o, Some(&job(Printing, 2, 130))), None);
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
    }
}
