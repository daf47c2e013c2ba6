//! PostgreSQL access for designs, their edit log, save attempts and saved versions.

use super::parameters::DesignParameters;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// A design as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Design {
    /// The design id.
    pub design_id: Uuid,
    /// The product it started from.
    pub product_id: Uuid,
    /// The current draft.
    pub parameters: DesignParameters,
    /// Draft revision, bumped by every accepted edit request.
    pub revision: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of the draft.
    pub updated_at: DateTime<Utc>,
    /// Saved versions, oldest first.
    pub versions: Vec<VersionSummary>,
}

/// The draft row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DraftRow {
    /// The design id.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Draft parameters.
    #[sqlx(json)]
    pub parameters: DesignParameters,
    /// Draft revision.
    pub revision: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const DRAFT_COLUMNS: &str = "id, product_id, parameters, revision, created_at, updated_at";

/// A saved version in a list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct VersionSummary {
    /// Version number, 1..n.
    pub version: i32,
    /// The draft revision it was saved from.
    pub design_revision: i32,
    /// SHA-256 of the model file, hex.
    pub sha256: String,
    /// Model file size.
    pub size_bytes: i64,
    /// Price of one part, cents.
    pub unit_price_cents: i64,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

/// Bounding box extents, mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    /// X extent.
    pub x_mm: f64,
    /// Y extent.
    pub y_mm: f64,
    /// Z extent.
    pub z_mm: f64,
}

/// A saved version's metadata.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMeta {
    /// The design.
    pub design_id: Uuid,
    /// Version number.
    pub version: i32,
    /// The draft revision it was saved from.
    pub design_revision: i32,
    /// Frozen parameters.
    pub parameters: DesignParameters,
    /// SHA-256 of the model file, hex.
    pub sha256: String,
    /// Model file size, bytes.
    pub size_bytes: i64,
    /// Triangles in the mesh.
    pub triangle_count: i32,
    /// Enclosed volume, mm³.
    pub volume_mm3: f64,
    /// Bounding box.
    pub bounding_box_mm: BoundingBox,
    /// Material used per part, grams.
    pub material_grams: f64,
    /// Estimated print time per part, seconds.
    pub estimated_print_seconds: i64,
    /// Material cost per part, cents.
    pub material_cost_cents: i64,
    /// Product base price + material cost, cents.
    pub unit_price_cents: i64,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// Where to download the STL.
    pub model_url: String,
    /// Model store key (internal).
    #[serde(skip)]
    pub storage_key: String,
    /// The product the design started from (internal: recorded on trace spans).
    #[serde(skip)]
    pub product_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    design_id: Uuid,
    version: i32,
    design_revision: i32,
    parameters: Json<DesignParameters>,
    sha256: String,
    size_bytes: i64,
    triangle_count: i32,
    volume_mm3: f64,
    bbox_x_mm: f64,
    bbox_y_mm: f64,
    bbox_z_mm: f64,
    material_grams: f64,
    estimated_print_seconds: i64,
    material_cost_cents: i64,
    unit_price_cents: i64,
    storage_key: String,
    created_at: DateTime<Utc>,
    product_id: Uuid,
}

impl From<VersionRow> for VersionMeta {
    fn from(r: VersionRow) -> Self {
        VersionMeta {
            model_url: format!("/designs/{}/versions/{}/model", r.design_id, r.version),
            design_id: r.design_id,
            version: r.version,
            design_revision: r.design_revision,
            parameters: r.parameters.0,
            sha256: r.sha256,
            size_bytes: r.size_bytes,
            triangle_count: r.triangle_count,
            volume_mm3: r.volume_mm3,
            bounding_box_mm: BoundingBox {
                x_mm: r.bbox_x_mm,
                y_mm: r.bbox_y_mm,
                z_mm: r.bbox_z_mm,
            },
            material_grams: r.material_grams,
            estimated_print_seconds: r.estimated_print_seconds,
            material_cost_cents: r.material_cost_cents,
            unit_price_cents: r.unit_price_cents,
            created_at: r.created_at,
            storage_key: r.storage_key,
            product_id: r.product_id,
        }
    }
}

const VERSION_COLUMNS: &str = "design_id, version, design_revision, parameters, sha256, \
     size_bytes, triangle_count, volume_mm3, bbox_x_mm, bbox_y_mm, bbox_z_mm, material_grams, \
     estimated_print_seconds, material_cost_cents, unit_price_cents, storage_key, created_at, \
     (SELECT d.product_id FROM designs d WHERE d.id = design_versions.design_id) AS product_id";

/// One save attempt.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SaveAttempt {
    /// Attempt id (increasing).
    pub attempt_id: i64,
    /// The draft revision it tried to save.
    pub revision: i32,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// `ok` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// The version it created.
    pub version: Option<i32>,
}

/// One logged edit operation.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EditRecord {
    /// Log id (increasing).
    pub edit_id: i64,
    /// The request it belonged to.
    pub batch_id: Uuid,
    /// Its position in the request.
    pub op_index: i32,
    /// Revision after the request (accepted) or unchanged revision (rejected).
    pub revision: i32,
    /// The operation as sent.
    pub op: Value,
    /// Whether it was applied.
    pub accepted: bool,
    /// Why not.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// An edit operation to log.
#[derive(Debug, Clone, PartialEq)]
pub struct EditLogEntry {
    /// Position in the request.
    pub op_index: i32,
    /// The operation as sent.
    pub op: Value,
    /// Whether it was applied.
    pub accepted: bool,
    /// Why not.
    pub reason: Option<String>,
}

/// A version to insert.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// The design.
    pub design_id: Uuid,
    /// Version number.
    pub version: i32,
    /// Draft revision saved.
    pub design_revision: i32,
    /// Frozen parameters.
    pub parameters: &'a DesignParameters,
    /// Model checksum.
    pub sha256: &'a str,
    /// Model size.
    pub size_bytes: i64,
    /// Triangles.
    pub triangle_count: i32,
    /// Volume, mm³.
    pub volume_mm3: f64,
    /// Bounding box, mm.
    pub bbox: [f64; 3],
    /// Grams per part.
    pub material_grams: f64,
    /// Seconds per part.
    pub estimated_print_seconds: i64,
    /// Material cost per part.
    pub material_cost_cents: i64,
    /// Unit price.
    pub unit_price_cents: i64,
    /// Model store key.
    pub storage_key: &'a str,
}

/// Inserts a new design draft.
pub async fn insert_design(
    pool: &PgPool,
    id: Uuid,
    product_id: Uuid,
    params: &DesignParameters,
    owner: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO designs (id, product_id, parameters, owner_subject) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(product_id)
    .bind(Json(params))
    .bind(owner)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Locks the draft row for the rest of the transaction (edits and saves serialise on it).
pub async fn lock_design(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<DraftRow>, sqlx::Error> {
    sqlx::query_as::<_, DraftRow>(&format!(
        "SELECT {DRAFT_COLUMNS} FROM designs WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Replaces the draft's parameters.
pub async fn update_draft(
    conn: &mut PgConnection,
    id: Uuid,
    params: &DesignParameters,
    revision: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE designs SET parameters = $2, revision = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(Json(params))
    .bind(revision)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Logs the operations of one edit request.
pub async fn insert_edit_log(
    conn: &mut PgConnection,
    design_id: Uuid,
    batch_id: Uuid,
    revision: i32,
    entries: &[EditLogEntry],
) -> Result<(), sqlx::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO design_edits (design_id, batch_id, op_index, revision, op, accepted, reason) ",
    );
    qb.push_values(entries, |mut b, e| {
        b.push_bind(design_id)
            .push_bind(batch_id)
            .push_bind(e.op_index)
            .push_bind(revision)
            .push_bind(Json(storable_json(&e.op)))
            .push_bind(e.accepted)
            .push_bind(e.reason.as_deref().map(storable_text));
    });
    qb.build().execute(conn).await.map(|_| ())
}

/// `text` as PostgreSQL can store it: U+0000 (which neither `text` nor `jsonb` accepts, and
/// which a client may send inside any logged operation) becomes U+FFFD.
fn storable_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// [`storable_text`] applied to every string and key of `value`.
fn storable_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(storable_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (storable_text(k), storable_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The design with its version list.
pub async fn get_design(pool: &PgPool, id: Uuid) -> Result<Option<Design>, sqlx::Error> {
    let Some(row) = sqlx::query_as::<_, DraftRow>(&format!(
        "SELECT {DRAFT_COLUMNS} FROM designs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let versions = sqlx::query_as::<_, VersionSummary>(
        "SELECT version, design_revision, sha256, size_bytes, unit_price_cents, created_at \
         FROM design_versions WHERE design_id = $1 ORDER BY version",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some(Design {
        design_id: row.id,
        product_id: row.product_id,
        parameters: row.parameters,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
        versions,
    }))
}

/// Whether the design exists.
pub async fn design_exists(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM designs WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
}

/// The edit log of a design, oldest first.
pub async fn list_edits(pool: &PgPool, id: Uuid) -> Result<Vec<EditRecord>, sqlx::Error> {
    sqlx::query_as::<_, EditRecord>(
        "SELECT id AS edit_id, batch_id, op_index, revision, op, accepted, reason, at \
         FROM design_edits WHERE design_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// The product's base price.
pub async fn product_base_price(
    conn: &mut PgConnection,
    product_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT base_price_cents FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_one(conn)
        .await
}

/// The next version number of a design (call with the design row locked).
pub async fn next_version(conn: &mut PgConnection, design_id: Uuid) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM design_versions WHERE design_id = $1",
    )
    .bind(design_id)
    .fetch_one(conn)
    .await
}

/// Inserts a saved version.
pub async fn insert_version(
    conn: &mut PgConnection,
    v: &NewVersion<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO design_versions (design_id, version, design_revision, parameters, sha256, \
         size_bytes, triangle_count, volume_mm3, bbox_x_mm, bbox_y_mm, bbox_z_mm, material_grams, \
         estimated_print_seconds, material_cost_cents, unit_price_cents, storage_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(v.design_id)
    .bind(v.version)
    .bind(v.design_revision)
    .bind(Json(v.parameters))
    .bind(v.sha256)
    .bind(v.size_bytes)
    .bind(v.triangle_count)
    .bind(v.volume_mm3)
    .bind(v.bbox[0])
    .bind(v.bbox[1])
    .bind(v.bbox[2])
    .bind(v.material_grams)
    .bind(v.estimated_print_seconds)
    .bind(v.material_cost_cents)
    .bind(v.unit_price_cents)
    .bind(v.storage_key)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Records a save attempt.
pub async fn insert_save_attempt(
    conn: &mut PgConnection,
    design_id: Uuid,
    revision: i32,
    outcome: Result<i32, &str>,
) -> Result<(), sqlx::Error> {
    let (label, reason, version) = match outcome {
        Ok(v) => ("ok", None, Some(v)),
        Err(reason) => ("failed", Some(reason), None),
    };
    sqlx::query(
        "INSERT INTO design_saves (design_id, revision, outcome, reason, version) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(design_id)
    .bind(revision)
    .bind(label)
    .bind(reason)
    .bind(version)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Every save attempt of a design, oldest first.
pub async fn list_saves(pool: &PgPool, id: Uuid) -> Result<Vec<SaveAttempt>, sqlx::Error> {
    sqlx::query_as::<_, SaveAttempt>(
        "SELECT id AS attempt_id, revision, attempted_at, outcome, reason, version \
         FROM design_saves WHERE design_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Every saved version of a design, oldest first.
pub async fn list_versions(pool: &PgPool, id: Uuid) -> Result<Vec<VersionMeta>, sqlx::Error> {
    let rows = sqlx::query_as::<_, VersionRow>(&format!(
        "SELECT {VERSION_COLUMNS} FROM design_versions WHERE design_id = $1 ORDER BY version"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(VersionMeta::from).collect())
}

/// One saved version.
pub async fn get_version(
    conn: impl sqlx::PgExecutor<'_>,
    id: Uuid,
    version: i32,
) -> Result<Option<VersionMeta>, sqlx::Error> {
    let row = sqlx::query_as::<_, VersionRow>(&format!(
        "SELECT {VERSION_COLUMNS} FROM design_versions WHERE design_id = $1 AND version = $2"
    ))
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(VersionMeta::from))
}
