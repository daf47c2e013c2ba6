//! Reads of one order: the order, its status, its history and the inbox of MES events received
//! for it. Every read runs under the query timeout (seed point 8) and reads the `orders` row or
//! tables written in the same transaction as it, so answers never contradict each other.

use super::{as_attribute, parse_status, traced, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use crate::status_events::EventOutcome;
use chrono::{DateTime, SecondsFormat, Utc};
use printflow_contracts::orders::{OrderView, StatusHistoryEntry, StatusView};
use printflow_contracts::{FailureReason, OrderStatus};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tracing::field::Empty;
use uuid::Uuid;

/// Most inbox entries `GET /orders/{id}/events` returns (oldest sequences first).
pub const MAX_EVENT_ENTRIES: i64 = 1000;

/// `GET /orders/{id}`. Span `order.get`: `order.id`, and the `order.status` returned.
#[tracing::instrument(
    name = "order.get",
    skip_all,
    fields(order.id = %order_id, order.status = Empty, error.type = Empty)
)]
pub async fn get_order(db: &Db, order_id: Uuid) -> Result<OrderView, OrderError> {
    let result = traced(load_order(db, order_id).await);
    if let Ok(view) = &result {
        tracing::Span::current().record("order.status", view.status.as_str());
    }
    result
}

/// `GET /orders/{id}/status`, from the `orders` row (the single source of truth).
///
/// Span `order.status.get`: `order.id` and the status it returned: `order.status`,
/// `order.status_version`, `order.status.since` (RFC 3339, as in the body) and, while `FAILED`,
/// `order.failure_reason` (the code; free text is recorded as `other`).
#[tracing::instrument(
    name = "order.status.get",
    skip_all,
    fields(
        order.id = %order_id,
        order.status = Empty,
        order.status_version = Empty,
        order.status.since = Empty,
        order.failure_reason = Empty,
        error.type = Empty,
    )
)]
pub async fn get_status(db: &Db, order_id: Uuid) -> Result<StatusView, OrderError> {
    let result = traced(load_order(db, order_id).await);
    let view = result?;
    let span = tracing::Span::current();
    span.record("order.status", view.status.as_str());
    span.record("order.status_version", view.status_version);
    span.record(
        "order.status.since",
        view.status_since
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
            .as_str(),
    );
    if let Some(reason) = &view.failure_reason {
        span.record("order.failure_reason", failure_code(reason));
    }
    Ok(StatusView {
        order_id: view.order_id,
        status: view.status,
        status_version: view.status_version,
        since: view.status_since,
        failure_reason: view.failure_reason,
    })
}

/// The order, read under the query timeout (one statement on [`Db::timed`]).
async fn load_order(db: &Db, order_id: Uuid) -> Result<OrderView, OrderError> {
    let mut conn = db.timed.acquire().await?;
    let row = fetch_order(&mut conn, order_id).await?;
    row.into_view()
}

/// A failure reason as a span attribute: one of the contract's codes, or `other` for the free
/// text MES sends when it has no code (an operator's note does not belong in a trace).
pub(crate) fn failure_code(reason: &str) -> &'static str {
    [
        FailureReason::BadModel,
        FailureReason::ChecksumMismatch,
        FailureReason::PrintFailure,
        FailureReason::QcRejected,
    ]
    .into_iter()
    .map(FailureReason::as_str)
    .find(|code| *code == reason)
    .unwrap_or("other")
}

/// Body of `GET /orders/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    /// The order.
    pub order_id: Uuid,
    /// Every status change, oldest first (ordered by `status_version`).
    pub entries: Vec<StatusHistoryEntry>,
    /// Every repair an admin made after the reconciler reported the order, oldest first.
    #[serde(default)]
    pub repairs: Vec<RepairEntry>,
}

/// One repair of an order (`POST /orders/{id}/repair`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RepairEntry {
    /// The disagreement repaired.
    pub kind: String,
    /// What was done.
    pub action: String,
    /// What it did, in a sentence.
    pub detail: String,
    /// The admin who asked.
    pub repaired_by: String,
    /// When.
    pub repaired_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    from_status: Option<String>,
    to_status: String,
    status_version: i64,
    source_sequence: Option<i64>,
    source: String,
    detail: Option<String>,
    changed_at: DateTime<Utc>,
}

/// `GET /orders/{id}/history`. Span `order.history.get`: `order.id`, the current `order.status`
/// and `order.history.entries` (how many were returned).
#[tracing::instrument(
    name = "order.history.get",
    skip_all,
    fields(
        order.id = %order_id,
        order.status = Empty,
        order.history.entries = Empty,
        error.type = Empty,
    )
)]
pub async fn get_history(db: &Db, order_id: Uuid) -> Result<HistoryView, OrderError> {
    let result = traced(load_history(db, order_id).await);
    if let Ok((status, view)) = &result {
        let span = tracing::Span::current();
        span.record("order.status", status.as_str());
        span.record("order.history.entries", as_attribute(view.entries.len()));
    }
    result.map(|(_, view)| view)
}

/// The order's current status and its history, read in one snapshot.
async fn load_history(db: &Db, order_id: Uuid) -> Result<(OrderStatus, HistoryView), OrderError> {
    let mut tx = db.begin_snapshot().await?;
    let status = current_status(&mut tx, order_id).await?;
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT from_status, to_status, status_version, source_sequence, source, detail, changed_at
         FROM order_status_history WHERE order_id = $1 ORDER BY status_version",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    let repairs: Vec<RepairEntry> = sqlx::query_as(
        "SELECT kind, action, detail, repaired_by, repaired_at FROM order_repairs
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let entries = rows
        .into_iter()
        .map(|r| {
            Ok(StatusHistoryEntry {
                from_status: r.from_status.as_deref().map(parse_status).transpose()?,
                to_status: parse_status(&r.to_status)?,
                status_version: r.status_version,
                source_sequence: r.source_sequence,
                source: r.source,
                detail: r.detail,
                changed_at: r.changed_at,
            })
        })
        .collect::<Result<_, OrderError>>()?;
    Ok((
        status,
        HistoryView {
            order_id,
            entries,
            repairs,
        },
    ))
}

/// One received MES status event, as `GET /orders/{id}/events` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// The producer's per-order sequence.
    pub sequence: i64,
    /// The envelope's message id.
    pub message_id: Uuid,
    /// The status the event announced.
    pub status: String,
    /// What CRM did with it.
    pub outcome: EventOutcome,
    /// Why (for `rejected`, `duplicate`, `stale`).
    pub reason: Option<String>,
    /// When CRM received it.
    pub received_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    sequence: i64,
    message_id: Uuid,
    status: String,
    outcome: String,
    reason: Option<String>,
    received_at: DateTime<Utc>,
}

/// Body of `GET /orders/{id}/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsView {
    /// The order.
    pub order_id: Uuid,
    /// The highest MES sequence processed so far (0 before the first).
    pub last_applied_sequence: i64,
    /// Every delivery, by sequence and then arrival; repeats of a sequence follow its first
    /// receipt.
    pub events: Vec<InboxEntry>,
}

/// `GET /orders/{id}/events`. Span `order.events.get`: `order.id`,
/// `order.status.last_applied_sequence` and `order.events.entries` (how many were returned).
#[tracing::instrument(
    name = "order.events.get",
    skip_all,
    fields(
        order.id = %order_id,
        order.status.last_applied_sequence = Empty,
        order.events.entries = Empty,
        error.type = Empty,
    )
)]
pub async fn get_events(db: &Db, order_id: Uuid) -> Result<EventsView, OrderError> {
    let result = traced(load_events(db, order_id).await);
    if let Ok(view) = &result {
        let span = tracing::Span::current();
        span.record(
            "order.status.last_applied_sequence",
            view.last_applied_sequence,
        );
        span.record("order.events.entries", as_attribute(view.events.len()));
    }
    result
}

/// The inbox entries of one order, read in one snapshot (so the last applied sequence and the
/// entries agree).
async fn load_events(db: &Db, order_id: Uuid) -> Result<EventsView, OrderError> {
    let mut tx = db.begin_snapshot().await?;
    let last_applied_sequence: Option<i64> =
        sqlx::query_scalar("SELECT last_source_sequence FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let last_applied_sequence = last_applied_sequence.ok_or(OrderError::NotFound(order_id))?;
    let rows: Vec<InboxRow> = sqlx::query_as(
        "SELECT sequence, message_id, status, outcome, reason, received_at FROM (
             SELECT sequence, message_id, status, outcome, reason, received_at, 0 AS kind, 0::bigint AS n
             FROM status_events WHERE order_id = $1
             UNION ALL
             SELECT sequence, message_id, status, outcome, reason, received_at, 1 AS kind, id AS n
             FROM status_event_repeats WHERE order_id = $1
         ) AS received
         ORDER BY sequence, kind, n
         LIMIT $2",
    )
    .bind(order_id)
    .bind(MAX_EVENT_ENTRIES)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let events = rows
        .into_iter()
        .map(|r| {
            Ok(InboxEntry {
                sequence: r.sequence,
                message_id: r.message_id,
                status: r.status,
                outcome: r.outcome.parse().map_err(OrderError::Corrupt)?,
                reason: r.reason,
                received_at: r.received_at,
            })
        })
        .collect::<Result<_, OrderError>>()?;
    Ok(EventsView {
        order_id,
        last_applied_sequence,
        events,
    })
}

/// The order row, or [`OrderError::NotFound`].
pub(crate) async fn fetch_order(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<OrderRow, OrderError> {
    sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
        .bind(order_id)
        .fetch_optional(conn)
        .await?
        .ok_or(OrderError::NotFound(order_id))
}

/// The order's current status, or [`OrderError::NotFound`].
async fn current_status(
    conn: &mut PgConnection,
    order_id: Uuid,
) -> Result<OrderStatus, OrderError> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await?;
    parse_status(&status.ok_or(OrderError::NotFound(order_id))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_pass_free_text_does_not() {
        assert_eq!(failure_code("print_failure"), "print_failure");
        assert_eq!(failure_code("qc_rejected"), "qc_rejected");
        assert_eq!(failure_code("nozzle clogged, called Ms Smith"), "other");
    }
}
