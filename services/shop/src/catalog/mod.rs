//! The product catalog: products ([`product`]) and search over them ([`search`]).
//!
//! Every catalog query runs inside a transaction with a PostgreSQL `statement_timeout`
//! ([`with_statement_timeout`]), so a slow or blocked search answers 503 `search_timeout`
//! instead of hanging the customer (seed point 1).
//!
//! Tracing: every catalog function runs in its own span ([`traced`]); a server-side failure
//! (timeout, database) marks it ERROR with `error.type` from [`CatalogError::error_type`], a
//! client's mistake (bad parameter, unknown id) does not.

pub mod product;
pub mod search;

use axum::http::StatusCode;
use printflow_web::ApiError;
use sqlx::{PgPool, Postgres, Transaction};
use std::future::Future;
use std::time::Duration;
use tracing::Instrument;

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
    /// A query parameter that does not parse at all, or is beyond its type's range (400).
    #[error("{message}")]
    Malformed {
        /// The parameter (`None` only if the query string as a whole is unreadable).
        field: Option<String>,
        /// Why, naming the parameter.
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

    /// The `error.type` of a server-side failure; `None` for the client's mistakes, which do
    /// not mark a span failed.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            CatalogError::Invalid { .. }
            | CatalogError::Malformed { .. }
            | CatalogError::NotFound(_) => None,
            CatalogError::Timeout(_) => Some("search_timeout"),
            CatalogError::Database(_) => Some("database"),
        }
    }
}

/// Marks `span` failed if `err` is a server-side failure (see [`CatalogError::error_type`]).
pub fn record_failure(span: &tracing::Span, err: &CatalogError) {
    if let Some(error_type) = err.error_type() {
        printflow_telemetry::record_error(span, error_type, &err.to_string());
    }
}

/// Runs `work` inside `span` (which must declare `error.type`) and marks the span failed when
/// the outcome is a server-side failure.
pub async fn traced<T>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, CatalogError>>,
) -> Result<T, CatalogError> {
    let result = work.instrument(span.clone()).await;
    if let Err(err) = &result {
        record_failure(&span, err);
    }
    result
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::Invalid { field, message } => ApiError::validation(field, message),
            CatalogError::Malformed { field, message } => {
                let err = ApiError::bad_request("invalid_query", message);
                match field {
                    Some(field) => err.with_field(field),
                    None => err,
                }
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
    printflow_runtime::db::begin_with_timeout(pool, timeout)
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_side_failures_have_an_error_type() {
        let invalid = CatalogError::Invalid {
            field: "page",
            message: "page must be at least 1".into(),
        };
        let malformed = CatalogError::Malformed {
            field: Some("page".into()),
            message: "page must be a whole number".into(),
        };
        assert_eq!(invalid.error_type(), None);
        assert_eq!(malformed.error_type(), None);
        assert_eq!(CatalogError::NotFound(uuid::Uuid::nil()).error_type(), None);
        assert_eq!(
            CatalogError::Timeout(Duration::from_millis(5)).error_type(),
            Some("search_timeout")
        );
        assert_eq!(
            CatalogError::Database(sqlx::Error::RowNotFound).error_type(),
            Some("database")
        );
    }
}
