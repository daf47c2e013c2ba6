//! Orders: creation, reads, listing and cancellation. The `orders` row is the single source of
//! truth for an order's status; every change to it writes a history entry in the same
//! transaction.

pub mod cancel;
pub mod create;
pub mod list;
pub mod read;
pub mod validate;

use chrono::{DateTime, Utc};
use printflow_contracts::messages::Shipping;
use printflow_contracts::orders::OrderView;
use printflow_contracts::OrderStatus;
use printflow_web::ApiError;
use uuid::Uuid;

pub use validate::FieldError;

/// Why an order operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// A well-formed request with an unacceptable value.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// No order has this id.
    #[error("order {0} does not exist")]
    NotFound(Uuid),
    /// The order id is taken by an order with other content (not a retry of the same order).
    #[error("order {order_id} already exists with a different {field}")]
    IdConflict {
        /// The contested id.
        order_id: Uuid,
        /// The first field that differs.
        field: &'static str,
    },
    /// The order is past the point where it may be cancelled.
    #[error("order {order_id} is {status}; only NEW or ACCEPTED orders can be cancelled")]
    NotCancellable {
        /// The order.
        order_id: Uuid,
        /// Its current status.
        status: OrderStatus,
    },
    /// A row broke an invariant the schema should guarantee (a bug, not the client's fault).
    #[error("corrupt order row: {0}")]
    Corrupt(String),
    /// The database failed or timed out.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::Invalid(e) => e.into(),
            OrderError::NotFound(id) => ApiError::not_found("order", id),
            e @ OrderError::IdConflict { .. } => {
                ApiError::conflict("order_id_conflict", e.to_string())
            }
            e @ OrderError::NotCancellable { .. } => {
                ApiError::conflict("cancellation_not_allowed", e.to_string())
            }
            OrderError::Corrupt(msg) => ApiError::internal(msg),
            OrderError::Database(e) => e.into(),
        }
    }
}

impl OrderError {
    /// The `error.type` of a failure that is CRM's fault (database trouble, a corrupt row);
    /// `None` for a client's mistake (4xx), which leaves the span OK: the SERVER span already
    /// carries the status code.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            OrderError::Invalid(_)
            | OrderError::NotFound(_)
            | OrderError::IdConflict { .. }
            | OrderError::NotCancellable { .. } => None,
            OrderError::Corrupt(_) => Some("corrupt_order"),
            OrderError::Database(e) => Some(crate::db::error_type(e)),
        }
    }
}

/// Marks the current span failed (status ERROR, `error.type`, an `exception` event) when `result`
/// is a failure of CRM's own, and passes `result` on. Call it at the end of an instrumented
/// function whose span declares `error.type`.
pub(crate) fn traced<T>(result: Result<T, OrderError>) -> Result<T, OrderError> {
    if let Err(err) = &result {
        if let Some(kind) = err.error_type() {
            printflow_telemetry::record_error(&tracing::Span::current(), kind, &err.to_string());
        }
    }
    result
}

/// A count as a span attribute. `tracing-opentelemetry` exports unsigned integers as strings, so
/// counts go out as `i64` to stay numbers (searchable and comparable in Jaeger).
pub(crate) fn as_attribute(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// The columns of [`OrderRow`], for `SELECT` and `RETURNING` lists.
pub(crate) const ORDER_COLUMNS: &str = "id, customer_id, design_id, design_version, quantity, \
     shipping, total_price_cents, status, status_version, status_since, failure_reason, created_at";

/// An `orders` row as the API reports it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct OrderRow {
    /// Order id.
    pub id: Uuid,
    /// Customer id.
    pub customer_id: Uuid,
    /// Shop design id.
    pub design_id: Uuid,
    /// Saved design version.
    pub design_version: i32,
    /// Parts to print.
    pub quantity: i32,
    /// `standard` | `express` | `pickup`.
    pub shipping: String,
    /// Price in cents.
    pub total_price_cents: i64,
    /// Current status text.
    pub status: String,
    /// Current status version.
    pub status_version: i64,
    /// When the current status was entered.
    pub status_since: DateTime<Utc>,
    /// Failure reason while `FAILED`.
    pub failure_reason: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl OrderRow {
    /// The contract view of this row.
    pub fn into_view(self) -> Result<OrderView, OrderError> {
        Ok(OrderView {
            order_id: self.id,
            customer_id: self.customer_id,
            design_id: self.design_id,
            design_version: self.design_version,
            quantity: self.quantity,
            shipping: parse_shipping(&self.shipping)?,
            total_price_cents: self.total_price_cents,
            status: parse_status(&self.status)?,
            status_version: self.status_version,
            status_since: self.status_since,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
        })
    }
}

/// Parses a status read from the database.
pub(crate) fn parse_status(text: &str) -> Result<OrderStatus, OrderError> {
    text.parse()
        .map_err(|e: printflow_contracts::status::UnknownStatus| OrderError::Corrupt(e.to_string()))
}

/// Parses a shipping choice read from the database (the contract has no `FromStr` for it).
pub(crate) fn parse_shipping(text: &str) -> Result<Shipping, OrderError> {
    [Shipping::Standard, Shipping::Express, Shipping::Pickup]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| OrderError::Corrupt(format!("unknown shipping `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipping_round_trips() {
        for s in [Shipping::Standard, Shipping::Express, Shipping::Pickup] {
            assert_eq!(parse_shipping(s.as_str()).unwrap(), s);
        }
        assert!(parse_shipping("teleport").is_err());
    }

    #[test]
    fn errors_map_to_http_statuses() {
        let id = Uuid::now_v7();
        assert_eq!(ApiError::from(OrderError::NotFound(id)).status, 404);
        let conflict = ApiError::from(OrderError::IdConflict {
            order_id: id,
            field: "quantity",
        });
        assert_eq!(
            (conflict.status.as_u16(), conflict.code),
            (409, "order_id_conflict")
        );
        let cancel = ApiError::from(OrderError::NotCancellable {
            order_id: id,
            status: OrderStatus::Printing,
        });
        assert_eq!(cancel.code, "cancellation_not_allowed");
        assert!(cancel.message.contains("PRINTING"));
    }

    #[test]
    fn only_crm_failures_fail_a_span() {
        let id = Uuid::now_v7();
        assert_eq!(OrderError::NotFound(id).error_type(), None);
        assert_eq!(
            OrderError::Invalid(FieldError::new("quantity", "too many")).error_type(),
            None
        );
        assert_eq!(
            OrderError::NotCancellable {
                order_id: id,
                status: OrderStatus::Shipped
            }
            .error_type(),
            None
        );
        assert_eq!(
            OrderError::Corrupt("unknown status".into()).error_type(),
            Some("corrupt_order")
        );
        assert_eq!(
            OrderError::Database(sqlx::Error::PoolTimedOut).error_type(),
            Some("database_unavailable")
        );
    }
}
