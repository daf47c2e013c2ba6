//! `order.cancelled` -> the order's job stops (`CANCELLED`), if it has not reached a printer.
//!
//! CRM cancels only orders in `NEW` or `ACCEPTED`. What MES does with the cancellation depends on
//! how far the job got by the time it arrives:
//! - no job yet (the cancellation overtook `order.created`): a note in `cancelled_orders`; intake
//!   then creates the job and cancels it at once;
//! - `NEW` or `ACCEPTED`: the job moves to `CANCELLED` through [`transition`], so it leaves its
//!   printer's queue and CRM receives the change as a confirmation;
//! - already printing or later: production cannot take it back; the span says so
//!   (`order.cancel.too_late`) and the job goes on (CRM will refuse its next status, which
//!   shows the disagreement);
//! - already `CANCELLED`: a repeat; nothing changes.

use crate::jobs::trace_context::StepError;
use crate::jobs::transition::{transition, TransitionError};
use crate::jobs::Job;
use crate::production::Production;
use printflow_contracts::messages::decode;
use printflow_contracts::{OrderCancelled, OrderStatus};
use printflow_messaging::consumer::{HandleError, Handler, IncomingMessage};
use printflow_messaging::OutboxSignal;
use sqlx::PgPool;
use std::sync::Arc;
use tracing::field::Empty;
use tracing::Span;

/// Consumer of `mes.order_cancelled`.
#[derive(Debug, Clone)]
pub struct OrderCancellation {
    /// MES database.
    pub pool: PgPool,
    /// Phase timings (`transition` takes them).
    pub production: Arc<Production>,
    /// Wakes the outbox relay after commit.
    pub signal: OutboxSignal,
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// The job was stopped.
    Stopped,
    /// No job yet: noted for intake.
    Noted,
    /// The job had reached a printer (its status then); it goes on.
    TooLate(OrderStatus),
    /// The job was already cancelled.
    Repeat,
}

impl Cancellation {
    fn as_str(self) -> &'static str {
        match self {
            Cancellation::Stopped => "stopped",
            Cancellation::Noted => "noted",
            Cancellation::TooLate(_) => "too_late",
            Cancellation::Repeat => "repeat",
        }
    }
}

impl OrderCancellation {
    /// Stops the job of `cancelled.order_id`, or notes the cancellation for intake.
    ///
    /// Span `job cancel`: `order.id`, `job.id`, `mes.job.cancellation` (`stopped`, `noted`,
    /// `too_late`, `repeat`); `order.cancel.too_late` event with the job's status when it had
    /// reached a printer.
    #[tracing::instrument(
        name = "mes.job.cancel",
        skip_all,
        fields(
            otel.name = "job cancel",
            order.id = %cancelled.order_id,
            job.id = Empty,
            mes.job.cancellation = Empty,
            error.type = Empty,
        )
    )]
    pub async fn cancel(
        &self,
        cancelled: &OrderCancelled,
    ) -> Result<Cancellation, TransitionError> {
        let result = self.apply(cancelled).await;
        let span = Span::current();
        match &result {
            Ok(outcome) => {
                span.record("mes.job.cancellation", outcome.as_str());
                if let Cancellation::TooLate(status) = outcome {
                    tracing::warn!(
                        order.id = %cancelled.order_id,
                        order.status = %status,
                        "order.cancel.too_late"
                    );
                }
            }
            Err(e) => printflow_telemetry::record_error(&span, e.error_type(), &e.to_string()),
        }
        result
    }

    async fn apply(&self, cancelled: &OrderCancelled) -> Result<Cancellation, TransitionError> {
        let mut tx = self.pool.begin().await?;
        super::lock_order(&mut tx, cancelled.order_id).await?;
        let job: Option<Job> = sqlx::query_as("SELECT * FROM jobs WHERE order_id = $1 FOR UPDATE")
            .bind(cancelled.order_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = job else {
            sqlx::query(
                "INSERT INTO cancelled_orders (order_id, cancelled_at) VALUES ($1, $2)
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(cancelled.order_id)
            .bind(cancelled.cancelled_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Cancellation::Noted);
        };
        Span::current().record("job.id", tracing::field::display(job.id));
        let outcome = match job.status {
            OrderStatus::Cancelled => Cancellation::Repeat,
            OrderStatus::New | OrderStatus::Accepted => {
                transition(
                    &mut tx,
                    &self.production,
                    &job,
                    OrderStatus::Cancelled,
                    None,
                    Some("cancelled in CRM".to_owned()),
                )
                .await?;
                Cancellation::Stopped
            }
            other => Cancellation::TooLate(other),
        };
        tx.commit().await?;
        if outcome == Cancellation::Stopped {
            self.signal.wake();
        }
        Ok(outcome)
    }
}

#[async_trait::async_trait]
impl Handler for OrderCancellation {
    async fn handle(&self, msg: &IncomingMessage) -> Result<(), HandleError> {
        let cancelled = decode::<OrderCancelled>(&msg.body)
            .map_err(|e| HandleError::Poison(e.to_string()))?
            .data;
        match self.cancel(&cancelled).await {
            Ok(_) => Ok(()),
            Err(e @ TransitionError::Illegal { .. }) => Err(HandleError::Poison(e.to_string())),
            Err(e) => Err(HandleError::Transient(e.to_string())),
        }
    }
}
