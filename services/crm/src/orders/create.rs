//! `POST /orders`: one transaction writes the customer, the order, its first history entry and
//! the `order.created` event (transactional outbox), so the event can never be lost once the
//! order exists, nor exist without the order (seed point 5).

use super::validate::validate_order;
use super::{traced, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use printflow_contracts::messages::{Envelope, OrderCreated};
use printflow_contracts::orders::{CreateOrderRequest, CustomerInput, OrderView};
use printflow_contracts::OrderStatus;
use printflow_messaging::outbox;
use printflow_messaging::OutboxSignal;
use sqlx::PgConnection;
use tracing::field::Empty;
use uuid::Uuid;

/// What `POST /orders` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The order is new (201); its event is in the outbox.
    New(OrderView),
    /// The same order already existed: a retry (200, no second event).
    Existing(OrderView),
}

/// Validates and records `req`, idempotently on `req.order_id`.
///
/// Span `order.create`: `order.id`, `design.id`, `design.version`, `order.quantity` from the
/// request, then `customer.id` (an id; the customer's personal data never enters a span) and
/// `order.created` (`false` for a repeat). The outbox row is written inside this span, so the
/// relay's PRODUCER span for `order.created` continues this trace.
#[tracing::instrument(
    name = "order.create",
    skip_all,
    fields(
        order.id = %req.order_id,
        design.id = %req.spec.design_id,
        design.version = req.spec.design_version,
        order.quantity = req.spec.quantity,
        customer.id = Empty,
        order.created = Empty,
        error.type = Empty,
    )
)]
pub async fn create_order(
    db: &Db,
    signal: &OutboxSignal,
    req: CreateOrderRequest,
) -> Result<Created, OrderError> {
    let result = traced(record_order(db, signal, req).await);
    let span = tracing::Span::current();
    let (customer_id, created) = match &result {
        Ok(Created::New(view)) => (Some(view.customer_id), Some(true)),
        Ok(Created::Existing(view)) => (Some(view.customer_id), Some(false)),
        Err(OrderError::IdConflict { .. }) => (None, Some(false)),
        Err(_) => (None, None),
    };
    if let Some(id) = customer_id {
        span.record("customer.id", tracing::field::display(id));
    }
    if let Some(created) = created {
        span.record("order.created", created);
    }
    result
}

/// The work of [`create_order`], in its span.
async fn record_order(
    db: &Db,
    signal: &OutboxSignal,
    req: CreateOrderRequest,
) -> Result<Created, OrderError> {
    let req = validate_order(req)?;
    let mut tx = db.begin().await?;
    let customer_id = upsert_customer(&mut tx, &req.customer).await?;
    // DO NOTHING (rather than a pre-check) also covers two concurrent retries: the second waits
    // for the first to commit and then sees the conflict.
    let inserted: Option<OrderRow> = sqlx::query_as(&format!(
        "INSERT INTO orders (id, customer_id, design_id, design_version, model_sha256,
             model_size_bytes, estimated_print_seconds, material, quantity, shipping,
             total_price_cents, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO NOTHING
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind(req.order_id)
    .bind(customer_id)
    .bind(req.spec.design_id)
    .bind(req.spec.design_version)
    .bind(&req.spec.model_sha256)
    .bind(req.spec.model_size_bytes)
    .bind(req.spec.estimated_print_seconds)
    .bind(&req.spec.material)
    .bind(req.spec.quantity)
    .bind(req.shipping.as_str())
    .bind(req.total_price_cents)
    .bind(OrderStatus::New.as_str())
    .fetch_optional(&mut *tx)
    .await?;

    let Some(row) = inserted else {
        // A retry (or a clash): leave the customer as it was and answer with what exists.
        tx.rollback().await?;
        return existing_order(db, &req).await;
    };

    sqlx::query(
        "INSERT INTO order_status_history
             (order_id, from_status, to_status, status_version, source, detail, changed_at)
         VALUES ($1, NULL, $2, $3, 'crm', 'order created', $4)",
    )
    .bind(row.id)
    .bind(OrderStatus::New.as_str())
    .bind(row.status_version)
    .bind(row.created_at)
    .execute(&mut *tx)
    .await?;

    // Ids only: personal data never leaves CRM.
    let event = Envelope::new(OrderCreated {
        order_id: req.order_id,
        customer_id,
        spec: req.spec.clone(),
        shipping: req.shipping,
    });
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    signal.wake();
    tracing::info!(
        messaging.message.id = %event.message_id,
        "order.created.enqueued"
    );
    Ok(Created::New(row.into_view()?))
}

/// Inserts the customer or, matched on e-mail (case-insensitive), updates the name and (when
/// given) the phone. Returns the customer id.
async fn upsert_customer(conn: &mut PgConnection, c: &CustomerInput) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO customers (id, name, email, phone) VALUES ($1, $2, $3, $4)
         ON CONFLICT ((lower(email))) DO UPDATE
             SET name = EXCLUDED.name, phone = COALESCE(EXCLUDED.phone, customers.phone)
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .fetch_one(conn)
    .await
}

/// The order already stored under `req.order_id`: the same order (a retry) or a conflict.
async fn existing_order(db: &Db, req: &CreateOrderRequest) -> Result<Created, OrderError> {
    let mut tx = db.begin().await?;
    let row: Option<OrderRow> =
        sqlx::query_as(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
            .bind(req.order_id)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    // The insert conflicted, so the row exists unless it was deleted in between (we never do).
    let row = row.ok_or(OrderError::NotFound(req.order_id))?;
    let differs = if row.design_id != req.spec.design_id {
        Some("design_id")
    } else if row.design_version != req.spec.design_version {
        Some("design_version")
    } else if row.quantity != req.spec.quantity {
        Some("quantity")
    } else {
        None
    };
    match differs {
        Some(field) => {
            // The order id was reused with different content.
            tracing::warn!(
                order.create.conflicting_field = field,
                "order.create.conflict"
            );
            Err(OrderError::IdConflict {
                order_id: req.order_id,
                field,
            })
        }
        None => {
            // A retry, answered with the existing order.
            tracing::info!("order.create.repeated");
            Ok(Created::Existing(row.into_view()?))
        }
    }
}
