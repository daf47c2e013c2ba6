//! Recording and applying one MES status event, in one transaction:
//!
//! 1. lock the order row (`FOR UPDATE`), so events for one order are processed one at a time
//!    even with several consumers;
//! 2. in the same statement, insert the event into the inbox (`status_events`, key
//!    `(order_id, sequence)`); if that sequence is already there this delivery is a duplicate or
//!    stale repeat: it is logged in `status_event_repeats` and nothing else changes;
//! 3. otherwise, while the inbox holds the pending event `last_source_sequence + 1`, apply it if
//!    the state machine allows the step (status, version, history) or mark it rejected; either
//!    way the order's `last_source_sequence` advances, so one bad event never blocks later ones,
//!    and an event that arrived early waits as `pending` until the gap before it is filled.
//!
//! The consumer acks only after the commit, so a crash in between redelivers the message and the
//! inbox makes the second delivery harmless.
//!
//! Most events are the next in line for an order with nothing waiting, and a legal step: for
//! those, steps 1 to 3 run as one statement committed on its own ([`apply_next_in_line`]);
//! anything else (a gap, a repeat, a refused step, events waiting) goes the general way above,
//! which keeps `orders.events_waiting` up to date for that check.
//!
//! Tracing: [`record_and_apply`] runs in the span `order.status.apply` (a child of the consumer's
//! CONSUMER span). What the transaction did is reported as span events (see
//! [`crate::status_trace`]) only after it committed, so a rolled-back change is never reported
//! as made. The metrics are observed at the same moment, for the same reason
//! (`printflow_order_status_duration_seconds`, `printflow_order_lead_time_seconds`,
//! `printflow_status_events_total`; see [`crate::metrics`]).

use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::status_trace::{
    EventOutcome, StatusChange, StatusIgnored, StatusPending, StatusRejection,
};
use chrono::{DateTime, Utc};
use printflow_contracts::messages::Envelope;
use printflow_contracts::{OrderStatus, OrderStatusChanged};
use printflow_faults::Faults;
use sqlx::PgConnection;
use std::collections::VecDeque;
use tracing::field::Empty;
use uuid::Uuid;

/// Longest `detail` kept; a producer bug must not bloat the history.
const MAX_DETAIL_CHARS: usize = 2000;
/// Longest `source` repeated in a span attribute or an error message; a bad producer's text
/// must not bloat traces or dead-letter headers.
const MAX_LABEL_CHARS: usize = 64;

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

impl ApplyError {
    /// The `error.type` recorded on the `order.status.apply` span.
    pub fn error_type(&self) -> &'static str {
        match self {
            ApplyError::UnknownOrder(_) => "unknown_order",
            ApplyError::InvalidSequence(..) => "invalid_sequence",
            ApplyError::UnexpectedSource(_) => "unexpected_source",
            ApplyError::Database(e) => crate::db::error_type(e),
            ApplyError::Corrupt(_) => "corrupt_order",
        }
    }
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

impl ApplyReport {
    /// The final outcome of the delivered event (`sequence`): what processing made of it, else
    /// what receipt recorded (`pending` while it waits for a gap, `duplicate`, `stale`).
    pub fn outcome_of(&self, sequence: i64) -> EventOutcome {
        self.processed
            .iter()
            .find(|(seq, _)| *seq == sequence)
            .map_or(self.received, |(_, o)| *o)
    }

    /// What `printflow_status_events_total` counts for this call: every event processed
    /// (`applied` / `rejected`, including earlier ones whose turn came now), and the delivered
    /// event's receipt when it was not processed (`pending`, `duplicate`, `stale`). An event that
    /// waited therefore counts once as `pending` and once more when its turn comes.
    pub fn counted_outcomes(&self, sequence: i64) -> Vec<EventOutcome> {
        let mut outcomes: Vec<EventOutcome> = self.processed.iter().map(|(_, o)| *o).collect();
        if !self.processed.iter().any(|(seq, _)| *seq == sequence) {
            outcomes.push(self.received);
        }
        outcomes
    }
}

/// Something the transaction did that the trace should show, emitted after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    /// A status changed (`order.status.changed`).
    Changed(StatusChange),
    /// The state machine refused a step (`order.status.rejected`).
    Rejected(StatusRejection),
    /// A repeat or late event changed nothing (`order.status.ignored`).
    Ignored(StatusIgnored),
    /// The event waits for a gap to fill (`order.status.pending`).
    Pending(StatusPending),
    /// MES confirmed a cancellation CRM had made (`order.status.confirmed`): applied, nothing
    /// to change.
    Confirmed {
        /// The order.
        order_id: Uuid,
        /// The event's sequence.
        sequence: i64,
    },
}

impl Note {
    fn emit(&self) {
        match self {
            Note::Changed(n) => n.emit(),
            Note::Rejected(n) => n.emit(),
            Note::Ignored(n) => n.emit(),
            Note::Pending(n) => n.emit(),
            Note::Confirmed { order_id, sequence } => tracing::info!(
                order.id = %order_id,
                order.status.sequence = sequence,
                order.status.to = OrderStatus::Cancelled.as_str(),
                "order.status.confirmed"
            ),
        }
    }

    /// The sequence this note processed (applied or rejected), for [`ApplyReport::processed`].
    fn processed(&self) -> Option<(i64, EventOutcome)> {
        match self {
            Note::Changed(c) => c.sequence.map(|s| (s, EventOutcome::Applied)),
            Note::Rejected(r) => Some((r.sequence, EventOutcome::Rejected)),
            Note::Confirmed { sequence, .. } => Some((*sequence, EventOutcome::Applied)),
            Note::Ignored(_) | Note::Pending(_) => None,
        }
    }
}

/// The rejection reasons among `notes`, joined, if there are any: the apply span then fails with
/// `illegal_transition`.
fn rejections(notes: &[Note]) -> Option<String> {
    let reasons: Vec<&str> = notes
        .iter()
        .filter_map(|n| match n {
            Note::Rejected(r) => Some(r.reason.as_str()),
            _ => None,
        })
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Records `envelope` in the inbox and applies whatever is now next in sequence.
///
/// Span `order.status.apply`: the event's `order.id`, `order.status.sequence`,
/// `order.status.source`, `order.status.to`; after the commit `order.status.outcome` and the
/// events of [`crate::status_trace`]. A rejected transition fails the span with
/// `illegal_transition`; an error fails it with [`ApplyError::error_type`].
#[tracing::instrument(
    name = "order.status.apply",
    skip_all,
    fields(
        order.id = %envelope.data.order_id,
        order.status.sequence = envelope.data.sequence,
        order.status.source = %clip(&envelope.data.source, MAX_LABEL_CHARS),
        order.status.to = envelope.data.status.as_str(),
        order.status.outcome = Empty,
        messaging.message.id = %envelope.message_id,
        error.type = Empty,
    )
)]
pub async fn record_and_apply(
    db: &Db,
    metrics: &CrmMetrics,
    faults: &Faults,
    envelope: &Envelope<OrderStatusChanged>,
) -> Result<ApplyReport, ApplyError> {
    let span = tracing::Span::current();
    match record_in_transaction(db, faults, envelope).await {
        Ok((report, notes)) => {
            span.record(
                "order.status.outcome",
                report.outcome_of(envelope.data.sequence).as_str(),
            );
            for note in &notes {
                note.emit();
                if let Note::Changed(change) = note {
                    metrics.status_changed(change);
                }
            }
            for outcome in report.counted_outcomes(envelope.data.sequence) {
                metrics.status_event(outcome);
            }
            if let Some(reasons) = rejections(&notes) {
                printflow_telemetry::record_error(&span, "illegal_transition", &reasons);
            }
            Ok(report)
        }
        Err(err) => {
            printflow_telemetry::record_error(&span, err.error_type(), &err.to_string());
            Err(err)
        }
    }
}

/// The transaction of [`record_and_apply`]; returns the report and what to tell the trace.
async fn record_in_transaction(
    db: &Db,
    faults: &Faults,
    envelope: &Envelope<OrderStatusChanged>,
) -> Result<(ApplyReport, Vec<Note>), ApplyError> {
    let ev = &envelope.data;
    if ev.sequence < 1 {
        return Err(ApplyError::InvalidSequence(ev.sequence, ev.order_id));
    }
    if !ev.source.eq_ignore_ascii_case("mes") {
        return Err(ApplyError::UnexpectedSource(clip(
            &ev.source,
            MAX_LABEL_CHARS,
        )));
    }
    let received = PendingEvent::received(ev);
    // The drill's lost update is decided event by event in the general path.
    if !faults.armed(crate::faults::SKIP_UPDATE) {
        if let Some(change) = apply_next_in_line(db, envelope, &received).await? {
            let report = ApplyReport {
                received: EventOutcome::Pending,
                processed: vec![(ev.sequence, EventOutcome::Applied)],
            };
            return Ok((report, vec![Note::Changed(change)]));
        }
    }
    let mut tx = db.begin().await?;
    let Some((status, last_processed, inserted)) =
        lock_and_receive(&mut tx, envelope, &received).await?
    else {
        return Err(ApplyError::UnknownOrder(ev.order_id));
    };
    // A corrupt row fails the delivery; the receipt above is rolled back with the transaction.
    let current: OrderStatus =
        status
            .parse()
            .map_err(|e: printflow_contracts::status::UnknownStatus| {
                ApplyError::Corrupt(e.to_string())
            })?;

    let (received, notes) = if !inserted {
        let ignored = record_repeat(&mut tx, envelope, last_processed).await?;
        (ignored.outcome, vec![Note::Ignored(ignored)])
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
        let ignored = StatusIgnored {
            order_id: ev.order_id,
            sequence: ev.sequence,
            outcome: EventOutcome::Stale,
            reason,
        };
        (EventOutcome::Stale, vec![Note::Ignored(ignored)])
    } else {
        // The delivered event is usually the next in line: the run then starts with it, as
        // received, without reading it back.
        let first = (ev.sequence == last_processed + 1).then_some(received);
        let mut notes =
            apply_pending(&mut tx, faults, ev.order_id, current, last_processed, first).await?;
        // What waits now, for the fast path's check. The order row is locked, and every event
        // is received under that lock, so nothing is added to the inbox meanwhile.
        sqlx::query(
            "UPDATE orders SET events_waiting = EXISTS (
                 SELECT 1 FROM status_events WHERE order_id = $1 AND outcome = 'pending')
             WHERE id = $1",
        )
        .bind(ev.order_id)
        .execute(&mut *tx)
        .await?;
        if notes.is_empty() {
            notes.push(Note::Pending(StatusPending {
                order_id: ev.order_id,
                sequence: ev.sequence,
                waiting_for: last_processed + 1,
            }));
        }
        (EventOutcome::Pending, notes)
    };
    tx.commit().await?;
    let report = ApplyReport {
        received,
        processed: notes.iter().filter_map(Note::processed).collect(),
    };
    Ok((report, notes))
}

/// What [`apply_next_in_line`] changed: the status left and since when, the new version, when
/// the new status began, when the order was created.
type AppliedRow = (String, DateTime<Utc>, i64, DateTime<Utc>, DateTime<Utc>);

/// The common case in one statement, committed on its own: the event is the next in line for
/// its order, nothing waits in the inbox (`orders.events_waiting`), and the state machine allows
/// the step. Locks the order row, records the event in the inbox as applied, changes the status
/// and writes the history; `None` (nothing written) when any condition fails, and the general
/// path then decides. One round trip where the general path takes four (begin, receive, apply,
/// commit), on the timed pool ([`Db::timed`]) for the statement timeout.
///
/// The conditions are checked on the row as locked: if another event of this order committed
/// while this statement waited for the lock, PostgreSQL checks them again on the row it left.
/// That is why whether events wait is a column of the row and not a read of the inbox, which
/// would see the inbox as it was when this statement started.
async fn apply_next_in_line(
    db: &Db,
    envelope: &Envelope<OrderStatusChanged>,
    event: &PendingEvent,
) -> Result<Option<StatusChange>, ApplyError> {
    let ev = &envelope.data;
    let to = ev.status;
    let allowed_from: Vec<&str> = OrderStatus::ALL
        .iter()
        .filter(|from| check_transition(**from, to).is_ok())
        .map(|from| from.as_str())
        .collect();
    let row: Option<AppliedRow> = sqlx::query_as(
        "WITH locked AS (
             SELECT status, status_since FROM orders
             WHERE id = $1 AND last_source_sequence = $2 - 1 AND NOT events_waiting
               AND status = ANY($3)
             FOR UPDATE),
         received AS (
             INSERT INTO status_events
                 (order_id, sequence, message_id, status, failure, detail, source, changed_at,
                  outcome)
             SELECT $1, $2, $4, $5, $6, $7, $8, $9, 'applied' FROM locked
             ON CONFLICT (order_id, sequence) DO NOTHING
             RETURNING sequence),
         changed AS (
             UPDATE orders o SET status = $5, status_version = o.status_version + 1,
                 status_since = now(), failure_reason = $10, last_source_sequence = $2
             FROM locked
             WHERE o.id = $1 AND EXISTS (SELECT 1 FROM received)
             RETURNING locked.status AS from_status, locked.status_since AS from_since,
                       o.status_version, o.status_since, o.created_at),
         history AS (
             INSERT INTO order_status_history (order_id, from_status, to_status,
                 status_version, source, source_sequence, detail, changed_at)
             SELECT $1, from_status, $5, status_version, $8, $2, $11, $9 FROM changed)
         SELECT from_status, from_since, status_version, status_since, created_at FROM changed",
    )
    .bind(ev.order_id)
    .bind(event.sequence)
    .bind(&allowed_from)
    .bind(envelope.message_id)
    .bind(&event.status)
    .bind(&event.failure)
    .bind(&event.detail)
    .bind(&event.source)
    .bind(event.changed_at)
    .bind(failure_reason(
        to,
        event.failure.as_deref(),
        event.detail.as_deref(),
    ))
    .bind(history_detail(
        event.failure.as_deref(),
        event.detail.as_deref(),
    ))
    .fetch_optional(&db.timed)
    .await?;
    let Some((from, from_since, version, at, created_at)) = row else {
        return Ok(None);
    };
    let from: OrderStatus =
        from.parse()
            .map_err(|e: printflow_contracts::status::UnknownStatus| {
                ApplyError::Corrupt(e.to_string())
            })?;
    Ok(Some(StatusChange {
        order_id: ev.order_id,
        from,
        to,
        sequence: Some(event.sequence),
        version,
        source: event.source.clone(),
        from_since,
        at,
        created_at,
    }))
}

/// Steps 1 and 2 in one statement: locks the order row and inserts the first receipt of
/// `(order, sequence)` into the inbox; the order's status and last processed sequence (as locked,
/// the latest committed) and whether this receipt was the first, or `None` for an unknown order
/// (nothing inserted). The insert reads from the locked row, so it runs only after the lock is
/// held, as when they were two statements (one round trip fewer per event).
async fn lock_and_receive(
    conn: &mut PgConnection,
    envelope: &Envelope<OrderStatusChanged>,
    event: &PendingEvent,
) -> Result<Option<(String, i64, bool)>, sqlx::Error> {
    sqlx::query_as(
        "WITH locked AS (
             SELECT status, last_source_sequence FROM orders WHERE id = $1 FOR UPDATE),
         received AS (
             INSERT INTO status_events
                 (order_id, sequence, message_id, status, failure, detail, source, changed_at,
                  outcome)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'pending' FROM locked
             ON CONFLICT (order_id, sequence) DO NOTHING
             RETURNING sequence)
         SELECT status, last_source_sequence, EXISTS (SELECT 1 FROM received) FROM locked",
    )
    .bind(envelope.data.order_id)
    .bind(event.sequence)
    .bind(envelope.message_id)
    .bind(&event.status)
    .bind(&event.failure)
    .bind(&event.detail)
    .bind(&event.source)
    .bind(event.changed_at)
    .fetch_optional(conn)
    .await
}

/// Logs a repeated delivery of a sequence the inbox already holds; returns what it was.
async fn record_repeat(
    conn: &mut PgConnection,
    envelope: &Envelope<OrderStatusChanged>,
    last_processed: i64,
) -> Result<StatusIgnored, ApplyError> {
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
    Ok(StatusIgnored {
        order_id: ev.order_id,
        sequence: ev.sequence,
        outcome,
        reason,
    })
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

/// An inbox row waiting to be processed, as stored.
#[derive(sqlx::FromRow)]
struct PendingEvent {
    /// MES's sequence for the order.
    sequence: i64,
    /// The status it reports.
    status: String,
    /// Failure code, for `FAILED`.
    failure: Option<String>,
    /// Free text, clipped to [`MAX_DETAIL_CHARS`].
    detail: Option<String>,
    /// Lower-case producer name.
    source: String,
    /// When MES made the change.
    changed_at: DateTime<Utc>,
}

impl PendingEvent {
    /// The row receipt stores for `ev` (so a run can start with it without reading it back).
    fn received(ev: &OrderStatusChanged) -> Self {
        PendingEvent {
            sequence: ev.sequence,
            status: ev.status.as_str().to_owned(),
            failure: ev.failure.map(|f| f.as_str().to_owned()),
            detail: ev.detail.as_deref().map(|d| clip(d, MAX_DETAIL_CHARS)),
            source: ev.source.to_ascii_lowercase(),
            changed_at: ev.changed_at,
        }
    }
}

/// The inbox's waiting events of `order_id` after `last_processed`, in sequence order.
async fn read_pending(
    conn: &mut PgConnection,
    order_id: Uuid,
    last_processed: i64,
) -> Result<VecDeque<PendingEvent>, sqlx::Error> {
    // Every waiting event in one read (one query per event was most of the consumer's round
    // trips under the order benchmark); the run stops at the first gap.
    let rows: Vec<PendingEvent> = sqlx::query_as(
        "SELECT sequence, status, failure, detail, source, changed_at FROM status_events
         WHERE order_id = $1 AND sequence > $2 AND outcome = 'pending'
         ORDER BY sequence",
    )
    .bind(order_id)
    .bind(last_processed)
    .fetch_all(conn)
    .await?;
    Ok(rows.into())
}

/// Applies the run of pending events that starts right after `last_processed`; one note per
/// event processed (changed or rejected), in sequence order. `first`: the event just received,
/// when it is the next in line; the rest of the run is then read only if applying it reported
/// a waiting successor (most events arrive in order, and this read was one round trip per
/// event under the order benchmark).
async fn apply_pending(
    conn: &mut PgConnection,
    faults: &Faults,
    order_id: Uuid,
    mut current: OrderStatus,
    mut last_processed: i64,
    first: Option<PendingEvent>,
) -> Result<Vec<Note>, ApplyError> {
    let mut notes = Vec::new();
    // Whether the run may go on past what `pending` holds. The order row is locked, so no
    // other transaction adds to the run meanwhile.
    let mut read_rest = first.is_some();
    let mut pending = match first {
        Some(event) => VecDeque::from([event]),
        None => read_pending(conn, order_id, last_processed).await?,
    };
    loop {
        let Some(event) = pending.pop_front() else {
            if !read_rest {
                break;
            }
            read_rest = false;
            pending = read_pending(conn, order_id, last_processed).await?;
            continue;
        };
        if event.sequence != last_processed + 1 {
            break;
        }
        let to: OrderStatus =
            event
                .status
                .parse()
                .map_err(|e: printflow_contracts::status::UnknownStatus| {
                    ApplyError::Corrupt(e.to_string())
                })?;
        if current == OrderStatus::Cancelled && to == OrderStatus::Cancelled {
            // MES stopped the job of an order CRM cancelled: the order is already there.
            processed_unchanged(
                conn,
                order_id,
                event.sequence,
                EventOutcome::Applied,
                "confirms the cancellation made in CRM",
            )
            .await?;
            notes.push(Note::Confirmed {
                order_id,
                sequence: event.sequence,
            });
            last_processed = event.sequence;
            continue;
        }
        if faults.hit(crate::faults::SKIP_UPDATE).is_some() {
            // A lost update: the event counts as applied, the order row keeps its old status.
            // Nothing in CRM notices; the reconciler does (MES's job is ahead).
            processed_unchanged(
                conn,
                order_id,
                event.sequence,
                EventOutcome::Applied,
                "drill fault status_event.skip_update: the order was not updated",
            )
            .await?;
            last_processed = event.sequence;
            continue;
        }
        match check_transition(current, to) {
            Ok(()) => {
                let failure_reason =
                    failure_reason(to, event.failure.as_deref(), event.detail.as_deref());
                // One statement: the order's status and version, its history entry and the
                // inbox outcome. `previous` is the row as it was (already locked by this
                // transaction), so the change knows how long the order was in the status it
                // leaves. `next_waiting`: whether the next sequence is already in the inbox.
                let (version, from_since, at, created_at, next_waiting): (
                    i64,
                    DateTime<Utc>,
                    DateTime<Utc>,
                    DateTime<Utc>,
                    bool,
                ) = sqlx::query_as(
                    "WITH previous AS (SELECT status_since FROM orders WHERE id = $1),
                     changed AS (
                         UPDATE orders o SET status = $2, status_version = o.status_version + 1,
                             status_since = now(), failure_reason = $3, last_source_sequence = $4
                         FROM previous
                         WHERE o.id = $1
                         RETURNING o.status_version, previous.status_since AS from_since,
                                   o.status_since, o.created_at),
                     history AS (
                         INSERT INTO order_status_history (order_id, from_status, to_status,
                             status_version, source, source_sequence, detail, changed_at)
                         SELECT $1, $5, $2, status_version, $6, $4, $7, $8 FROM changed),
                     inbox AS (
                         UPDATE status_events SET outcome = 'applied', reason = NULL
                         WHERE order_id = $1 AND sequence = $4)
                     SELECT status_version, from_since, status_since, created_at,
                            EXISTS (SELECT 1 FROM status_events
                                    WHERE order_id = $1 AND sequence = $4 + 1
                                      AND outcome = 'pending')
                     FROM changed",
                )
                .bind(order_id)
                .bind(to.as_str())
                .bind(&failure_reason)
                .bind(event.sequence)
                .bind(current.as_str())
                .bind(&event.source)
                .bind(history_detail(
                    event.failure.as_deref(),
                    event.detail.as_deref(),
                ))
                .bind(event.changed_at)
                .fetch_one(&mut *conn)
                .await?;
                notes.push(Note::Changed(StatusChange {
                    order_id,
                    from: current,
                    to,
                    sequence: Some(event.sequence),
                    version,
                    source: event.source,
                    from_since,
                    at,
                    created_at,
                }));
                current = to;
                if !next_waiting {
                    read_rest = false;
                }
            }
            Err(reason) => {
                processed_unchanged(
                    conn,
                    order_id,
                    event.sequence,
                    EventOutcome::Rejected,
                    &reason,
                )
                .await?;
                notes.push(Note::Rejected(StatusRejection {
                    order_id,
                    sequence: event.sequence,
                    from: current,
                    to,
                    reason,
                }));
            }
        }
        last_processed = event.sequence;
    }
    Ok(notes)
}

/// Marks event `sequence` processed without a status change: the order's last processed
/// sequence moves on and the inbox row gets `outcome` and `reason`.
async fn processed_unchanged(
    conn: &mut PgConnection,
    order_id: Uuid,
    sequence: i64,
    outcome: EventOutcome,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET last_source_sequence = $2 WHERE id = $1")
        .bind(order_id)
        .bind(sequence)
        .execute(&mut *conn)
        .await?;
    set_outcome(conn, order_id, sequence, outcome, Some(reason)).await
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

/// `text` cut to its first `max` characters.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
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
        assert_eq!(
            clip(&"x".repeat(5000), MAX_DETAIL_CHARS).chars().count(),
            MAX_DETAIL_CHARS
        );
        assert_eq!(clip("short", MAX_DETAIL_CHARS), "short");
        assert_eq!(clip("ééé", 2), "éé");
    }

    #[test]
    fn the_delivered_events_outcome_is_what_processing_made_of_it() {
        let report = ApplyReport {
            received: EventOutcome::Pending,
            processed: vec![(2, EventOutcome::Applied), (3, EventOutcome::Rejected)],
        };
        assert_eq!(report.outcome_of(2), EventOutcome::Applied);
        assert_eq!(report.outcome_of(3), EventOutcome::Rejected);
        // Arrived ahead of a gap: still waiting.
        assert_eq!(report.outcome_of(5), EventOutcome::Pending);
        let repeat = ApplyReport {
            received: EventOutcome::Duplicate,
            processed: Vec::new(),
        };
        assert_eq!(repeat.outcome_of(2), EventOutcome::Duplicate);
    }

    #[test]
    fn every_processed_event_and_an_unprocessed_receipt_are_counted() {
        // Sequence 2 arrived after 3 had been waiting: both applied now.
        let gap_filled = ApplyReport {
            received: EventOutcome::Pending,
            processed: vec![(2, EventOutcome::Applied), (3, EventOutcome::Rejected)],
        };
        assert_eq!(
            gap_filled.counted_outcomes(2),
            vec![EventOutcome::Applied, EventOutcome::Rejected]
        );
        // Sequence 5 arrived ahead of a gap: it waits.
        let waiting = ApplyReport {
            received: EventOutcome::Pending,
            processed: Vec::new(),
        };
        assert_eq!(waiting.counted_outcomes(5), vec![EventOutcome::Pending]);
        let repeat = ApplyReport {
            received: EventOutcome::Stale,
            processed: Vec::new(),
        };
        assert_eq!(repeat.counted_outcomes(1), vec![EventOutcome::Stale]);
    }

    #[test]
    fn notes_report_processed_sequences_and_rejections() {
        let order_id = Uuid::now_v7();
        let notes = vec![
            Note::Changed(StatusChange {
                order_id,
                from: OrderStatus::New,
                to: OrderStatus::Accepted,
                sequence: Some(1),
                version: 2,
                source: "mes".into(),
                from_since: chrono::Utc::now(),
                at: chrono::Utc::now(),
                created_at: chrono::Utc::now(),
            }),
            Note::Rejected(StatusRejection {
                order_id,
                sequence: 2,
                from: OrderStatus::Accepted,
                to: OrderStatus::Shipped,
                reason: "illegal transition ACCEPTED -> SHIPPED".into(),
            }),
            Note::Ignored(StatusIgnored {
                order_id,
                sequence: 1,
                outcome: EventOutcome::Duplicate,
                reason: "redelivery".into(),
            }),
        ];
        let processed: Vec<_> = notes.iter().filter_map(Note::processed).collect();
        assert_eq!(
            processed,
            vec![(1, EventOutcome::Applied), (2, EventOutcome::Rejected)]
        );
        assert_eq!(
            rejections(&notes).as_deref(),
            Some("illegal transition ACCEPTED -> SHIPPED")
        );
        assert_eq!(rejections(&notes[..1]), None);
    }

    #[test]
    fn errors_are_typed() {
        let id = Uuid::now_v7();
        assert_eq!(ApplyError::UnknownOrder(id).error_type(), "unknown_order");
        assert_eq!(
            ApplyError::InvalidSequence(0, id).error_type(),
            "invalid_sequence"
        );
        assert_eq!(
            ApplyError::UnexpectedSource("shop".into()).error_type(),
            "unexpected_source"
        );
        assert_eq!(
            ApplyError::Database(sqlx::Error::PoolTimedOut).error_type(),
            "database_unavailable"
        );
        assert_eq!(
            ApplyError::Corrupt("x".into()).error_type(),
            "corrupt_order"
        );
    }
}
