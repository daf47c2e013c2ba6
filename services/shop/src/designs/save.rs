//! SAVE: forming the 3D model from the draft and recording an immutable version.
//!
//! Order of operations, so a crash at any point leaves nothing inconsistent:
//! 1. lock the design row (concurrent saves get distinct version numbers);
//! 2. build the mesh and validate it — a defect is a recorded save failure (seed point 2);
//! 3. write the STL to the model store atomically (temp file, fsync, rename, fsync dir);
//! 4. insert the version row and the `ok` save attempt, commit.
//!
//! A crash between 3 and 4 leaves an orphan file no row points to (harmless, and overwritten by
//! the next save of that version number); a version row never points to a missing or partial
//! file (seed point 3).
//!
//! Each save is one `design.save` span ([`save_version`]): `design.id`, `product.id`,
//! `design.revision`, `design.save.outcome` (`ok` | `failed`), `design.save.failure_reason`,
//! `design.version`, `design.model.sha256`, `design.model.size_bytes`, `design.model.volume_mm3`,
//! `design.estimated_print_seconds`; the file write is its child span `model_store.write`. A
//! failed save is ERROR (`design_invalid`, `model_store_failed` or `database`) with the reason.

use super::parameters::{DesignParameters, Shape};
use super::repo::{self, NewVersion, VersionMeta};
use super::DesignError;
use crate::config::BuildVolume;
use crate::metrics::ShopMetrics;
use crate::model::material::{estimate, MaterialEstimate};
use crate::model::mesh::{
    box_mesh, cylinder_mesh, Mesh, MeshDefect, MeshReport, CYLINDER_SEGMENTS,
};
use crate::model::stl;
use crate::model::store::{self, ModelStore, StoreError};
use printflow_faults::Faults;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tracing::field::Empty;
use uuid::Uuid;

/// A validated model, ready to encode.
#[derive(Debug, Clone)]
pub struct FormedModel {
    /// The mesh.
    pub mesh: Mesh,
    /// What validation measured.
    pub report: MeshReport,
    /// Material, time and cost per part.
    pub estimate: MaterialEstimate,
}

/// Builds the mesh for `params` and validates it against the build volume.
pub fn form_model(
    params: &DesignParameters,
    build: &BuildVolume,
) -> Result<FormedModel, MeshDefect> {
    let mesh = match params.shape {
        Shape::Box => box_mesh(
            params.width_mm.unwrap_or_default(),
            params.depth_mm.unwrap_or_default(),
            params.height_mm,
        ),
        Shape::Cylinder => cylinder_mesh(
            params.diameter_mm.unwrap_or_default(),
            params.height_mm,
            CYLINDER_SEGMENTS,
        ),
    };
    let report = mesh.validate(build)?;
    let estimate = estimate(params.material, report.volume_mm3, report.surface_area_mm2);
    Ok(FormedModel {
        mesh,
        report,
        estimate,
    })
}

/// The drill fault [`crate::faults::MESH_NON_MANIFOLD`]: the generator loses a triangle, so
/// the mesh has an open edge, and the save-time check must refuse it as it would a real
/// generator bug (the mesh is validated again; nothing else is skipped).
fn generator_fault(
    formed: FormedModel,
    faults: &Faults,
    build: &BuildVolume,
) -> Result<FormedModel, MeshDefect> {
    if faults.hit(crate::faults::MESH_NON_MANIFOLD).is_none() {
        return Ok(formed);
    }
    let mut mesh = formed.mesh;
    mesh.triangles.pop();
    let report = mesh.validate(build)?;
    Ok(FormedModel {
        mesh,
        report,
        ..formed
    })
}

/// Where version `version` of `design_id` is stored.
pub fn storage_key(design_id: Uuid, version: i32) -> String {
    format!("designs/{design_id}/v{version}.stl")
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The recorded reason of a save whose model file could not be stored.
pub fn store_failure_reason(err: &StoreError) -> String {
    format!("the model file could not be stored: {err}")
}

/// Records a failed save attempt's outcome on the current span (the ERROR status is set by
/// [`super::traced`] from the returned error).
fn record_failed(span: &tracing::Span, reason: &str) {
    span.record("design.save.outcome", "failed");
    span.record("design.save.failure_reason", reason);
}

/// Saves the current draft of `design_id` as a new version, in the span `design.save`, and
/// counts the attempt in `printflow_design_saves_total{outcome}`: `ok`, or `failed` for any
/// failure (invalid model, model store, database); an unknown design is no save attempt.
pub async fn save_version(
    pool: &PgPool,
    store: &dyn ModelStore,
    build: &BuildVolume,
    metrics: &ShopMetrics,
    faults: &Faults,
    design_id: Uuid,
) -> Result<VersionMeta, DesignError> {
    let span = tracing::info_span!(
        "design.save",
        design.id = %design_id,
        product.id = Empty,
        design.revision = Empty,
        design.save.outcome = Empty,
        design.save.failure_reason = Empty,
        design.version = Empty,
        design.model.sha256 = Empty,
        design.model.size_bytes = Empty,
        design.model.volume_mm3 = Empty,
        design.estimated_print_seconds = Empty,
        error.type = Empty,
    );
    let result = super::traced(span, save_draft(pool, store, build, faults, design_id)).await;
    match &result {
        Ok(_) => metrics.design_saved(true),
        Err(DesignError::NotFound(_)) => {}
        Err(_) => metrics.design_saved(false),
    }
    result
}

async fn save_draft(
    pool: &PgPool,
    store: &dyn ModelStore,
    build: &BuildVolume,
    faults: &Faults,
    design_id: Uuid,
) -> Result<VersionMeta, DesignError> {
    let span = tracing::Span::current();
    let mut tx = pool.begin().await?;
    let draft = repo::lock_design(&mut tx, design_id)
        .await?
        .ok_or(DesignError::NotFound(design_id))?;
    span.record("product.id", tracing::field::display(draft.product_id));
    span.record("design.revision", draft.revision);

    let formed = match form_model(&draft.parameters, build)
        .and_then(|f| generator_fault(f, faults, build))
    {
        Ok(formed) => formed,
        Err(defect) => {
            let reason = defect.to_string();
            repo::insert_save_attempt(&mut tx, design_id, draft.revision, Err(&reason)).await?;
            tx.commit().await?;
            record_failed(&span, &reason);
            tracing::warn!(%reason, "design save failed: model invalid");
            return Err(DesignError::Invalid(reason));
        }
    };
    span.record("design.model.volume_mm3", formed.report.volume_mm3);
    span.record(
        "design.estimated_print_seconds",
        formed.estimate.print_seconds,
    );

    let version = repo::next_version(&mut tx, design_id).await?;
    span.record("design.version", version);
    let key = storage_key(design_id, version);
    let bytes = stl::encode(
        &formed.mesh,
        &format!("printflow design {design_id} v{version}"),
    );
    let sha256 = sha256_hex(&bytes);
    span.record("design.model.sha256", sha256.as_str());
    span.record("design.model.size_bytes", bytes.len() as i64);

    if let Err(err) = store::write_traced(store, &key, &bytes).await {
        let reason = store_failure_reason(&err);
        repo::insert_save_attempt(&mut tx, design_id, draft.revision, Err(&reason)).await?;
        tx.commit().await?;
        record_failed(&span, &reason);
        tracing::error!(error = %err, storage.key = %key, "design save failed: model store");
        return Err(DesignError::Store(err));
    }

    // The file is durable; now the row. If recording fails, the transaction is gone, so the
    // failed attempt is recorded on its own (best effort) and the file stays an orphan.
    let recorded = async {
        let base_price = repo::product_base_price(&mut tx, draft.product_id).await?;
        let new = NewVersion {
            design_id,
            version,
            design_revision: draft.revision,
            parameters: &draft.parameters,
            sha256: &sha256,
            size_bytes: bytes.len() as i64,
            triangle_count: formed.report.triangle_count as i32,
            volume_mm3: formed.report.volume_mm3,
            bbox: formed.report.bbox_mm,
            material_grams: formed.estimate.grams,
            estimated_print_seconds: formed.estimate.print_seconds,
            material_cost_cents: formed.estimate.cost_cents,
            unit_price_cents: base_price + formed.estimate.cost_cents,
            storage_key: &key,
        };
        repo::insert_version(&mut tx, &new).await?;
        repo::insert_save_attempt(&mut tx, design_id, draft.revision, Ok(version)).await?;
        let meta = repo::get_version(&mut *tx, design_id, version)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(meta)
    }
    .await;
    match recorded {
        Ok(meta) => {
            span.record("design.save.outcome", "ok");
            tracing::info!(model.sha256 = %sha256, model.size_bytes = bytes.len() as i64, "design saved");
            Ok(meta)
        }
        Err(err) => {
            let reason = "the version could not be recorded (database error)";
            record_failed(&span, reason);
            tracing::error!(error = %err, storage.key = %key, "design save failed: recording the version");
            if let Ok(mut conn) = pool.acquire().await {
                let _ =
                    repo::insert_save_attempt(&mut conn, design_id, draft.revision, Err(reason))
                        .await;
            }
            Err(DesignError::Database(err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::material::Material;

    fn params(shape: Shape, dims: [f64; 3]) -> DesignParameters {
        let (w, d, dia) = match shape {
            Shape::Box => (Some(dims[0]), Some(dims[1]), None),
            Shape::Cylinder => (None, None, Some(dims[0])),
        };
        DesignParameters {
            shape,
            width_mm: w,
            depth_mm: d,
            height_mm: dims[2],
            diameter_mm: dia,
            scale: 1.0,
            material: Material::Petg,
            colour: "white".into(),
            engraving: "abc".into(),
        }
    }

    const BUILD: BuildVolume = BuildVolume {
        x_mm: 250.0,
        y_mm: 210.0,
        z_mm: 210.0,
    };

    #[test]
    fn box_volume_and_price_follow_the_parameters() {
        let m = form_model(&params(Shape::Box, [50.0, 40.0, 30.0]), &BUILD).unwrap();
        assert_eq!(m.report.volume_mm3, 60_000.0);
        assert_eq!(m.report.bbox_mm, [50.0, 40.0, 30.0]);
        assert_eq!(m.report.surface_area_mm2, 9_400.0);
        assert_eq!(m.estimate, estimate(Material::Petg, 60_000.0, 9_400.0));
    }

    #[test]
    fn engraving_does_not_change_the_mesh() {
        let a = params(Shape::Cylinder, [30.0, 0.0, 10.0]);
        let mut b = a.clone();
        b.engraving = "different".into();
        let (ma, mb) = (
            form_model(&a, &BUILD).unwrap(),
            form_model(&b, &BUILD).unwrap(),
        );
        assert_eq!(stl::encode(&ma.mesh, "h"), stl::encode(&mb.mesh, "h"));
    }

    #[test]
    fn too_big_for_the_printer_is_a_defect() {
        let err = form_model(&params(Shape::Box, [240.0, 240.0, 240.0]), &BUILD).unwrap_err();
        assert!(matches!(err, MeshDefect::TooLarge { .. }));
    }
}
