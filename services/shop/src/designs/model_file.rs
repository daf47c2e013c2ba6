//! Serving a saved model file, verified against the checksum recorded at save time.
//!
//! A missing or altered file is a server fault that must be loud (seed point 3): it is logged
//! at error level with the design id, version and storage key, and answered 500 with a specific
//! code instead of serving wrong bytes.

use super::repo::{self, VersionMeta};
use super::save::sha256_hex;
use super::DesignError;
use crate::model::store::ModelStore;
use sqlx::PgPool;
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

/// Loads version `version` of `design_id` and checks its bytes against the recorded checksum.
#[tracing::instrument(skip_all, fields(design.id = %design_id, design.version = version))]
pub async fn load_model(
    pool: &PgPool,
    store: &dyn ModelStore,
    design_id: Uuid,
    version: i32,
) -> Result<ModelFile, DesignError> {
    let meta = version_or_404(pool, design_id, version).await?;
    let Some(bytes) = store.get(&meta.storage_key).await? else {
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
            model.size_bytes = bytes.len(),
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
