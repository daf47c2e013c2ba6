//! The printer farm: creation at start-up, queue assignment, pause/resume and the views the
//! operator endpoints show.

use crate::assignment::QUEUED;
use crate::jobs::trace_context::printer_state_span;
use crate::jobs::Job;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A printer row.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct Printer {
    /// Printer id.
    pub id: i32,
    /// `printer-N`.
    pub name: String,
    /// Paused printers start nothing and freeze their current print.
    pub paused: bool,
    /// Since when it is paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A job on a printer, as shown in its queue.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct QueueEntry {
    /// Job id.
    pub job_id: Uuid,
    /// Its order.
    pub order_id: Uuid,
    /// `PRINTING` or `ACCEPTED`.
    pub status: String,
    /// The printer (not serialised; used to group).
    #[serde(skip)]
    pub printer_id: i32,
}

/// The job a printer is printing now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurrentJob {
    /// Job id.
    pub job_id: Uuid,
    /// Its order.
    pub order_id: Uuid,
}

/// A printer with its workload, as `GET /printers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrinterView {
    /// Printer id.
    pub id: i32,
    /// `printer-N`.
    pub name: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Since when.
    pub paused_at: Option<DateTime<Utc>>,
    /// The job it is printing, if any.
    pub current_job: Option<CurrentJob>,
    /// Its unfinished jobs in the order they run: the printing one first, then the waiting
    /// (`ACCEPTED`) ones oldest first.
    pub queue: Vec<QueueEntry>,
    /// `queue.len()`; what new jobs are balanced on.
    pub queue_length: usize,
}

/// Creates `printer-1..=count` where missing.
pub async fn ensure_printers(pool: &PgPool, count: u32) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO printers (name)
         SELECT 'printer-' || n FROM generate_series(1, $1) AS n
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(i32::try_from(count).unwrap_or(i32::MAX))
    .execute(pool)
    .await
    .map(|_| ())
}

/// Every printer with its queue.
pub async fn list(pool: &PgPool) -> Result<Vec<PrinterView>, sqlx::Error> {
    let printers = sqlx::query_as::<_, Printer>("SELECT * FROM printers ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut queues = queues(pool, None).await?;
    Ok(printers
        .into_iter()
        .map(|p| {
            let queue = queues.remove(&p.id).unwrap_or_default();
            view(p, queue)
        })
        .collect())
}

/// One printer with its queue.
pub async fn get(pool: &PgPool, id: i32) -> Result<Option<PrinterView>, sqlx::Error> {
    let Some(printer) = sqlx::query_as::<_, Printer>("SELECT * FROM printers WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let queue = queues(pool, Some(id))
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Some(view(printer, queue)))
}

/// Pauses or resumes a printer; idempotent (pausing a paused printer keeps its `paused_at`).
/// Returns whether the printer exists.
///
/// The job the printer is printing is frozen by a pause and thawed by a resume, so the order's
/// trace gets a `job printer paused` / `job printer resumed` span, linked with this request.
#[tracing::instrument(
    name = "mes.operator.set_paused",
    skip_all,
    fields(
        otel.name = if paused { "operator pause printer" } else { "operator resume printer" },
        printer.id = id,
        printer.paused = paused,
        job.id = tracing::field::Empty,
        order.id = tracing::field::Empty,
    )
)]
pub async fn set_paused(pool: &PgPool, id: i32, paused: bool) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE printers SET
             paused = $2,
             paused_at = CASE WHEN $2 THEN COALESCE(paused_at, now()) ELSE NULL END
         WHERE id = $1",
    )
    .bind(id)
    .bind(paused)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    tracing::info!(paused, "printer state set");
    let printing = sqlx::query_as::<_, Job>(
        "SELECT * FROM jobs WHERE printer_id = $1 AND status = 'PRINTING'",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    if let Some(job) = printing {
        let request = tracing::Span::current();
        request.record("job.id", tracing::field::display(job.id));
        request.record("order.id", tracing::field::display(job.order_id));
        // Ends at once: it marks the moment in the order's trace.
        drop(printer_state_span(&job, id, paused));
    }
    Ok(true)
}

async fn queues(
    pool: &PgPool,
    printer: Option<i32>,
) -> Result<BTreeMap<i32, Vec<QueueEntry>>, sqlx::Error> {
    let entries = sqlx::query_as::<_, QueueEntry>(&format!(
        "SELECT id AS job_id, order_id, status, printer_id FROM jobs
         WHERE printer_id IS NOT NULL AND status IN {QUEUED}
           AND ($1::int IS NULL OR printer_id = $1)
         ORDER BY printer_id, status = 'PRINTING' DESC, created_at, id"
    ))
    .bind(printer)
    .fetch_all(pool)
    .await?;
    let mut by_printer: BTreeMap<i32, Vec<QueueEntry>> = BTreeMap::new();
    for e in entries {
        by_printer.entry(e.printer_id).or_default().push(e);
    }
    Ok(by_printer)
}

fn view(p: Printer, queue: Vec<QueueEntry>) -> PrinterView {
    let current_job = queue
        .iter()
        .find(|e| e.status == "PRINTING")
        .map(|e| CurrentJob {
            job_id: e.job_id,
            order_id: e.order_id,
        });
    PrinterView {
        id: p.id,
        name: p.name,
        paused: p.paused,
        paused_at: p.paused_at,
        current_job,
        queue_length: queue.len(),
        queue,
    }
}
