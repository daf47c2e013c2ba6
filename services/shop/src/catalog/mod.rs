//! The product catalog: products ([`product`]) and search over them ([`search`]).
//!
//! Every catalog query runs inside a transaction with a PostgreSQL `statement_timeout`
//! ([`with_statement_timeout`]), so a slow or blocked search answers 503 `search_timeout`
//! instead of hanging the customer (seed point 1).

pub mod product;
pub mod search;

use axum::http::StatusCode;
use printflow_web::ApiError;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// What can go wrong in a catalog request.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A query parameter with an unacceptable value (422).
    #[error("{field}: {message}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// A query parameter that does not parse at all (400).
    #[error("{field}: {message}")]
    Malformed {
        /// The parameter.
        field: &'static str,
        /// Why.
        message: String,
    },
    /// No product with that id.
    #[error("product {0} does not exist")]
    NotFound(uuid::Uuid),
    /// The statement timeout fired.
    #[error("the catalog query did not finish within {0:?}")]
    Timeout(Duration),
    /// Any other database failure.
    #[error(transparent)]
    Database(sqlx::Error),
}

impl CatalogError {
    /// Maps a database error, recognising `statement_timeout` (SQLSTATE 57014).
    pub fn from_db(err: sqlx::Error, timeout: Duration) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
                CatalogError::Timeout(timeout)
            }
            _ => CatalogError::Database(err),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Invalid { field, message } => ApiError::validation(field, message),
            CatalogError::Malformed { field, message } => {
                ApiError::bad_request("invalid_query", message).with_field(field)
            }
            CatalogError::NotFound(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "product_not_found",
                format!("product {id} does not exist"),
            ),
            CatalogError::Timeout(t) => {
                tracing::warn!(timeout_ms = t.as_millis() as u64, "catalog query timed out");
                ApiError::unavailable(
                    "search_timeout",
                    format!(
                        "the catalog did not answer within {} ms; try again or narrow the search",
                        t.as_millis()
                    ),
                )
            }
            CatalogError::Database(e) => ApiError::from(e),
        }
    }
}

/// Opens a read transaction whose statements are cancelled by PostgreSQL after `timeout`
/// (`SET LOCAL`, so the setting ends with the transaction and never leaks to pooled connections).
pub async fn with_statement_timeout(
    pool: &PgPool,
    timeout: Duration,
) -> Result<Transaction<'static, Postgres>, CatalogError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    sqlx::query("SELECT set_config('statement_timeout', $1, true)")
        .bind(format!("{}ms", timeout.as_millis().max(1)))
        .execute(&mut *tx)
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    Ok(tx)
}
