//! `POST /orders/{id}/cancel`: allowed only while the order has not reached a printer.

use super::{parse_status, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use printflow_contracts::orders::OrderView;
use printflow_contracts::OrderStatus;
use uuid::Uuid;

/// Cancels the order if [`OrderStatus::is_cancellable`] allows it, with a history entry.
///
/// The row is locked first, so a cancel and a concurrent MES status event are serialised: the
/// event then sees `CANCELLED` and is rejected as an illegal transition (or the cancel sees the
/// new status and is refused).
#[tracing::instrument(skip_all, fields(order.id = %order_id))]
pub async fn cancel_order(db: &Db, order_id: Uuid) -> Result<OrderView, OrderError> {
    let mut tx = db.begin().await?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM orders WHERE id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let current = parse_status(&current.ok_or(OrderError::NotFound(order_id))?)?;
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
    tx.commit().await?;
    tracing::info!(from = %current, "order cancelled");
    row.into_view()
}
