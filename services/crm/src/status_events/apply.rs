//! Recording and applying one MES status event, in one transaction:
//!
//! 1. lock the order row (`FOR UPDATE`), so events for one order are processed one at a time
//!    even with several consumers;
//! 2. insert the event into the inbox (`status_events`, key `(order_id, sequence)`); if that
//!    sequence is already there this delivery is a duplicate or stale repeat: it is logged in
//!    `status_event_repeats` and nothing else changes;
//! 3. otherwise, while the inbox holds the pending event `last_source_sequence + 1`, apply it if
//!    the state machine allows the step (status, version, history) or mark it rejected; either
//!    way the order's `last_source_sequence` advances, so one bad event never blocks later ones,
//!    and an event that arrived early waits as `pending` until the gap before it is filled.
//!
//! The consumer acks only after the commit, so a crash in between redelivers the message and the
//! inbox makes the second delivery harmless.

use super::EventOutcome;
use crate::db::Db;
use chrono::{DateTime, Utc};
use printflow_contracts::messages::Envelope;
use printflow_contracts::{FailureReason, OrderStatus, OrderStatusChanged};
use sqlx::PgConnection;
use uuid::Uuid;

/// Longest `detail` kept; a producer bug must not bloat the history.
const MAX_DETAIL_CHARS: usize = 2000;

/// Why an event could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// No order has this id (poison: retrying cannot help).
    #[error("unknown order {0}")]
    UnknownOrder(Uuid),
    /// Sequences start at 1 (poison).
    #[error("invalid sequence {0} for order {1}: sequences start at 1")]
    InvalidSequence(i64, Uuid),
    /// The event claims to come from somewhere other than MES (poison).
    #[error("unexpected source `{0}`: this queue carries MES events (source `mes`)")]
    UnexpectedSource(String),
    /// The database failed or timed out (transient: the message is redelivered).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The order row holds a status this build does not know (transient; needs an operator).
    #[error("corrupt order row: {0}")]
    Corrupt(String),
}

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// The outcome recorded for this delivery on receipt: `pending` (then possibly applied
    /// below), `duplicate` or `stale`.
    pub received: EventOutcome,
    /// Every sequence processed in this transaction, in order, with its outcome.
    pub processed: Vec<(i64, EventOutcome)>,
}

/// Records `envelope` in the inbox and applies whatever is now next in sequence.
#[tracing::instrument(
    skip_all,
    fields(
        order.id = %envelope.data.order_id,
        event.sequence = envelope.data.sequence,
        event.status = %envelope.data.status,
        message.id = %envelope.message_id,
        event.outcome = tracing::field::Empty,
    )
)]
pub async fn record_and_apply(
    db: &Db,
    envelope: &Envelope<OrderStatusChanged>,
) -> Result<ApplyReport, ApplyError> {
    let ev = &envelope.data;
    if ev.sequence < 1 {
        return Err(ApplyError::InvalidSequence(ev.sequence, ev.order_id));
    }
    if !ev.source.eq_ignore_ascii_case("mes") {
        return Err(ApplyError::UnexpectedSource(ev.source.clone()));
    }
    let mut tx = db.begin().await?;
    let order: Option<(String, i64)> =
        sqlx::query_as("SELECT status, last_source_sequence FROM orders WHERE id = $1 FOR UPDATE")
            .bind(ev.order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, last_processed)) = order else {
        return Err(ApplyError::UnknownOrder(ev.order_id));
    };
    let current: OrderStatus =
        status
            .parse()
            .map_err(|e: printflow_contracts::status::UnknownStatus| {
                ApplyError::Corrupt(e.to_string())
            })?;

    let inserted = insert_inbox(&mut tx, envelope).await?;
    let report = if !inserted {
        let outcome = record_repeat(&mut tx, envelope, last_processed).await?;
        ApplyReport {
            received: outcome,
            processed: Vec::new(),
        }
    } else if ev.sequence <= last_processed {
        // Only reachable if the inbox lost the first receipt (e.g. an archive job removed it):
        // the sequence is behind us, so it must not move the status.
        let reason = format!(
            "sequence {} is at or below the last processed sequence {last_processed}",
            ev.sequence
        );
        set_outcome(
            &mut tx,
            ev.order_id,
            ev.sequence,
            EventOutcome::Stale,
            Some(&reason),
        )
        .await?;
        ApplyReport {
            received: EventOutcome::Stale,
            processed: Vec::new(),
        }
    } else {
        let processed = apply_pending(&mut tx, ev.order_id, current, last_processed).await?;
        if processed.is_empty() {
            tracing::info!(
                waiting_for = last_processed + 1,
                "status event arrived ahead of a gap; pending"
            );
        }
        ApplyReport {
            received: EventOutcome::Pending,
            processed,
        }
    };
    tx.commit().await?;
    let own = report
        .processed
        .iter()
        .find(|(seq, _)| *seq == ev.sequence)
        .map_or(report.received, |(_, o)| *o);
    tracing::Span::current().record("event.outcome", own.as_str());
    Ok(report)
}

/// Inserts the first receipt of `(order, sequence)`; `false` if it was already there.
async fn insert_inbox(
    conn: &mut PgConnection,
    envelope: &Envelope<OrderStatusChanged>,
) -> Result<bool, sqlx::Error> {
    let ev = &envelope.data;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO status_events
             (order_id, sequence, message_id, status, failure, detail, source, changed_at, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')
         ON CONFLICT (order_id, sequence) DO NOTHING
         RETURNING sequence",
    )
    .bind(ev.order_id)
    .bind(ev.sequence)
    .bind(envelope.message_id)
    .bind(ev.status.as_str())
    .bind(ev.failure.map(FailureReason::as_str))
    .bind(ev.detail.as_deref().map(clip))
    .bind(ev.source.to_ascii_lowercase())
    .bind(ev.changed_at)
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// Logs a repeated delivery of a sequence the inbox already holds; returns its outcome.
async fn record_repeat(
    conn: &mut PgConnection,
    envelope: &Envelope<OrderStatusChanged>,
    last_processed: i64,
) -> Result<EventOutcome, ApplyError> {
    let ev = &envelope.data;
    let (first_message, first_outcome): (Uuid, String) = sqlx::query_as(
        "SELECT message_id, outcome FROM status_events WHERE order_id = $1 AND sequence = $2",
    )
    .bind(ev.order_id)
    .bind(ev.sequence)
    .fetch_one(&mut *conn)
    .await?;
    let first_outcome: EventOutcome = first_outcome.parse().map_err(ApplyError::Corrupt)?;
    let (outcome, reason) = classify_repeat(
        ev.sequence,
        envelope.message_id,
        first_message,
        first_outcome,
        last_processed,
    );
    sqlx::query(
        "INSERT INTO status_event_repeats (order_id, sequence, message_id, status, outcome, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ev.order_id)
    .bind(ev.sequence)
    .bind(envelope.message_id)
    .bind(ev.status.as_str())
    .bind(outcome.as_str())
    .bind(&reason)
    .execute(conn)
    .await?;
    tracing::info!(event.outcome = outcome.as_str(), %reason, "repeated status event ignored");
    Ok(outcome)
}

/// Whether a repeat of an already received sequence is a plain redelivery (`duplicate`) or a
/// different, late message for a sequence already processed (`stale`), and why.
pub(crate) fn classify_repeat(
    sequence: i64,
    message_id: Uuid,
    first_message: Uuid,
    first_outcome: EventOutcome,
    last_processed: i64,
) -> (EventOutcome, String) {
    if message_id == first_message {
        (
            EventOutcome::Duplicate,
            format!(
                "redelivery of message {message_id} (sequence {sequence}, already {first_outcome})"
            ),
        )
    } else if sequence <= last_processed {
        (
            EventOutcome::Stale,
            format!(
                "sequence {sequence} was already processed as message {first_message} \
                 ({first_outcome}); last processed sequence is {last_processed}"
            ),
        )
    } else {
        (
            EventOutcome::Duplicate,
            format!(
                "sequence {sequence} was already received as message {first_message} and is \
                 waiting for sequence {}",
                last_processed + 1
            ),
        )
    }
}

#[derive(sqlx::FromRow)]
struct PendingEvent {
    sequence: i64,
    status: String,
    failure: Option<String>,
    detail: Option<String>,
    source: String,
    changed_at: DateTime<Utc>,
}

/// Applies the run of pending events that starts right after `last_processed`.
async fn apply_pending(
    conn: &mut PgConnection,
    order_id: Uuid,
    mut current: OrderStatus,
    mut last_processed: i64,
) -> Result<Vec<(i64, EventOutcome)>, ApplyError> {
    let mut processed = Vec::new();
    loop {
        let next: Option<PendingEvent> = sqlx::query_as(
            "SELECT sequence, status, failure, detail, source, changed_at FROM status_events
             WHERE order_id = $1 AND sequence = $2 AND outcome = 'pending'",
        )
        .bind(order_id)
        .bind(last_processed + 1)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(event) = next else {
            return Ok(processed);
        };
        let to: OrderStatus =
            event
                .status
                .parse()
                .map_err(|e: printflow_contracts::status::UnknownStatus| {
                    ApplyError::Corrupt(e.to_string())
                })?;
        match check_transition(current, to) {
            Ok(()) => {
                let failure_reason =
                    failure_reason(to, event.failure.as_deref(), event.detail.as_deref());
                let version: i64 = sqlx::query_scalar(
                    "UPDATE orders SET status = $2, status_version = status_version + 1,
                         status_since = now(), failure_reason = $3, last_source_sequence = $4
                     WHERE id = $1 RETURNING status_version",
                )
                .bind(order_id)
                .bind(to.as_str())
                .bind(&failure_reason)
                .bind(event.sequence)
                .fetch_one(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO order_status_history (order_id, from_status, to_status,
                         status_version, source, source_sequence, detail, changed_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(order_id)
                .bind(current.as_str())
                .bind(to.as_str())
                .bind(version)
                .bind(&event.source)
                .bind(event.sequence)
                .bind(history_detail(
                    event.failure.as_deref(),
                    event.detail.as_deref(),
                ))
                .bind(event.changed_at)
                .execute(&mut *conn)
                .await?;
                set_outcome(conn, order_id, event.sequence, EventOutcome::Applied, None).await?;
                tracing::info!(
                    event.sequence = event.sequence,
                    from = %current,
                    to = %to,
                    order.status_version = version,
                    "order status changed"
                );
                current = to;
                processed.push((event.sequence, EventOutcome::Applied));
            }
            Err(reason) => {
                sqlx::query("UPDATE orders SET last_source_sequence = $2 WHERE id = $1")
                    .bind(order_id)
                    .bind(event.sequence)
                    .execute(&mut *conn)
                    .await?;
                set_outcome(
                    conn,
                    order_id,
                    event.sequence,
                    EventOutcome::Rejected,
                    Some(&reason),
                )
                .await?;
                tracing::warn!(event.sequence = event.sequence, %reason, "status event rejected");
                processed.push((event.sequence, EventOutcome::Rejected));
            }
        }
        last_processed = event.sequence;
    }
}

async fn set_outcome(
    conn: &mut PgConnection,
    order_id: Uuid,
    sequence: i64,
    outcome: EventOutcome,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE status_events SET outcome = $3, reason = $4 WHERE order_id = $1 AND sequence = $2",
    )
    .bind(order_id)
    .bind(sequence)
    .bind(outcome.as_str())
    .bind(reason)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The shared state machine's verdict, with the reason recorded for a refused step.
pub(crate) fn check_transition(from: OrderStatus, to: OrderStatus) -> Result<(), String> {
    if from.can_transition_to(to) {
        Ok(())
    } else {
        Err(format!("illegal transition {from} -> {to}"))
    }
}

/// `orders.failure_reason` after entering `to`: the failure code while `FAILED` (the detail if
/// MES sent no code), cleared otherwise (a retry leaves `FAILED`).
pub(crate) fn failure_reason(
    to: OrderStatus,
    failure: Option<&str>,
    detail: Option<&str>,
) -> Option<String> {
    (to == OrderStatus::Failed).then(|| failure.or(detail).unwrap_or("unspecified").to_owned())
}

/// The history entry's detail: failure code and free text, whichever were sent.
pub(crate) fn history_detail(failure: Option<&str>, detail: Option<&str>) -> Option<String> {
    match (failure, detail) {
        (Some(f), Some(d)) => Some(format!("{f}: {d}")),
        (Some(f), None) => Some(f.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        (None, None) => None,
    }
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_DETAIL_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illegal_steps_are_named() {
        assert!(check_transition(OrderStatus::New, OrderStatus::Accepted).is_ok());
        assert_eq!(
            check_transition(OrderStatus::Printing, OrderStatus::Shipped).unwrap_err(),
            "illegal transition PRINTING -> SHIPPED"
        );
        assert!(check_transition(OrderStatus::Cancelled, OrderStatus::Accepted).is_err());
    }

    #[test]
    fn failure_reason_only_while_failed() {
        assert_eq!(
            failure_reason(OrderStatus::Failed, Some("print_failure"), Some("nozzle")),
            Some("print_failure".into())
        );
        assert_eq!(
            failure_reason(OrderStatus::Failed, None, Some("nozzle")),
            Some("nozzle".into())
        );
        assert_eq!(
            failure_reason(OrderStatus::Failed, None, None),
            Some("unspecified".into())
        );
        assert_eq!(
            failure_reason(OrderStatus::Accepted, Some("print_failure"), None),
            None
        );
        assert_eq!(
            history_detail(Some("qc_rejected"), Some("warped")),
            Some("qc_rejected: warped".into())
        );
        assert_eq!(history_detail(None, None), None);
    }

    #[test]
    fn repeats_are_classified() {
        let first = Uuid::now_v7();
        let other = Uuid::now_v7();
        let (o, reason) = classify_repeat(2, first, first, EventOutcome::Applied, 3);
        assert_eq!(o, EventOutcome::Duplicate);
        assert!(reason.contains("redelivery"));
        let (o, reason) = classify_repeat(2, other, first, EventOutcome::Applied, 3);
        assert_eq!(o, EventOutcome::Stale);
        assert!(reason.contains("last processed sequence is 3"));
        let (o, reason) = classify_repeat(5, other, first, EventOutcome::Pending, 3);
        assert_eq!(o, EventOutcome::Duplicate);
        assert!(reason.contains("waiting for sequence 4"));
    }

    #[test]
    fn details_are_clipped() {
        assert_eq!(clip(&"x".repeat(5000)).chars().count(), MAX_DETAIL_CHARS);
        assert_eq!(clip("short"), "short");
    }
}
