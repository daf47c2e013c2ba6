//! Customers. Created and updated by `POST /orders` (matched on e-mail); read by id here. This is
//! the only place personal data is returned; it never goes into events, logs or span fields.

use crate::db::Db;
use chrono::{DateTime, Utc};
use printflow_web::ApiError;
use serde::{Deserialize, Serialize};
use tracing::field::Empty;
use uuid::Uuid;

/// A customer as `GET /customers/{id}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CustomerView {
    /// Customer id.
    pub customer_id: Uuid,
    /// Full name.
    pub name: String,
    /// E-mail address as first given (matching ignores case, so later spellings map here).
    pub email: String,
    /// Phone number, if one was ever given.
    pub phone: Option<String>,
    /// When the customer first ordered.
    pub created_at: DateTime<Utc>,
}

/// Why a customer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    /// No customer has this id.
    #[error("customer {0} does not exist")]
    NotFound(Uuid),
    /// The database failed or timed out.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<CustomerError> for ApiError {
    fn from(err: CustomerError) -> Self {
        match err {
            CustomerError::NotFound(id) => ApiError::not_found("customer", id),
            CustomerError::Database(e) => e.into(),
        }
    }
}

/// `GET /customers/{id}`. Span `customer.get`: `customer.id` only; the record's name, e-mail and
/// phone are returned to the caller and never recorded.
#[tracing::instrument(
    name = "customer.get",
    skip_all,
    fields(customer.id = %customer_id, error.type = Empty)
)]
pub async fn get_customer(db: &Db, customer_id: Uuid) -> Result<CustomerView, CustomerError> {
    let result = load_customer(db, customer_id).await;
    if let Err(CustomerError::Database(e)) = &result {
        printflow_telemetry::record_error(
            &tracing::Span::current(),
            crate::db::error_type(e),
            &e.to_string(),
        );
    }
    result
}

async fn load_customer(db: &Db, customer_id: Uuid) -> Result<CustomerView, CustomerError> {
    let mut tx = db.begin().await?;
    let row: Option<CustomerView> = sqlx::query_as(
        "SELECT id AS customer_id, name, email, phone, created_at FROM customers WHERE id = $1",
    )
    .bind(customer_id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.ok_or(CustomerError::NotFound(customer_id))
}
