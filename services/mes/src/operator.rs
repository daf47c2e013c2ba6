//! Operator actions on jobs: the manual quality-check verdict and the retry of a failed job.
//! Both lock the job, check its state and go through [`transition`], like the scheduler.

use crate::jobs::trace_context::{run_step, step_span, Step, StepError};
use crate::jobs::transition::{transition, TransitionError};
use crate::jobs::{lock_job, Job};
use crate::production::Production;
use printflow_contracts::{FailureReason, OrderStatus};
use printflow_messaging::OutboxSignal;
use printflow_web::ApiError;
use serde::Deserialize;
use sqlx::PgPool;
use tracing::field::Empty;
use tracing::Span;
use uuid::Uuid;

/// Longest operator note kept with a QC verdict.
pub const MAX_NOTE_CHARS: usize = 1_000;

/// The operator's QC verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QcResult {
    /// The part is good: `READY`.
    Pass,
    /// The part is rejected: `FAILED` with `qc_rejected`.
    Fail,
}

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// No such job.
    #[error("job {0} does not exist")]
    NotFound(Uuid),
    /// The job is not in a state the action applies to.
    #[error("job {job} is {current}; {action} needs {required}")]
    InvalidState {
        /// The job.
        job: Uuid,
        /// Its status.
        current: OrderStatus,
        /// What was attempted.
        action: &'static str,
        /// The status it needs.
        required: OrderStatus,
    },
    /// The note is too long.
    #[error("note must be at most {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    /// The note holds a control character other than a tab or a line break (PostgreSQL cannot
    /// even store U+0000).
    #[error("note must not contain control characters other than tabs and line breaks")]
    NoteUnprintable,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<OperatorError> for ApiError {
    fn from(e: OperatorError) -> Self {
        match e {
            OperatorError::NotFound(id) => ApiError::not_found("job", id),
            OperatorError::InvalidState { .. } => {
                ApiError::conflict("invalid_job_state", e.to_string())
            }
            OperatorError::NoteTooLong | OperatorError::NoteUnprintable => {
                ApiError::validation("note", e.to_string())
            }
            OperatorError::Database(db) => db.into(),
        }
    }
}

impl QcResult {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            QcResult::Pass => "pass",
            QcResult::Fail => "fail",
        }
    }
}

impl StepError for OperatorError {
    fn error_type(&self) -> &'static str {
        match self {
            OperatorError::NotFound(_) => "job_not_found",
            OperatorError::InvalidState { .. } => "invalid_job_state",
            OperatorError::NoteTooLong | OperatorError::NoteUnprintable => "validation_error",
            OperatorError::Database(_) => "database_error",
        }
    }
}

/// Records a QC verdict on a job in `QUALITY_CHECK`.
#[tracing::instrument(
    name = "mes.operator.quality_check",
    skip_all,
    fields(
        otel.name = "operator quality check",
        job.id = %id,
        order.id = Empty,
        printer.id = Empty,
        mes.qc.result = result.as_str(),
    )
)]
pub async fn quality_check(
    pool: &PgPool,
    production: &Production,
    signal: &OutboxSignal,
    id: Uuid,
    result: QcResult,
    note: Option<String>,
) -> Result<Job, OperatorError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(OperatorError::NoteTooLong);
    }
    let unprintable = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    if note.as_ref().is_some_and(|n| n.chars().any(unprintable)) {
        return Err(OperatorError::NoteUnprintable);
    }
    let (to, failure, detail) = match result {
        QcResult::Pass => (OrderStatus::Ready, None, note),
        QcResult::Fail => (
            OrderStatus::Failed,
            Some(FailureReason::QcRejected),
            Some(note.unwrap_or_else(|| "rejected by the operator".to_owned())),
        ),
    };
    act(
        pool,
        production,
        signal,
        id,
        Step::QualityCheck,
        OrderStatus::QualityCheck,
        to,
        failure,
        detail,
    )
    .await
}

/// Sends a `FAILED` job back to `ACCEPTED`: its model is verified again, it is queued on a
/// printer and counts a new attempt. Its order's sequence continues.
#[tracing::instrument(
    name = "mes.operator.retry",
    skip_all,
    fields(
        otel.name = "operator retry",
        job.id = %id,
        order.id = Empty,
        printer.id = Empty,
    )
)]
pub async fn retry(
    pool: &PgPool,
    production: &Production,
    signal: &OutboxSignal,
    id: Uuid,
) -> Result<Job, OperatorError> {
    act(
        pool,
        production,
        signal,
        id,
        Step::Retry,
        OrderStatus::Failed,
        OrderStatus::Accepted,
        None,
        Some("retried by the operator".to_owned()),
    )
    .await
}

/// Locks the job, checks it is in `required` and moves it to `to` in a step span that continues
/// the order's trace (linked with the operator's request, the current span).
#[allow(
    clippy::too_many_arguments,
    reason = "each argument is a distinct part of the transition; a struct for one private call adds nothing"
)]
async fn act(
    pool: &PgPool,
    production: &Production,
    signal: &OutboxSignal,
    id: Uuid,
    step: Step,
    required: OrderStatus,
    to: OrderStatus,
    failure: Option<FailureReason>,
    detail: Option<String>,
) -> Result<Job, OperatorError> {
    // The wording of the 409 message, as before tracing came.
    let action = match step {
        Step::QualityCheck => "quality check",
        _ => step.as_str(),
    };
    let mut tx = pool.begin().await?;
    let job = lock_job(&mut tx, id)
        .await?
        .ok_or(OperatorError::NotFound(id))?;
    let request = Span::current();
    request.record("order.id", tracing::field::display(job.order_id));
    if let Some(printer) = job.printer_id {
        request.record("printer.id", printer);
    }
    if job.status != required {
        // The operator's mistake (a 409), so an event on the request's span, not a failure.
        tracing::warn!(
            order.id = %job.order_id,
            job.id = %job.id,
            order.status.from = %job.status,
            order.status.to = %to,
            order.status.rejection_reason = "invalid_job_state",
            order.status.rejection_detail = %format!("{action} needs {required}"),
            "order.status.rejected"
        );
        return Err(OperatorError::InvalidState {
            job: id,
            current: job.status,
            action,
            required,
        });
    }
    let span = step_span(&job, step, to);
    let job = run_step(span, async move {
        let moved = transition(&mut tx, production, &job, to, failure, detail)
            .await
            .map_err(|e| match e {
                TransitionError::Database(db) => OperatorError::Database(db),
                // We hold the row lock and checked the status, so neither can happen; report
                // the state conflict rather than a 500 if it ever does.
                TransitionError::Illegal { .. } | TransitionError::Stale { .. } => {
                    OperatorError::InvalidState {
                        job: id,
                        current: job.status,
                        action,
                        required,
                    }
                }
            })?;
        tx.commit().await?;
        Ok::<_, OperatorError>(moved)
    })
    .await?;
    signal.wake();
    Ok(job)
}
