//! The one way a job changes status.
//!
//! Every status change (order intake, scheduler, operator) calls [`transition`] inside the
//! caller's transaction. It checks the shared state machine, bumps the order's sequence, updates
//! the job, appends to the job's history and writes the `order.status_changed` event to the
//! outbox — all or nothing. So the events CRM receives are gap-free and ordered per order
//! (seed point 7), and MES's own history can never disagree with what it published.

use crate::jobs::trace_context::StepError;
use crate::jobs::Job;
use crate::production::Production;
use chrono::Utc;
use printflow_contracts::{Envelope, FailureReason, OrderStatus, OrderStatusChanged};
use printflow_messaging::outbox;
use sqlx::PgConnection;

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

/// Moves `job` to `to` and records and enqueues the change; returns the updated job.
///
/// `job` must have been read with its row locked in the same transaction (`FOR UPDATE`). Entering
/// `ACCEPTED` (intake or retry) also picks a printer and resets model verification, so a retried
/// job has its model checked again; leaving `FAILED` counts a new attempt.
///
/// Runs in a `job transition` span (a child of the caller's step span, so of the order's trace);
/// the outbox row captures that span, so the published event continues it. A change is the span
/// event `order.status.changed`; a refused one is `order.status.rejected` and fails the span.
#[tracing::instrument(
    name = "mes.job.transition",
    skip_all,
    fields(
        otel.name = "job transition",
        order.id = %job.order_id,
        job.id = %job.id,
        order.status.from = %job.status,
        order.status.to = %to,
        order.status.sequence = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
)]
pub async fn transition(
    conn: &mut PgConnection,
    production: &Production,
    job: &Job,
    to: OrderStatus,
    failure: Option<FailureReason>,
    detail: Option<String>,
) -> Result<Job, TransitionError> {
    let result = change(conn, production, job, to, failure, detail).await;
    if let Err(e) = &result {
        let span = tracing::Span::current();
        if matches!(
            e,
            TransitionError::Illegal { .. } | TransitionError::Stale { .. }
        ) {
            tracing::warn!(
                order.id = %job.order_id,
                job.id = %job.id,
                order.status.from = %job.status,
                order.status.to = %to,
                order.status.rejection_reason = e.error_type(),
                order.status.rejection_detail = %e,
                "order.status.rejected"
            );
        }
        printflow_telemetry::record_error(&span, e.error_type(), &e.to_string());
    }
    result
}

async fn change(
    conn: &mut PgConnection,
    production: &Production,
    job: &Job,
    to: OrderStatus,
    failure: Option<FailureReason>,
    detail: Option<String>,
) -> Result<Job, TransitionError> {
    let from = job.status;
    if !from.can_transition_to(to) {
        return Err(TransitionError::Illegal { from, to });
    }
    let now = Utc::now();
    let failure = if to == OrderStatus::Failed {
        failure
    } else {
        None
    };
    let requeue = to == OrderStatus::Accepted;
    let printer = if requeue {
        crate::assignment::pick_printer(&mut *conn).await?
    } else {
        None
    };
    let new_attempt = i32::from(requeue && from == OrderStatus::Failed);
    let phase_ends_at =
        production.phase_ends_at(to, job.spec.estimated_print_seconds, job.spec.quantity, now);
    let updated = sqlx::query_as::<_, Job>(
        "UPDATE jobs SET
             status = $2, sequence = sequence + 1,
             phase_started_at = $3, phase_ends_at = $4, updated_at = $3,
             failure_reason = $5, detail = $6,
             printer_id = COALESCE($7, printer_id),
             model_verified = model_verified AND NOT $8,
             next_check_at = CASE WHEN $8 THEN $3 ELSE next_check_at END,
             model_fetch_failures = CASE WHEN $8 THEN 0 ELSE model_fetch_failures END,
             model_fetch_error = CASE WHEN $8 THEN NULL ELSE model_fetch_error END,
             attempts = attempts + $9
         WHERE id = $1 AND sequence = $10 AND status = $11
         RETURNING *",
    )
    .bind(job.id)
    .bind(to.as_str())
    .bind(now)
    .bind(phase_ends_at)
    .bind(failure.map(FailureReason::as_str))
    .bind(detail.as_deref())
    .bind(printer)
    .bind(requeue)
    .bind(new_attempt)
    .bind(job.sequence)
    .bind(from.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(TransitionError::Stale {
        expected: job.sequence,
    })?;

    sqlx::query(
        "INSERT INTO job_events (job_id, order_id, sequence, from_status, to_status,
                                 failure_reason, detail, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(updated.id)
    .bind(updated.order_id)
    .bind(updated.sequence)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(failure.map(FailureReason::as_str))
    .bind(detail.as_deref())
    .bind(now)
    .execute(&mut *conn)
    .await?;

    let event = Envelope::new(OrderStatusChanged {
        order_id: updated.order_id,
        sequence: updated.sequence,
        status: to,
        failure,
        detail: detail.clone(),
        source: SOURCE.to_owned(),
        changed_at: now,
    });
    outbox::enqueue(&mut *conn, &event).await?;
    tracing::Span::current().record("order.status.sequence", updated.sequence);
    tracing::info!(
        order.id = %updated.order_id,
        job.id = %updated.id,
        order.status.from = %from,
        order.status.to = %to,
        order.status.sequence = updated.sequence,
        order.status.source = SOURCE,
        order.failure_reason = failure.map(FailureReason::as_str),
        order.failure_detail = failure.and(detail.as_deref()),
        "order.status.changed"
    );
    Ok(updated)
}
