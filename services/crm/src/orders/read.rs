//! Reads of one order: the order, its status, its history and the inbox of MES events received
//! for it. Every read runs under the query timeout (seed point 8) and reads the `orders` row or
//! tables written in the same transaction as it, so answers never contradict each other.

use super::{parse_status, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use crate::status_events::EventOutcome;
use chrono::{DateTime, Utc};
use printflow_contracts::orders::{OrderView, StatusHistoryEntry, StatusView};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// Most inbox entries `GET /orders/{id}/events` returns (oldest sequences first).
pub const MAX_EVENT_ENTRIES: i64 = 1000;

/// `GET /orders/{id}`.
#[tracing::instrument(skip_all, fields(order.id = %order_id))]
pub async fn get_order(db: &Db, order_id: Uuid) -> Result<OrderView, OrderError> {
    let mut tx = db.begin().await?;
    let row = fetch_order(&mut tx, order_id).await?;
    tx.commit().await?;
    row.into_view()
}

/// `GET /orders/{id}/status`, from the `orders` row (the single source of truth).
#[tracing::instrument(skip_all, fields(order.id = %order_id, order.status = tracing::field::Empty))]
pub async fn get_status(db: &Db, order_id: Uuid) -> Result<StatusView, OrderError> {
    let view = get_order(db, order_id).await?;
    tracing::Span::current().record("order.status", view.status.as_str());
    Ok(StatusView {
        order_id: view.order_id,
        status: view.status,
        status_version: view.status_version,
        since: view.status_since,
        failure_reason: view.failure_reason,
    })
}

/// Body of `GET /orders/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    /// The order.
    pub order_id: Uuid,
    /// Every status change, oldest first (ordered by `status_version`).
    pub entries: Vec<StatusHistoryEntry>,
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

/// `GET /orders/{id}/history`.
#[tracing::instrument(skip_all, fields(order.id = %order_id))]
pub async fn get_history(db: &Db, order_id: Uuid) -> Result<HistoryView, OrderError> {
    let mut tx = db.begin().await?;
    ensure_exists(&mut tx, order_id).await?;
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT from_status, to_status, status_version, source_sequence, source, detail, changed_at
         FROM order_status_history WHERE order_id = $1 ORDER BY status_version",
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
    Ok(HistoryView { order_id, entries })
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

/// `GET /orders/{id}/events`.
#[tracing::instrument(skip_all, fields(order.id = %order_id))]
pub async fn get_events(db: &Db, order_id: Uuid) -> Result<EventsView, OrderError> {
    let mut tx = db.begin().await?;
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

async fn ensure_exists(conn: &mut PgConnection, order_id: Uuid) -> Result<(), OrderError> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)")
        .bind(order_id)
        .fetch_one(conn)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(OrderError::NotFound(order_id))
    }
}
