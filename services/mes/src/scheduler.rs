//! The production loop: model checks, printer starts and phase completions, every tick.
//!
//! Each step selects its rows with `FOR UPDATE SKIP LOCKED`, so several MES instances can run
//! against one database without processing a job twice, and every status change goes through
//! [`transition`].

use crate::jobs::trace_context::{step_span, Step, StepError};
use crate::jobs::transition::{transition_all, Change, TransitionError};
use crate::jobs::verify::ModelVerifier;
use crate::jobs::Job;
use crate::production::{Production, QcMode};
use chrono::Utc;
use printflow_contracts::{FailureReason, OrderStatus};
use printflow_messaging::OutboxSignal;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Printers given their next job per transaction.
const START_BATCH: usize = 20;
/// Phase completions handled per transaction.
const FINISH_BATCH: i64 = 100;
/// Batches of phase completions per tick at most. One batch a tick let a backlog of thousands
/// of due phases (the order benchmark, docs/benchmarks.md) wait seconds per step.
const FINISH_ROUNDS: usize = 20;

/// Drives jobs through production.
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// MES database.
    pub pool: PgPool,
    /// Timings and failure rates.
    pub production: Arc<Production>,
    /// Wakes the outbox relay after commits.
    pub signal: OutboxSignal,
    /// Model checks (step 1).
    pub verifier: ModelVerifier,
    /// Period of both loops.
    pub tick: Duration,
}

impl Scheduler {
    /// Runs until `shutdown` is cancelled. Model fetches run in their own loop so a slow Shop
    /// never delays printing and phase changes of other jobs.
    pub async fn run(self, shutdown: CancellationToken) {
        let verify = every(self.tick, shutdown.clone(), || async {
            self.verifier.run_once().await.map(|_| ())
        });
        let produce = every(self.tick, shutdown.clone(), || self.produce_once());
        tokio::join!(verify, produce);
    }

    /// One production round: start prints on idle printers, then finish due phases.
    pub async fn produce_once(&self) -> Result<(), TransitionError> {
        let started = self.start_prints().await?;
        let finished = self.finish_all_phases().await?;
        if started + finished > 0 {
            self.signal.wake();
        }
        Ok(())
    }

    /// Step 2: every unpaused printer without a print takes the next verified job, in batches
    /// of [`START_BATCH`] printers per transaction (one commit, one disk flush, for the batch:
    /// a transaction per printer started about 30 prints/s under the order benchmark).
    async fn start_prints(&self) -> Result<usize, TransitionError> {
        let idle: Vec<i32> = sqlx::query_scalar(
            "SELECT p.id FROM printers p
             WHERE NOT p.paused AND NOT EXISTS (
                 SELECT 1 FROM jobs j WHERE j.printer_id = p.id AND j.status = 'PRINTING')
             ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut started = 0;
        for batch in idle.chunks(START_BATCH) {
            let (done, more) = self.start_batch(batch).await?;
            started += done;
            if !more {
                break;
            }
        }
        Ok(started)
    }

    /// Starts the next verified job on each printer of `printers` that is still idle, in one
    /// transaction of a fixed number of statements; (prints started, whether verified jobs may
    /// still be waiting).
    async fn start_batch(&self, printers: &[i32]) -> Result<(usize, bool), TransitionError> {
        let mut tx = self.pool.begin().await?;
        // The printer locks serialise starts on one printer across instances and against a
        // concurrent pause; the idleness check runs on a fresh snapshot after them. `NO KEY`:
        // a job given this printer at intake checks its foreign key with a key-share lock on
        // the printer row, which `FOR UPDATE` would block until this batch commits (intake
        // then waited on every start batch under the order benchmark); pauses still conflict.
        let locked: Vec<i32> = sqlx::query_scalar(
            "SELECT id FROM printers WHERE id = ANY($1) AND NOT paused ORDER BY id
             FOR NO KEY UPDATE SKIP LOCKED",
        )
        .bind(printers)
        .fetch_all(&mut *tx)
        .await?;
        let idle: Vec<i32> = sqlx::query_scalar(
            "SELECT p FROM unnest($1::int4[]) WITH ORDINALITY AS t(p, n)
             WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE printer_id = p AND status = 'PRINTING')
             ORDER BY n",
        )
        .bind(&locked)
        .fetch_all(&mut *tx)
        .await?;
        if idle.is_empty() {
            return Ok((0, true));
        }
        let assigned = next_jobs(&mut tx, &idle).await?;
        // Fewer jobs than idle printers: no verified job waits in any queue, and the other idle
        // printers would only look for the same.
        let more = assigned.len() == idle.len();
        // One span per started job, in the job's (the order's) trace; they stay open until the
        // commit, so a failed commit marks every start it undid.
        let spans: Vec<_> = assigned
            .iter()
            .map(|(printer, job)| {
                let mut job = job.clone();
                job.printer_id = Some(*printer);
                step_span(&job, Step::StartPrint, OrderStatus::Printing)
            })
            .collect();
        let changes = assigned
            .iter()
            .zip(&spans)
            .map(|((printer, job), span)| Change {
                job,
                to: OrderStatus::Printing,
                failure: None,
                detail: None,
                printer: Some(*printer),
                parent: span.clone(),
            })
            .collect();
        let outcomes = transition_all(&mut tx, &self.production, changes).await?;
        let started = outcomes.iter().filter(|o| o.is_ok()).count();
        commit(tx, &spans).await?;
        Ok((started, more))
    }

    /// Steps 3-6, until no due phase is left (at most [`FINISH_ROUNDS`] batches a tick, so
    /// printers still get their next job): timed phases that are over move on.
    async fn finish_all_phases(&self) -> Result<usize, TransitionError> {
        let mut moved = 0;
        for _ in 0..FINISH_ROUNDS {
            let (due, done) = self.finish_phases().await?;
            moved += done;
            if due < FINISH_BATCH as usize {
                break;
            }
        }
        Ok(moved)
    }

    /// One batch of steps 3-6: timed phases that are over move on; (jobs due, jobs moved). A print on a paused printer is frozen
    /// (it finishes on the first tick after the resume); in manual QC mode quality checks wait
    /// for an operator.
    async fn finish_phases(&self) -> Result<(usize, usize), TransitionError> {
        let mut tx = self.pool.begin().await?;
        let due = sqlx::query_as::<_, Job>(
            "SELECT j.* FROM jobs j LEFT JOIN printers p ON p.id = j.printer_id
             WHERE j.status IN ('PRINTING', 'POST_PROCESSING', 'QUALITY_CHECK', 'READY')
               AND j.phase_ends_at <= $1
               AND NOT (j.status = 'PRINTING' AND COALESCE(p.paused, false))
               AND NOT (j.status = 'QUALITY_CHECK' AND $2)
             ORDER BY j.phase_ends_at, j.id
             LIMIT $3
             FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(Utc::now())
        .bind(self.production.qc_mode == QcMode::Manual)
        .bind(FINISH_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        // One span per job in the job's (the order's) trace. They stay open until the batch's
        // commit, so a failed commit marks every step it undid.
        let mut spans = Vec::with_capacity(due.len());
        let mut changes = Vec::with_capacity(due.len());
        for job in &due {
            let (to, failure, detail) = self.next_step(job);
            let span = step_span(job, Step::FinishPhase, to);
            spans.push(span.clone());
            changes.push(Change {
                job,
                to,
                failure,
                detail,
                printer: None,
                parent: span,
            });
        }
        let outcomes = transition_all(&mut tx, &self.production, changes).await?;
        let mut moved = 0;
        for ((job, span), outcome) in due.iter().zip(&spans).zip(&outcomes) {
            match outcome {
                Ok(_) => moved += 1,
                // A refused change fails alone: skip the job rather than let it block every
                // other job's progress tick after tick.
                Err(e) => span.in_scope(|| {
                    tracing::error!(order.id = %job.order_id, job.id = %job.id, error = %e, "scheduler skipped a job");
                }),
            }
        }
        commit(tx, &spans).await?;
        Ok((due.len(), moved))
    }

    /// Where a job whose phase is over goes next (rolling the configured failure dice).
    fn next_step(&self, job: &Job) -> (OrderStatus, Option<FailureReason>, Option<String>) {
        match job.status {
            OrderStatus::Printing if self.production.roll_print_failure() => (
                OrderStatus::Failed,
                Some(FailureReason::PrintFailure),
                Some(format!(
                    "print failed on printer {}",
                    job.printer_id.map_or("?".to_owned(), |p| p.to_string())
                )),
            ),
            OrderStatus::Printing => (OrderStatus::PostProcessing, None, None),
            OrderStatus::PostProcessing => (OrderStatus::QualityCheck, None, None),
            OrderStatus::QualityCheck if self.production.roll_qc_reject() => (
                OrderStatus::Failed,
                Some(FailureReason::QcRejected),
                Some("rejected by automatic quality check".to_owned()),
            ),
            OrderStatus::QualityCheck => (OrderStatus::Ready, None, None),
            // Only READY is left among the selected statuses.
            _ => (OrderStatus::Shipped, None, None),
        }
    }
}

/// Calls `step` every `period` until `shutdown`; failures are logged and retried next tick.
async fn every<F, Fut, E>(period: Duration, shutdown: CancellationToken, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // A step is not cancelled half-way: its transaction either commits or rolls back.
        if let Err(e) = step().await {
            tracing::warn!(error = %e, "scheduler step failed; retrying next tick");
        }
    }
}

/// The next verified job for each printer of `idle`, locked, as (printer, job): the oldest of
/// its own queue, otherwise the oldest waiting jobs of any queue, so one long print (or a paused
/// printer) never holds up jobs while printers idle. Printers that find nothing are left out.
/// Two statements for the whole batch: each walks an index (`jobs_printer_status_idx`,
/// `jobs_status_idx`) and stops at the first unlocked rows; a query per printer made starts
/// the scheduler's limit (docs/benchmarks.md).
async fn next_jobs(
    tx: &mut sqlx::PgConnection,
    idle: &[i32],
) -> Result<Vec<(i32, Job)>, sqlx::Error> {
    let own = sqlx::query_as::<_, Job>(
        "SELECT j.* FROM unnest($1::int4[]) AS p(id)
         CROSS JOIN LATERAL (
             SELECT * FROM jobs
             WHERE printer_id = p.id AND status = 'ACCEPTED' AND model_verified
             ORDER BY created_at, id LIMIT 1
             FOR UPDATE SKIP LOCKED) j",
    )
    .bind(idle)
    .fetch_all(&mut *tx)
    .await?;
    let mut assigned: Vec<(i32, Job)> = own
        .into_iter()
        .filter_map(|job| job.printer_id.map(|p| (p, job)))
        .collect();
    let without: Vec<i32> = idle
        .iter()
        .copied()
        .filter(|p| !assigned.iter().any(|(q, _)| q == p))
        .collect();
    if without.is_empty() {
        return Ok(assigned);
    }
    // Rows this transaction locked above are not skipped by SKIP LOCKED: leave them out.
    let taken: Vec<uuid::Uuid> = assigned.iter().map(|(_, job)| job.id).collect();
    let others = sqlx::query_as::<_, Job>(
        "SELECT * FROM jobs
         WHERE status = 'ACCEPTED' AND model_verified AND id <> ALL($1)
         ORDER BY created_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(&taken)
    .bind(i64::try_from(without.len()).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    assigned.extend(without.into_iter().zip(others));
    Ok(assigned)
}

/// Commits a batch; a failed commit marks the span of every step it undid.
async fn commit(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    spans: &[tracing::Span],
) -> Result<(), TransitionError> {
    if let Err(e) = tx.commit().await {
        let e = TransitionError::from(e);
        for span in spans {
            printflow_telemetry::record_error(span, e.error_type(), &e.to_string());
        }
        return Err(e);
    }
    Ok(())
}
