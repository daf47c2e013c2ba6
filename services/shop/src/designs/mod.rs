//! The 3D design editor.
//!
//! A design starts from a product's defaults ([`create_design`]), is edited by validated
//! all-or-nothing operation lists ([`edits`]), and is saved as immutable versions whose STL
//! model is formed, validated and stored durably ([`save`]). Downloads re-verify the stored
//! file against its recorded checksum ([`model_file`]).

pub mod edits;
pub mod model_file;
pub mod parameters;
pub mod repo;
pub mod save;

use crate::catalog::product::{Product, PRODUCT_COLUMNS};
use crate::model::store::StoreError;
use axum::http::StatusCode;
use parameters::DesignParameters;
use printflow_web::ApiError;
use repo::Design;
use sqlx::PgPool;
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

/// Creates a design initialised from the product's defaults.
#[tracing::instrument(skip_all, fields(product.id = %product_id, design.id))]
pub async fn create_design(pool: &PgPool, product_id: Uuid) -> Result<Design, DesignError> {
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
    repo::insert_design(pool, id, product_id, &params).await?;
    tracing::info!("design created");
    repo::get_design(pool, id)
        .await?
        .ok_or(DesignError::NotFound(id))
}
