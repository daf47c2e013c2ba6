//! The one way a job changes status.
//!
//! Every status change (order intake, operator) calls [`transition`] inside the caller's
//! transaction; the scheduler, which moves many jobs per transaction, calls [`transition_all`],
//! of which [`transition`] is the batch of one. It checks the shared state machine, bumps the
//! order's sequence, updates the job, appends to the job's history and writes the
//! `order.status_changed` event to the outbox — all or nothing. So the events CRM receives are gap-free and ordered per order
//! (seed point 7), and MES's own history can never disagree with what it published.

use crate::jobs::trace_context::StepError;
use crate::jobs::Job;
use crate::production::Production;
use chrono::DateTime;
use chrono::Utc;
use printflow_contracts::{Envelope, FailureReason, OrderStatus, OrderStatusChanged};
use printflow_messaging::outbox;
use sqlx::PgConnection;
use std::collections::HashMap;
use tracing::field::Empty;
use tracing::Span;
use uuid::Uuid;

/// The `source` of every event MES publishes.
pub const SOURCE: &str = "mes";

/// Why a transition did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// The state machine does not allow it.
    #[error("a job in {from} cannot move to {to}")]
    Illegal {
        /// Current status.
        from: OrderStatus,
        /// Requested status.
        to: OrderStatus,
    },
    /// The job changed since the caller read it (the caller did not hold its row lock).
    #[error("job changed concurrently (expected sequence {expected})")]
    Stale {
        /// The sequence the caller saw.
        expected: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl crate::jobs::trace_context::StepError for TransitionError {
    fn error_type(&self) -> &'static str {
        match self {
            TransitionError::Illegal { .. } => "illegal_transition",
            TransitionError::Stale { .. } => "stale_transition",
            TransitionError::Database(_) => "database_error",
        }
    }
}

/// One status change asked of [`transition_all`].
#[derive(Debug)]
pub struct Change<'a> {
    /// The job, read with its row locked in the same transaction (`FOR UPDATE`).
    pub job: &'a Job,
    /// The status it moves to.
    pub to: OrderStatus,
    /// Why, when `to` is `FAILED` (ignored otherwise).
    pub failure: Option<FailureReason>,
    /// Failure message or operator note.
    pub detail: Option<String>,
    /// The printer the job moves to with this change (a print started from another printer's
    /// queue); `None` keeps its printer. Entering `ACCEPTED` picks one anyway.
    pub printer: Option<i32>,
    /// The span the change's own `job transition` span is a child of (the step's span).
    pub parent: Span,
}

impl Change<'_> {
    /// The failure reason recorded: only a change to `FAILED` has one.
    fn failure(&self) -> Option<FailureReason> {
        (self.to == OrderStatus::Failed)
            .then_some(self.failure)
            .flatten()
    }
}

/// Moves `job` to `to` and records and enqueues the change; returns the updated job.
///
/// `job` must have been read with its row locked in the same transaction (`FOR UPDATE`). Entering
/// `ACCEPTED` (intake or retry) also picks a printer and resets model verification, so a retried
/// job has its model checked again; leaving `FAILED` counts a new attempt.
///
/// Runs in a `job transition` span (a child of the caller's current span, the step's, so of the
/// order's trace); the outbox row captures that span, so the published event continues it. A
/// change is the span event `order.status.changed`; a refused one is `order.status.rejected` and
/// fails the span.
pub async fn transition(
    conn: &mut PgConnection,
    production: &Production,
    job: &Job,
    to: OrderStatus,
    failure: Option<FailureReason>,
    detail: Option<String>,
) -> Result<Job, TransitionError> {
    let change = Change {
        job,
        to,
        failure,
        detail,
        printer: None,
        parent: Span::current(),
    };
    transition_all(conn, production, vec![change])
        .await?
        .pop()
        .expect("one change, one outcome")
}

/// Makes `changes` (of distinct jobs) in three statements, whatever their number: the jobs'
/// update, their history and their events, where one change at a time took three round trips
/// each (the scheduler's limit under the order benchmark, docs/benchmarks.md). Returns each
/// change's outcome in order: a change the state machine refuses, or whose job moved since it
/// was read, fails alone; a database error fails them all (the transaction is then lost anyway).
/// Each change has its own `job transition` span, as [`transition`] describes.
pub async fn transition_all(
    conn: &mut PgConnection,
    production: &Production,
    changes: Vec<Change<'_>>,
) -> Result<Vec<Result<Job, TransitionError>>, TransitionError> {
    let now = Utc::now();
    let spans: Vec<Span> = changes.iter().map(transition_span).collect();
    let mut outcomes: Vec<Option<Result<Job, TransitionError>>> = Vec::with_capacity(changes.len());
    let mut rows = Rows::default();
    for (change, span) in changes.iter().zip(&spans) {
        match plan(conn, production, change, now).await {
            Ok(Some(row)) => {
                rows.push(change, row);
                outcomes.push(None);
            }
            Ok(None) => {
                let e = TransitionError::Illegal {
                    from: change.job.status,
                    to: change.to,
                };
                span.in_scope(|| rejected(change, &e));
                outcomes.push(Some(Err(e)));
            }
            Err(e) => return Err(failed_all(&spans, e.into())),
        }
    }
    let mut updated = match write(conn, &rows, now).await {
        Ok(updated) => updated,
        Err(e) => return Err(failed_all(&spans, e.into())),
    };
    let mut events = Vec::new();
    let mut moved = Vec::new();
    for (i, (change, span)) in changes.iter().zip(&spans).enumerate() {
        if outcomes[i].is_some() {
            continue;
        }
        match updated.remove(&change.job.id) {
            Some(job) => {
                let failure = change.failure();
                let event = Envelope::new(OrderStatusChanged {
                    order_id: job.order_id,
                    sequence: job.sequence,
                    status: change.to,
                    failure,
                    detail: change.detail.clone(),
                    source: SOURCE.to_owned(),
                    changed_at: now,
                });
                // The event continues this change's span, so CRM's handling of it lands in the
                // order's trace under the change that caused it.
                events.push((event, span.in_scope(printflow_messaging::context::capture)));
                moved.push(i);
                outcomes[i] = Some(Ok(job));
            }
            None => {
                let e = TransitionError::Stale {
                    expected: change.job.sequence,
                };
                span.in_scope(|| rejected(change, &e));
                outcomes[i] = Some(Err(e));
            }
        }
    }
    let enqueue: Vec<_> = events.iter().map(|(e, h)| (e, h)).collect();
    if let Err(e) = record_history(conn, &changes, &moved, &outcomes, now).await {
        return Err(failed_all(&spans, e.into()));
    }
    if let Err(e) = outbox::enqueue_all(conn, &enqueue).await {
        return Err(failed_all(&spans, e.into()));
    }
    for &i in &moved {
        if let Some(Ok(job)) = &outcomes[i] {
            spans[i].in_scope(|| changed(&changes[i], job));
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every change has an outcome"))
        .collect())
}

/// The `job transition` span of `change`, a child of its step's span.
fn transition_span(change: &Change<'_>) -> Span {
    let job = change.job;
    tracing::info_span!(
        parent: &change.parent,
        "mes.job.transition",
        otel.name = "job transition",
        order.id = %job.order_id,
        job.id = %job.id,
        order.status.from = %job.status,
        order.status.to = %change.to,
        order.status.sequence = Empty,
        error.type = Empty,
    )
}

/// One job's new column values, as the update binds them.
#[derive(Debug)]
struct Row {
    phase_ends_at: Option<DateTime<Utc>>,
    printer: Option<i32>,
    requeue: bool,
    new_attempt: i32,
}

/// The planned rows of a batch, column by column (each becomes an array parameter).
#[derive(Debug, Default)]
struct Rows {
    ids: Vec<Uuid>,
    to: Vec<&'static str>,
    ends: Vec<Option<DateTime<Utc>>>,
    failures: Vec<Option<&'static str>>,
    details: Vec<Option<String>>,
    printers: Vec<Option<i32>>,
    requeue: Vec<bool>,
    new_attempts: Vec<i32>,
    sequences: Vec<i64>,
    from: Vec<&'static str>,
}

impl Rows {
    fn push(&mut self, change: &Change<'_>, row: Row) {
        let failure = change.failure();
        self.ids.push(change.job.id);
        self.to.push(change.to.as_str());
        self.ends.push(row.phase_ends_at);
        self.failures.push(failure.map(FailureReason::as_str));
        self.details.push(change.detail.clone());
        self.printers.push(row.printer);
        self.requeue.push(row.requeue);
        self.new_attempts.push(row.new_attempt);
        self.sequences.push(change.job.sequence);
        self.from.push(change.job.status.as_str());
    }
}

/// The new values of `change`'s job, or `None` if the state machine refuses the change.
async fn plan(
    conn: &mut PgConnection,
    production: &Production,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Row>, sqlx::Error> {
    let (job, to) = (change.job, change.to);
    if !job.status.can_transition_to(to) {
        return Ok(None);
    }
    let requeue = to == OrderStatus::Accepted;
    let printer = if requeue {
        crate::assignment::pick_printer(&mut *conn).await?
    } else {
        change.printer
    };
    Ok(Some(Row {
        phase_ends_at: production.phase_ends_at(
            to,
            job.spec.estimated_print_seconds,
            job.spec.quantity,
            now,
        ),
        printer,
        requeue,
        new_attempt: i32::from(requeue && job.status == OrderStatus::Failed),
    }))
}

/// Updates the planned jobs that are still as their changes saw them (same sequence and
/// status); the updated jobs by id.
async fn write(
    conn: &mut PgConnection,
    rows: &Rows,
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Job>, sqlx::Error> {
    if rows.ids.is_empty() {
        return Ok(HashMap::new());
    }
    let updated = sqlx::query_as::<_, Job>(
        "UPDATE jobs AS j SET
             status = c.to_status, sequence = j.sequence + 1,
             phase_started_at = $1, phase_ends_at = c.ends_at, updated_at = $1,
             failure_reason = c.failure, detail = c.detail,
             printer_id = COALESCE(c.printer, j.printer_id),
             model_verified = j.model_verified AND NOT c.requeue,
             next_check_at = CASE WHEN c.requeue THEN $1 ELSE j.next_check_at END,
             model_fetch_failures = CASE WHEN c.requeue THEN 0 ELSE j.model_fetch_failures END,
             model_fetch_error = CASE WHEN c.requeue THEN NULL ELSE j.model_fetch_error END,
             attempts = j.attempts + c.new_attempt
         FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                     $7::int4[], $8::bool[], $9::int4[], $10::int8[], $11::text[])
             AS c(id, to_status, ends_at, failure, detail, printer, requeue, new_attempt,
                  seq, from_status)
         WHERE j.id = c.id AND j.sequence = c.seq AND j.status = c.from_status
         RETURNING j.*",
    )
    .bind(now)
    .bind(&rows.ids)
    .bind(&rows.to)
    .bind(&rows.ends)
    .bind(&rows.failures)
    .bind(&rows.details)
    .bind(&rows.printers)
    .bind(&rows.requeue)
    .bind(&rows.new_attempts)
    .bind(&rows.sequences)
    .bind(&rows.from)
    .fetch_all(&mut *conn)
    .await?;
    Ok(updated.into_iter().map(|job| (job.id, job)).collect())
}

/// Appends the changes at `moved` (whose outcomes hold the updated jobs) to the jobs' history.
async fn record_history(
    conn: &mut PgConnection,
    changes: &[Change<'_>],
    moved: &[usize],
    outcomes: &[Option<Result<Job, TransitionError>>],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if moved.is_empty() {
        return Ok(());
    }
    let mut history = History::default();
    for &i in moved {
        let Some(Ok(job)) = &outcomes[i] else {
            continue;
        };
        let change = &changes[i];
        history.job_ids.push(job.id);
        history.order_ids.push(job.order_id);
        history.sequences.push(job.sequence);
        history.from.push(change.job.status.as_str());
        history.to.push(change.to.as_str());
        history.failures.push(job.failure_reason.clone());
        history.details.push(change.detail.clone());
    }
    sqlx::query(
        "INSERT INTO job_events (job_id, order_id, sequence, from_status, to_status,
                                 failure_reason, detail, at)
         SELECT e.*, $1
         FROM unnest($2::uuid[], $3::uuid[], $4::int8[], $5::text[], $6::text[], $7::text[],
                     $8::text[]) AS e",
    )
    .bind(now)
    .bind(&history.job_ids)
    .bind(&history.order_ids)
    .bind(&history.sequences)
    .bind(&history.from)
    .bind(&history.to)
    .bind(&history.failures)
    .bind(&history.details)
    .execute(conn)
    .await
    .map(|_| ())
}

/// `job_events` rows, column by column.
#[derive(Debug, Default)]
struct History {
    job_ids: Vec<Uuid>,
    order_ids: Vec<Uuid>,
    sequences: Vec<i64>,
    from: Vec<&'static str>,
    to: Vec<&'static str>,
    failures: Vec<Option<String>>,
    details: Vec<Option<String>>,
}

/// Records `e` on every change's span and returns it: the batch failed as a whole.
fn failed_all(spans: &[Span], e: TransitionError) -> TransitionError {
    for span in spans {
        printflow_telemetry::record_error(span, e.error_type(), &e.to_string());
    }
    e
}

/// The span event of a refused change (call inside its span), and the span's error.
fn rejected(change: &Change<'_>, e: &TransitionError) {
    let job = change.job;
    tracing::warn!(
        order.id = %job.order_id,
        job.id = %job.id,
        order.status.from = %job.status,
        order.status.to = %change.to,
        order.status.rejection_reason = e.error_type(),
        order.status.rejection_detail = %e,
        "order.status.rejected"
    );
    printflow_telemetry::record_error(&Span::current(), e.error_type(), &e.to_string());
}

/// The span event of a change made (call inside its span).
fn changed(change: &Change<'_>, job: &Job) {
    let failure = change.failure();
    Span::current().record("order.status.sequence", job.sequence);
    tracing::info!(
        order.id = %job.order_id,
        job.id = %job.id,
        order.status.from = %change.job.status,
        order.status.to = %change.to,
        order.status.sequence = job.sequence,
        order.status.source = SOURCE,
        order.failure_reason = failure.map(FailureReason::as_str),
        order.failure_detail = failure.and(change.detail.as_deref()),
        "order.status.changed"
    );
}
