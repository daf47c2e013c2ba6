//! Serving a saved model file, verified against the checksum recorded at save time.
//!
//! A missing or altered file is a server fault that must be loud (seed point 3): it is logged
//! at error level with the design id, version and storage key, and answered 500 with a specific
//! code instead of serving wrong bytes.
//!
//! Each download (the customer's, or MES fetching the file to print) is one
//! `design.model.download` span: `design.id`, `product.id`, `design.version`,
//! `design.model.size_bytes` and `design.model.sha256` as recorded at save time; the store read
//! is its child span `model_store.read`; a missing or altered file is ERROR (`model_file_missing`
//! / `model_file_corrupt`).

use super::repo::{self, VersionMeta};
use super::save::sha256_hex;
use super::DesignError;
use crate::model::store::{self, ModelStore};
use printflow_faults::Faults;
use sqlx::PgPool;
use tracing::field::Empty;
use uuid::Uuid;

/// A verified model file.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The STL bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256 (equal to the recorded one).
    pub sha256: String,
    /// A download file name.
    pub file_name: String,
}

/// Loads version `version` of `design_id` and checks its bytes against the recorded checksum,
/// in the span `design.model.download`.
pub async fn load_model(
    pool: &PgPool,
    store: &dyn ModelStore,
    faults: &Faults,
    design_id: Uuid,
    version: i32,
) -> Result<ModelFile, DesignError> {
    let span = tracing::info_span!(
        "design.model.download",
        design.id = %design_id,
        design.version = version,
        product.id = Empty,
        design.model.size_bytes = Empty,
        design.model.sha256 = Empty,
        error.type = Empty,
    );
    super::traced(span, async {
        let file = load_verified(pool, store, design_id, version).await?;
        Ok(replaced_by_fault(file, faults))
    })
    .await
}

/// The drill fault [`crate::faults::MODEL_REPLACED`]: the file served is another model than the
/// version the order was placed with (its STL header rewritten, so it is still a valid STL and
/// the Shop's own records agree with it), as if the version had been replaced after the order
/// (seed point 6). MES must notice that the checksum differs from the order's.
fn replaced_by_fault(mut file: ModelFile, faults: &Faults) -> ModelFile {
    if faults.hit(crate::faults::MODEL_REPLACED).is_some() {
        let mark = b"printflow drill: model replaced after the order";
        let n = mark.len().min(file.bytes.len());
        file.bytes[..n].copy_from_slice(&mark[..n]);
        file.sha256 = sha256_hex(&file.bytes);
    }
    file
}

async fn load_verified(
    pool: &PgPool,
    store: &dyn ModelStore,
    design_id: Uuid,
    version: i32,
) -> Result<ModelFile, DesignError> {
    let meta = version_or_404(pool, design_id, version).await?;
    let span = tracing::Span::current();
    span.record("product.id", tracing::field::display(meta.product_id));
    span.record("design.model.size_bytes", meta.size_bytes);
    span.record("design.model.sha256", meta.sha256.as_str());
    let Some(bytes) = store::read_traced(store, &meta.storage_key).await? else {
        tracing::error!(
            storage.key = %meta.storage_key,
            model.sha256 = %meta.sha256,
            "saved model file is MISSING from the model store"
        );
        return Err(DesignError::ModelFileMissing(design_id, version));
    };
    let actual = sha256_hex(&bytes);
    if actual != meta.sha256 {
        tracing::error!(
            storage.key = %meta.storage_key,
            model.sha256 = %meta.sha256,
            model.actual_sha256 = %actual,
            model.size_bytes = bytes.len() as i64,
            "saved model file is CORRUPT: checksum mismatch"
        );
        return Err(DesignError::ModelFileCorrupt(design_id, version));
    }
    Ok(ModelFile {
        bytes,
        sha256: actual,
        file_name: format!("design-{design_id}-v{version}.stl"),
    })
}

/// The version's metadata, or 404 (distinguishing an unknown design from an unknown version).
pub async fn version_or_404(
    pool: &PgPool,
    design_id: Uuid,
    version: i32,
) -> Result<VersionMeta, DesignError> {
    match repo::get_version(pool, design_id, version).await? {
        Some(meta) => Ok(meta),
        None if repo::design_exists(pool, design_id).await? => {
            Err(DesignError::VersionNotFound(design_id, version))
        }
        None => Err(DesignError::NotFound(design_id)),
    }
}
