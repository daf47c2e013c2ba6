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

use super::parameters::{DesignParameters, Shape};
use super::repo::{self, NewVersion, VersionMeta};
use super::DesignError;
use crate::config::BuildVolume;
use crate::model::material::{estimate, MaterialEstimate};
use crate::model::mesh::{
    box_mesh, cylinder_mesh, Mesh, MeshDefect, MeshReport, CYLINDER_SEGMENTS,
};
use crate::model::stl;
use crate::model::store::ModelStore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
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

/// Where version `version` of `design_id` is stored.
pub fn storage_key(design_id: Uuid, version: i32) -> String {
    format!("designs/{design_id}/v{version}.stl")
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Saves the current draft of `design_id` as a new version.
#[tracing::instrument(
    skip_all,
    fields(design.id = %design_id, design.revision, design.version, save.outcome)
)]
pub async fn save_version(
    pool: &PgPool,
    store: &dyn ModelStore,
    build: &BuildVolume,
    design_id: Uuid,
) -> Result<VersionMeta, DesignError> {
    let span = tracing::Span::current();
    let mut tx = pool.begin().await?;
    let draft = repo::lock_design(&mut tx, design_id)
        .await?
        .ok_or(DesignError::NotFound(design_id))?;
    span.record("design.revision", draft.revision);

    let formed = match form_model(&draft.parameters, build) {
        Ok(formed) => formed,
        Err(defect) => {
            let reason = defect.to_string();
            repo::insert_save_attempt(&mut tx, design_id, draft.revision, Err(&reason)).await?;
            tx.commit().await?;
            span.record("save.outcome", "failed");
            tracing::warn!(%reason, "design save failed: model invalid");
            return Err(DesignError::Invalid(reason));
        }
    };

    let version = repo::next_version(&mut tx, design_id).await?;
    span.record("design.version", version);
    let key = storage_key(design_id, version);
    let bytes = stl::encode(
        &formed.mesh,
        &format!("printflow design {design_id} v{version}"),
    );
    let sha256 = sha256_hex(&bytes);

    if let Err(err) = store.put(&key, &bytes).await {
        let reason = format!("the model file could not be stored: {err}");
        repo::insert_save_attempt(&mut tx, design_id, draft.revision, Err(&reason)).await?;
        tx.commit().await?;
        span.record("save.outcome", "failed");
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
            span.record("save.outcome", "ok");
            tracing::info!(model.sha256 = %sha256, model.size_bytes = bytes.len(), "design saved");
            Ok(meta)
        }
        Err(err) => {
            span.record("save.outcome", "failed");
            tracing::error!(error = %err, storage.key = %key, "design save failed: recording the version");
            let reason = "the version could not be recorded (database error)";
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
