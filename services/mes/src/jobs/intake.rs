//! `order.created` -> a production job in `ACCEPTED` (seed point 5: the message is only acked
//! once the job and its first status event are committed), or in `CANCELLED` when CRM's
//! cancellation arrived first (see [`crate::jobs::cancel`]).

use crate::jobs::trace_context::{self, StepError};
use crate::jobs::transition::{transition, TransitionError};
use crate::jobs::Job;
use crate::production::Production;
use printflow_contracts::messages::decode;
use printflow_contracts::{OrderCreated, OrderStatus};
use printflow_messaging::consumer::{HandleError, Handler, IncomingMessage};
use printflow_messaging::OutboxSignal;
use sqlx::PgPool;
use std::sync::Arc;
use tracing::field::Empty;
use tracing::Span;
use uuid::Uuid;

/// Consumer of `mes.order_created`.
#[derive(Debug, Clone)]
pub struct OrderIntake {
    /// MES database.
    pub pool: PgPool,
    /// Phase timings (the first transition computes none, but `transition` takes them).
    pub production: Arc<Production>,
    /// Wakes the outbox relay after commit.
    pub signal: OutboxSignal,
}

/// What intake did with a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// A new job was created and `ACCEPTED` enqueued.
    Created(Uuid),
    /// The order had been cancelled before it arrived: its job was created and cancelled.
    Cancelled(Uuid),
    /// The order already has a job (redelivery or duplicate publish); nothing changed.
    Duplicate,
}

impl OrderIntake {
    /// Creates the job for `order` and its `ACCEPTED` event in one transaction. The print spec
    /// must have passed [`validate`](printflow_contracts::PrintSpec::validate) (so it is
    /// normalised, as the jobs table's checks expect), as [`Handler::handle`] does.
    ///
    /// The row is inserted as `NEW` with sequence 0 and immediately moved to `ACCEPTED` by
    /// [`transition`], so even the first event comes from the one transition function; no other
    /// transaction ever sees the `NEW` row.
    ///
    /// Runs inside the consumer's span, so in the order's trace; the job stores this span's
    /// context so its later steps continue the same trace (see [`trace_context`]).
    #[tracing::instrument(
        name = "mes.job.intake",
        skip_all,
        fields(
            otel.name = "job intake",
            order.id = %order.order_id,
            design.id = %order.spec.design_id,
            design.version = order.spec.design_version,
            job.id = Empty,
            printer.id = Empty,
            mes.job.duplicate = Empty,
            error.type = Empty,
        )
    )]
    pub async fn accept(&self, order: &OrderCreated) -> Result<Intake, TransitionError> {
        let result = self.create_job(order).await;
        if let Err(e) = &result {
            printflow_telemetry::record_error(&Span::current(), e.error_type(), &e.to_string());
        }
        result
    }

    async fn create_job(&self, order: &OrderCreated) -> Result<Intake, TransitionError> {
        let span = Span::current();
        let mut tx = self.pool.begin().await?;
        super::lock_order(&mut tx, order.order_id).await?;
        let inserted = sqlx::query_as::<_, Job>(
            "INSERT INTO jobs (id, order_id, design_id, design_version, model_sha256,
                               model_size_bytes, estimated_print_seconds, material, quantity,
                               shipping, status, sequence, trace_context)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'NEW', 0, $11)
             ON CONFLICT (order_id) DO NOTHING
             RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(order.order_id)
        .bind(order.spec.design_id)
        .bind(order.spec.design_version)
        .bind(&order.spec.model_sha256)
        .bind(order.spec.model_size_bytes)
        .bind(order.spec.estimated_print_seconds)
        .bind(&order.spec.material)
        .bind(order.spec.quantity)
        .bind(order.shipping.as_str())
        .bind(trace_context::to_column(&trace_context::capture()))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job) = inserted else {
            span.record("mes.job.duplicate", true);
            let existing: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM jobs WHERE order_id = $1")
                    .bind(order.order_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = existing {
                span.record("job.id", tracing::field::display(id));
            }
            tracing::info!("order already has a job; duplicate order.created ignored");
            return Ok(Intake::Duplicate);
        };
        span.record("mes.job.duplicate", false);
        span.record("job.id", tracing::field::display(job.id));
        let cancelled: Option<Uuid> = sqlx::query_scalar(
            "DELETE FROM cancelled_orders WHERE order_id = $1 RETURNING order_id",
        )
        .bind(order.order_id)
        .fetch_optional(&mut *tx)
        .await?;
        if cancelled.is_some() {
            transition(
                &mut tx,
                &self.production,
                &job,
                OrderStatus::Cancelled,
                None,
                Some("cancelled in CRM before production received it".to_owned()),
            )
            .await?;
            tx.commit().await?;
            self.signal.wake();
            tracing::info!(job.id = %job.id, "job cancelled at intake");
            return Ok(Intake::Cancelled(job.id));
        }
        let job = transition(
            &mut tx,
            &self.production,
            &job,
            OrderStatus::Accepted,
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        self.signal.wake();
        if let Some(printer) = job.printer_id {
            span.record("printer.id", printer);
        }
        tracing::info!(job.id = %job.id, printer.id = job.printer_id, "job accepted");
        Ok(Intake::Created(job.id))
    }
}

#[async_trait::async_trait]
impl Handler for OrderIntake {
    async fn handle(&self, msg: &IncomingMessage) -> Result<(), HandleError> {
        let mut order = decode::<OrderCreated>(&msg.body)
            .map_err(|e| HandleError::Poison(e.to_string()))?
            .data;
        // Content no retry can fix: dead-letter it, naming the field.
        order.spec = order
            .spec
            .validate()
            .map_err(|e| HandleError::Poison(format!("invalid order.created: {e}")))?;
        match self.accept(&order).await {
            Ok(_) => Ok(()),
            // Cannot happen for a fresh NEW row; if it does, retrying will not fix it.
            Err(e @ TransitionError::Illegal { .. }) => Err(HandleError::Poison(e.to_string())),
            Err(e) => Err(HandleError::Transient(e.to_string())),
        }
    }
}
