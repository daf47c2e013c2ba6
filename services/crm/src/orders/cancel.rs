//! `POST /orders/{id}/cancel`: allowed only while the order has not reached a printer; MES is
//! told through the outbox (`order.cancelled`) and stops the job.

use super::{parse_status, traced, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::status_trace::StatusChange;
use chrono::{DateTime, Utc};
use printflow_contracts::orders::OrderView;
use printflow_contracts::{Envelope, OrderCancelled, OrderStatus};
use printflow_messaging::{outbox, OutboxSignal};
use tracing::field::Empty;
use uuid::Uuid;

/// Cancels the order if [`OrderStatus::is_cancellable`] allows it, with a history entry and an
/// `order.cancelled` event for MES in the same transaction (so production hears of every
/// cancellation, however the broker fares).
///
/// The row is locked first, so a cancel and a concurrent MES status event are serialised: the
/// event then sees `CANCELLED` and is rejected as an illegal transition (or the cancel sees the
/// new status and is refused).
///
/// Span `order.cancel`: `order.id`, and `order.status` after the request. A cancellation emits
/// `order.status.changed` (source `crm`, no sequence); a refusal (409) emits
/// `order.cancel.refused` with `order.status` and `order.cancel.refusal_reason` and leaves the
/// span OK, as the client's mistake it is. A cancellation is observed in `metrics` like any
/// status change (time spent in the status left).
#[tracing::instrument(
    name = "order.cancel",
    skip_all,
    fields(order.id = %order_id, order.status = Empty, error.type = Empty)
)]
pub async fn cancel_order(
    db: &Db,
    signal: &OutboxSignal,
    metrics: &CrmMetrics,
    order_id: Uuid,
) -> Result<OrderView, OrderError> {
    let result = traced(cancel_in_transaction(db, order_id).await);
    if result.is_ok() {
        signal.wake();
    }
    let span = tracing::Span::current();
    match &result {
        Ok((view, change)) => {
            span.record("order.status", view.status.as_str());
            change.emit();
            metrics.status_changed(change);
        }
        Err(err @ OrderError::NotCancellable { status, .. }) => {
            span.record("order.status", status.as_str());
            tracing::info!(
                order.id = %order_id,
                order.status = status.as_str(),
                order.cancel.refusal_reason = %err,
                "order.cancel.refused"
            );
        }
        Err(_) => {}
    }
    result.map(|(view, _)| view)
}

/// The transaction of [`cancel_order`]: the new view and the change to report once committed.
async fn cancel_in_transaction(
    db: &Db,
    order_id: Uuid,
) -> Result<(OrderView, StatusChange), OrderError> {
    let mut tx = db.begin().await?;
    let current: Option<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT status, status_since FROM orders WHERE id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (current, from_since) = current.ok_or(OrderError::NotFound(order_id))?;
    let current = parse_status(&current)?;
    if !current.is_cancellable() {
        return Err(OrderError::NotCancellable {
            order_id,
            status: current,
        });
    }
    let row: OrderRow = sqlx::query_as(&format!(
        "UPDATE orders SET status = $2, status_version = status_version + 1,
             status_since = now(), failure_reason = NULL
         WHERE id = $1 RETURNING {ORDER_COLUMNS}"
    ))
    .bind(order_id)
    .bind(OrderStatus::Cancelled.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO order_status_history
             (order_id, from_status, to_status, status_version, source, detail, changed_at)
         VALUES ($1, $2, $3, $4, 'crm', 'cancelled on request', $5)",
    )
    .bind(order_id)
    .bind(current.as_str())
    .bind(OrderStatus::Cancelled.as_str())
    .bind(row.status_version)
    .bind(row.status_since)
    .execute(&mut *tx)
    .await?;
    let event = Envelope::new(OrderCancelled {
        order_id,
        cancelled_at: row.status_since,
    });
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    let change = StatusChange {
        order_id,
        from: current,
        to: OrderStatus::Cancelled,
        sequence: None,
        version: row.status_version,
        source: "crm".to_owned(),
        from_since,
        at: row.status_since,
        created_at: row.created_at,
    };
    Ok((row.into_view()?, change))
}
