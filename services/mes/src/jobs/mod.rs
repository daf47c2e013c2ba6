//! Production jobs: one per order, moved through the order state machine by the scheduler and by
//! operators, always through [`transition::transition`].

pub mod cancel;
pub mod intake;
pub mod queries;
pub mod trace_context;
pub mod transition;
pub mod verify;

use crate::jobs::trace_context::TraceContext;
use chrono::{DateTime, Utc};
use printflow_contracts::{OrderStatus, PrintSpec};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};
use uuid::Uuid;

/// A job row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Job id.
    pub id: Uuid,
    /// The order it produces (unique).
    pub order_id: Uuid,
    /// What to print, as validated at intake (SHA-256 lower-case hex; the print time is in
    /// simulated seconds). Flattened: the HTTP representation keeps its top-level fields.
    #[serde(flatten)]
    pub spec: PrintSpec,
    /// Delivery choice (`standard`, `express`, `pickup`).
    pub shipping: String,
    /// Current status.
    pub status: OrderStatus,
    /// Last sequence published for the order.
    pub sequence: i64,
    /// Printer whose queue the job is in.
    pub printer_id: Option<i32>,
    /// The model file was fetched and matched.
    pub model_verified: bool,
    /// Earliest next model fetch.
    pub next_check_at: DateTime<Utc>,
    /// Consecutive failures to reach Shop for the model.
    pub model_fetch_failures: i32,
    /// Why the last model fetch could not reach Shop.
    pub model_fetch_error: Option<String>,
    /// When the current status was entered.
    pub phase_started_at: DateTime<Utc>,
    /// When the current timed phase is over.
    pub phase_ends_at: Option<DateTime<Utc>>,
    /// Why it failed, when `FAILED` (`bad_model`, `checksum_mismatch`, ...).
    pub failure_reason: Option<String>,
    /// Detail of the last transition (failure message, operator note).
    pub detail: Option<String>,
    /// Production attempts (1 + retries).
    pub attempts: i32,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The order's trace (W3C propagation headers of the span that accepted the job); every
    /// later step of the job continues it. Internal: not part of the HTTP representation.
    #[serde(skip)]
    pub trace_context: TraceContext,
}

/// A status column that does not hold an [`OrderStatus`]; only a bug or manual edit causes it.
fn status_column(row: &PgRow, column: &str) -> Result<OrderStatus, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    })
}

impl<'r> FromRow<'r, PgRow> for Job {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Job {
            id: row.try_get("id")?,
            order_id: row.try_get("order_id")?,
            spec: PrintSpec {
                design_id: row.try_get("design_id")?,
                design_version: row.try_get("design_version")?,
                model_sha256: row.try_get("model_sha256")?,
                model_size_bytes: row.try_get("model_size_bytes")?,
                estimated_print_seconds: row.try_get("estimated_print_seconds")?,
                material: row.try_get("material")?,
                quantity: row.try_get("quantity")?,
            },
            shipping: row.try_get("shipping")?,
            status: status_column(row, "status")?,
            sequence: row.try_get("sequence")?,
            printer_id: row.try_get("printer_id")?,
            model_verified: row.try_get("model_verified")?,
            next_check_at: row.try_get("next_check_at")?,
            model_fetch_failures: row.try_get("model_fetch_failures")?,
            model_fetch_error: row.try_get("model_fetch_error")?,
            phase_started_at: row.try_get("phase_started_at")?,
            phase_ends_at: row.try_get("phase_ends_at")?,
            failure_reason: row.try_get("failure_reason")?,
            detail: row.try_get("detail")?,
            attempts: row.try_get("attempts")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            trace_context: trace_context::from_column(row.try_get("trace_context")?),
        })
    }
}

/// One entry of a job's history: exactly the status change published with `sequence`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEvent {
    /// The order's event sequence.
    pub sequence: i64,
    /// Status before.
    pub from_status: OrderStatus,
    /// Status after.
    pub to_status: OrderStatus,
    /// Failure reason for `FAILED`.
    pub failure_reason: Option<String>,
    /// Failure message or operator note.
    pub detail: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl<'r> FromRow<'r, PgRow> for JobEvent {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(JobEvent {
            sequence: row.try_get("sequence")?,
            from_status: status_column(row, "from_status")?,
            to_status: status_column(row, "to_status")?,
            failure_reason: row.try_get("failure_reason")?,
            detail: row.try_get("detail")?,
            at: row.try_get("at")?,
        })
    }
}

/// Locks and reads one job in the caller's transaction (waits for other holders).
pub async fn lock_job(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>("SELECT * FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A plausible job for unit tests: verified nothing yet, `ACCEPTED` on printer 1.
#[cfg(test)]
pub(crate) fn sample_job() -> Job {
    let now = Utc::now();
    Job {
        id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        spec: PrintSpec {
            design_id: Uuid::now_v7(),
            design_version: 1,
            model_sha256: "0".repeat(64),
            model_size_bytes: 134,
            estimated_print_seconds: 10,
            material: "PLA".into(),
            quantity: 1,
        },
        shipping: "standard".into(),
        status: OrderStatus::Accepted,
        sequence: 1,
        printer_id: Some(1),
        model_verified: false,
        next_check_at: now,
        model_fetch_failures: 0,
        model_fetch_error: None,
        phase_started_at: now,
        phase_ends_at: None,
        failure_reason: None,
        detail: None,
        attempts: 1,
        created_at: now,
        updated_at: now,
        trace_context: Default::default(),
    }
}

/// Serialises, until `tx` ends, the intake of an order's `order.created` and of its
/// `order.cancelled`. Without it, two consumers (of one instance or of two) could each miss the
/// other's uncommitted row: intake inserts the job while the cancellation finds no job and
/// leaves a note intake already looked for, and the job would be printed though cancelled.
pub(crate) async fn lock_order(
    tx: &mut sqlx::PgConnection,
    order_id: Uuid,
) -> Result<(), sqlx::Error> {
    // The lock's key is the order id folded to 64 bits; a rare collision only makes two
    // unrelated orders wait for each other.
    let (high, low) = order_id.as_u64_pair();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind((high ^ low).cast_signed())
        .execute(tx)
        .await?;
    Ok(())
}
