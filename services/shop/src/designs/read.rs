//! Reading designs, their edit log, save attempts and versions, each in its own span so every
//! design request shows which design (and product, version) it was about:
//!
//! | span                   | attributes                                           |
//! |------------------------|------------------------------------------------------|
//! | `design.get`           | `design.id`, `product.id`, `design.revision`         |
//! | `design.edits.list`    | `design.id`                                          |
//! | `design.saves.list`    | `design.id`                                          |
//! | `design.versions.list` | `design.id`                                          |
//! | `design.version.get`   | `design.id`, `design.version`, `product.id`          |

use super::model_file::version_or_404;
use super::repo::{self, Design, EditRecord, SaveAttempt, VersionMeta};
use super::{traced, DesignError};
use sqlx::PgPool;
use tracing::field::Empty;
use uuid::Uuid;

/// The design with its version list (`design.get`).
pub async fn get_design(pool: &PgPool, id: Uuid) -> Result<Design, DesignError> {
    let span = tracing::info_span!(
        "design.get",
        design.id = %id,
        product.id = Empty,
        design.revision = Empty,
        error.type = Empty,
    );
    traced(span, async move {
        let design = repo::get_design(pool, id)
            .await?
            .ok_or(DesignError::NotFound(id))?;
        let span = tracing::Span::current();
        span.record("product.id", tracing::field::display(design.product_id));
        span.record("design.revision", design.revision);
        Ok(design)
    })
    .await
}

async fn ensure_design(pool: &PgPool, id: Uuid) -> Result<(), DesignError> {
    if repo::design_exists(pool, id).await? {
        Ok(())
    } else {
        Err(DesignError::NotFound(id))
    }
}

/// Every logged edit operation of a design (`design.edits.list`).
pub async fn list_edits(pool: &PgPool, id: Uuid) -> Result<Vec<EditRecord>, DesignError> {
    let span = tracing::info_span!("design.edits.list", design.id = %id, error.type = Empty);
    traced(span, async move {
        ensure_design(pool, id).await?;
        Ok(repo::list_edits(pool, id).await?)
    })
    .await
}

/// Every save attempt of a design (`design.saves.list`).
pub async fn list_saves(pool: &PgPool, id: Uuid) -> Result<Vec<SaveAttempt>, DesignError> {
    let span = tracing::info_span!("design.saves.list", design.id = %id, error.type = Empty);
    traced(span, async move {
        ensure_design(pool, id).await?;
        Ok(repo::list_saves(pool, id).await?)
    })
    .await
}

/// Every saved version of a design (`design.versions.list`).
pub async fn list_versions(pool: &PgPool, id: Uuid) -> Result<Vec<VersionMeta>, DesignError> {
    let span = tracing::info_span!("design.versions.list", design.id = %id, error.type = Empty);
    traced(span, async move {
        ensure_design(pool, id).await?;
        Ok(repo::list_versions(pool, id).await?)
    })
    .await
}

/// One saved version's metadata (`design.version.get`).
pub async fn get_version(
    pool: &PgPool,
    id: Uuid,
    version: i32,
) -> Result<VersionMeta, DesignError> {
    let span = tracing::info_span!(
        "design.version.get",
        design.id = %id,
        design.version = version,
        product.id = Empty,
        error.type = Empty,
    );
    traced(span, async move {
        let meta = version_or_404(pool, id, version).await?;
        tracing::Span::current().record("product.id", tracing::field::display(meta.product_id));
        Ok(meta)
    })
    .await
}
