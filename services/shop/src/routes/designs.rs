//! `/designs/*` handlers.

use crate::designs::model_file::load_model;
use crate::designs::repo::{Design, EditRecord, SaveAttempt, VersionMeta};
use crate::designs::DesignError;
use crate::designs::{create_design, edits, read, save};
use crate::ownership;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use printflow_auth::Principal;
use printflow_web::{ApiError, Json, Path};
use serde_json::Value;
use uuid::Uuid;

/// `POST /designs {product_id}` -> 201 design.
pub async fn create(
    State(state): State<AppState>,
    caller: Principal,
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
    let design = create_design(&state.pool, product_id, &caller.subject).await?;
    Ok((StatusCode::CREATED, Json(design)))
}

/// `GET /designs/{id}`
pub async fn get(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Design>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(read::get_design(&state.pool, id).await?))
}

/// `POST /designs/{id}/edits {operations:[...]}` -> 200 design, or 422 `edit_rejected`.
pub async fn edit(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<Value>,
) -> Result<Json<Design>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(
        edits::edit_request(&state.pool, &state.metrics, id, &body).await?,
    ))
}

/// `GET /designs/{id}/edits` -> every logged edit operation.
pub async fn list_edits(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<EditRecord>>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(read::list_edits(&state.pool, id).await?))
}

/// `POST /designs/{id}/versions` (SAVE) -> 201 version, or 422 `design_invalid`.
pub async fn save_version(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, Json<VersionMeta>), ApiError> {
    visible(&state, &caller, id).await?;
    let meta = save::save_version(
        &state.pool,
        state.store.as_ref(),
        &state.build_volume,
        &state.metrics,
        &state.faults,
        id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(meta)))
}

/// `GET /designs/{id}/versions`
pub async fn list_versions(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<VersionMeta>>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(read::list_versions(&state.pool, id).await?))
}

/// `GET /designs/{id}/versions/{version}`
pub async fn get_version(
    State(state): State<AppState>,
    caller: Principal,
    Path((id, version)): Path<(Uuid, i32)>,
) -> Result<Json<VersionMeta>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(read::get_version(&state.pool, id, version).await?))
}

/// `GET /designs/{id}/versions/{version}/model` -> the verified STL bytes.
pub async fn download_model(
    State(state): State<AppState>,
    caller: Principal,
    Path((id, version)): Path<(Uuid, i32)>,
) -> Result<Response, ApiError> {
    visible(&state, &caller, id).await?;
    let file = load_model(
        &state.pool,
        state.store.as_ref(),
        &state.faults,
        id,
        version,
    )
    .await
    .inspect_err(|e| match e {
        DesignError::ModelFileMissing(..) => state.metrics.model_file_unreadable("missing"),
        DesignError::ModelFileCorrupt(..) => state.metrics.model_file_unreadable("corrupt"),
        _ => {}
    })?;
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
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<SaveAttempt>>, ApiError> {
    visible(&state, &caller, id).await?;
    Ok(Json(read::list_saves(&state.pool, id).await?))
}

/// Someone else's design answers like a missing one (`design_not_found`).
async fn visible(state: &AppState, caller: &Principal, id: Uuid) -> Result<(), ApiError> {
    if ownership::may_see_design(&state.pool, caller, id).await? {
        Ok(())
    } else {
        Err(DesignError::NotFound(id).into())
    }
}
