//! `/designs/*` handlers.

use crate::app::AppState;
use crate::designs::model_file::{load_model, version_or_404};
use crate::designs::repo::{self, Design, EditRecord, SaveAttempt, VersionMeta};
use crate::designs::{create_design, edits, save, DesignError};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use printflow_web::{ApiError, Json, Path};
use serde_json::Value;
use uuid::Uuid;

/// `POST /designs {product_id}` -> 201 design.
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Design>), ApiError> {
    let raw = body
        .get("product_id")
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::validation("product_id", "product_id is required"))?;
    let product_id = raw
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::validation("product_id", "product_id must be a UUID string"))?;
    let design = create_design(&state.pool, product_id).await?;
    Ok((StatusCode::CREATED, Json(design)))
}

/// `GET /designs/{id}`
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Design>, ApiError> {
    let design = repo::get_design(&state.pool, id)
        .await
        .map_err(DesignError::from)?
        .ok_or(DesignError::NotFound(id))?;
    Ok(Json(design))
}

/// `POST /designs/{id}/edits {operations:[...]}` -> 200 design, or 422 `edit_rejected`.
pub async fn edit(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<Value>,
) -> Result<Json<Design>, ApiError> {
    let ops = body
        .get("operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::validation(
                "operations",
                "operations must be an array of edit operations",
            )
        })?;
    Ok(Json(edits::edit_design(&state.pool, id, ops).await?))
}

async fn ensure_design(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    if repo::design_exists(&state.pool, id).await? {
        Ok(())
    } else {
        Err(DesignError::NotFound(id).into())
    }
}

/// `GET /designs/{id}/edits` -> every logged edit operation.
pub async fn list_edits(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<EditRecord>>, ApiError> {
    ensure_design(&state, id).await?;
    Ok(Json(repo::list_edits(&state.pool, id).await?))
}

/// `POST /designs/{id}/versions` (SAVE) -> 201 version, or 422 `design_invalid`.
pub async fn save_version(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<VersionMeta>), ApiError> {
    let meta =
        save::save_version(&state.pool, state.store.as_ref(), &state.build_volume, id).await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /designs/{id}/versions`
pub async fn list_versions(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<VersionMeta>>, ApiError> {
    ensure_design(&state, id).await?;
    Ok(Json(repo::list_versions(&state.pool, id).await?))
}

/// `GET /designs/{id}/versions/{version}`
pub async fn get_version(
    State(state): State<AppState>,
    Path((id, version)): Path<(Uuid, i32)>,
) -> Result<Json<VersionMeta>, ApiError> {
    Ok(Json(version_or_404(&state.pool, id, version).await?))
}

/// `GET /designs/{id}/versions/{version}/model` -> the verified STL bytes.
pub async fn download_model(
    State(state): State<AppState>,
    Path((id, version)): Path<(Uuid, i32)>,
) -> Result<Response, ApiError> {
    let file = load_model(&state.pool, state.store.as_ref(), id, version).await?;
    let header_value = |s: String| {
        HeaderValue::from_str(&s).map_err(|e| ApiError::internal(format!("bad header value: {e}")))
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("model/stl")),
        (
            header::CONTENT_DISPOSITION,
            header_value(format!("attachment; filename=\"{}\"", file.file_name))?,
        ),
        (
            header::HeaderName::from_static("x-checksum-sha256"),
            header_value(file.sha256.clone())?,
        ),
        (header::ETAG, header_value(format!("\"{}\"", file.sha256))?),
    ];
    Ok((headers, file.bytes).into_response())
}

/// `GET /designs/{id}/saves` -> every save attempt.
pub async fn list_saves(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<SaveAttempt>>, ApiError> {
    ensure_design(&state, id).await?;
    Ok(Json(repo::list_saves(&state.pool, id).await?))
}
