//! The 3D design editor.
//!
//! A design starts from a product's defaults ([`create_design`]), is edited by validated
//! all-or-nothing operation lists ([`edits`]), and is saved as immutable versions whose STL
//! model is formed, validated and stored durably ([`save`]). Downloads re-verify the stored
//! file against its recorded checksum ([`model_file`]). Reads are in [`read`].
//!
//! Tracing: every design function runs in its own span carrying `design.id` (and `product.id`,
//! `design.version` where known), via [`traced`]; a failed design operation or a server fault
//! marks it ERROR with `error.type` from [`DesignError::error_type`], a client's mistake (unknown
//! id, malformed value) does not.

pub mod edits;
pub mod model_file;
pub mod parameters;
pub mod read;
pub mod repo;
pub mod save;

use crate::catalog::product::{Product, PRODUCT_COLUMNS};
use crate::model::store::StoreError;
use axum::http::StatusCode;
use parameters::DesignParameters;
use printflow_web::ApiError;
use repo::Design;
use sqlx::PgPool;
use std::future::Future;
use tracing::field::Empty;
use tracing::Instrument;
use uuid::Uuid;

/// What can go wrong with a design request.
#[derive(Debug, thiserror::Error)]
pub enum DesignError {
    /// No such design.
    #[error("design {0} does not exist")]
    NotFound(Uuid),
    /// The product named in the request does not exist.
    #[error("product {0} does not exist")]
    ProductNotFound(Uuid),
    /// No such saved version.
    #[error("design {0} has no version {1}")]
    VersionNotFound(Uuid, i32),
    /// A malformed request value.
    #[error("{field}: {message}")]
    Validation {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
    /// An edit request was rejected; nothing was applied.
    #[error("{field}: {reason}")]
    EditRejected {
        /// `operations[i]` plus the sub-field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The model formed from the draft cannot be printed; the save failed.
    #[error("{0}")]
    Invalid(String),
    /// The recorded model file is gone (a server fault).
    #[error("the model file of design {0} version {1} is missing")]
    ModelFileMissing(Uuid, i32),
    /// The stored model file does not match its recorded checksum (a server fault).
    #[error("the model file of design {0} version {1} does not match its checksum")]
    ModelFileCorrupt(Uuid, i32),
    /// The model store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<DesignError> for ApiError {
    fn from(err: DesignError) -> Self {
        let msg = err.to_string();
        match err {
            DesignError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "design_not_found", msg)
            }
            DesignError::ProductNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "product_not_found", msg)
                    .with_field("product_id")
            }
            DesignError::VersionNotFound(..) => {
                ApiError::new(StatusCode::NOT_FOUND, "design_version_not_found", msg)
            }
            DesignError::Validation { field, message } => ApiError::validation(field, message),
            DesignError::EditRejected { field, reason } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "edit_rejected", reason)
                    .with_field(field)
            }
            DesignError::Invalid(reason) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "design_invalid", reason)
            }
            // Already logged at error level where detected; the client learns it is our fault.
            DesignError::ModelFileMissing(..) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "model_file_missing", msg)
            }
            DesignError::ModelFileCorrupt(..) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "model_file_corrupt", msg)
            }
            DesignError::Store(e) => {
                tracing::error!(error = %e, "model store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "model_store_failed",
                    "the model file could not be stored; see the service log",
                )
            }
            DesignError::Database(e) => ApiError::from(e),
        }
    }
}

impl DesignError {
    /// The `error.type` of a failed design operation or server fault; `None` for the client's
    /// mistakes (unknown ids, malformed values), which do not mark a span failed.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            DesignError::NotFound(_)
            | DesignError::ProductNotFound(_)
            | DesignError::VersionNotFound(..)
            | DesignError::Validation { .. } => None,
            DesignError::EditRejected { .. } => Some("edit_rejected"),
            DesignError::Invalid(_) => Some("design_invalid"),
            DesignError::ModelFileMissing(..) => Some("model_file_missing"),
            DesignError::ModelFileCorrupt(..) => Some("model_file_corrupt"),
            DesignError::Store(_) => Some("model_store_failed"),
            DesignError::Database(_) => Some("database"),
        }
    }

    /// What the span's exception says: the reason alone for a rejected edit or an invalid
    /// model (the customer-facing reason), the full error otherwise.
    pub fn failure_message(&self) -> String {
        match self {
            DesignError::EditRejected { reason, .. } => reason.clone(),
            DesignError::Invalid(reason) => reason.clone(),
            DesignError::Store(err) => save::store_failure_reason(err),
            other => other.to_string(),
        }
    }
}

/// Marks `span` failed if `err` has an error type (see [`DesignError::error_type`]).
pub fn record_failure(span: &tracing::Span, err: &DesignError) {
    if let Some(error_type) = err.error_type() {
        printflow_telemetry::record_error(span, error_type, &err.failure_message());
    }
}

/// Runs `work` inside `span` (which must declare `error.type`) and marks the span failed when
/// the outcome is a failure with an error type.
pub async fn traced<T>(
    span: tracing::Span,
    work: impl Future<Output = Result<T, DesignError>>,
) -> Result<T, DesignError> {
    let result = work.instrument(span.clone()).await;
    if let Err(err) = &result {
        record_failure(&span, err);
    }
    result
}

/// Creates a design owned by `owner` (the customer's token subject), initialised from the
/// product's defaults, in the span `design.create` (`product.id`, `design.id`).
pub async fn create_design(
    pool: &PgPool,
    product_id: Uuid,
    owner: &str,
) -> Result<Design, DesignError> {
    let span = tracing::info_span!(
        "design.create",
        product.id = %product_id,
        design.id = Empty,
        error.type = Empty,
    );
    traced(span, insert_new_design(pool, product_id, owner)).await
}

async fn insert_new_design(
    pool: &PgPool,
    product_id: Uuid,
    owner: &str,
) -> Result<Design, DesignError> {
    let product = sqlx::query_as::<_, Product>(&format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    ))
    .bind(product_id)
    .fetch_optional(pool)
    .await?
    .ok_or(DesignError::ProductNotFound(product_id))?;
    let params = DesignParameters::from_product(&product).ok_or_else(|| {
        DesignError::Database(sqlx::Error::Protocol(format!(
            "product {product_id} has inconsistent default dimensions"
        )))
    })?;
    let id = Uuid::now_v7();
    tracing::Span::current().record("design.id", tracing::field::display(id));
    repo::insert_design(pool, id, product_id, &params, owner).await?;
    tracing::info!("design created");
    repo::get_design(pool, id)
        .await?
        .ok_or(DesignError::NotFound(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_operations_and_faults_have_error_types_client_mistakes_do_not() {
        let id = Uuid::nil();
        for err in [
            DesignError::NotFound(id),
            DesignError::ProductNotFound(id),
            DesignError::VersionNotFound(id, 1),
            DesignError::Validation {
                field: "product_id".into(),
                message: "required".into(),
            },
        ] {
            assert_eq!(err.error_type(), None, "{err}");
        }
        let rejected = DesignError::EditRejected {
            field: "operations[1].value".into(),
            reason: "width_mm must be between 1 and 1000 mm, got 0.5".into(),
        };
        assert_eq!(rejected.error_type(), Some("edit_rejected"));
        // The reason alone, without the field prefix of the Display form.
        assert_eq!(
            rejected.failure_message(),
            "width_mm must be between 1 and 1000 mm, got 0.5"
        );
        let invalid = DesignError::Invalid("too big".into());
        assert_eq!(
            (invalid.error_type(), invalid.failure_message().as_str()),
            (Some("design_invalid"), "too big")
        );
        assert_eq!(
            DesignError::ModelFileMissing(id, 2).error_type(),
            Some("model_file_missing")
        );
        assert_eq!(
            DesignError::ModelFileCorrupt(id, 2).error_type(),
            Some("model_file_corrupt")
        );
        let store = DesignError::Store(StoreError::InvalidKey("../x".into()));
        assert_eq!(store.error_type(), Some("model_store_failed"));
        assert!(store
            .failure_message()
            .starts_with("the model file could not be stored"));
        assert_eq!(
            DesignError::Database(sqlx::Error::RowNotFound).error_type(),
            Some("database")
        );
    }
}
