//! `/printers` and the pause/resume operator actions.

use crate::printers::{self, PrinterView};
use crate::state::AppState;
use axum::extract::State;
use printflow_web::{ApiError, Json, Path};

/// `GET /printers`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PrinterView>>, ApiError> {
    Ok(Json(printers::list(&state.pool).await?))
}

/// `GET /printers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<i32>,
) -> Result<Json<PrinterView>, ApiError> {
    printers::get(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("printer", id))
}

/// `POST /printers/{id}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    Path(id): Path<i32>,
) -> Result<Json<PrinterView>, ApiError> {
    set_paused(state, id, true).await
}

/// `POST /printers/{id}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<i32>,
) -> Result<Json<PrinterView>, ApiError> {
    set_paused(state, id, false).await
}

async fn set_paused(state: AppState, id: i32, paused: bool) -> Result<Json<PrinterView>, ApiError> {
    if !printers::set_paused(&state.pool, id, paused).await? {
        return Err(ApiError::not_found("printer", id));
    }
    get(State(state), Path(id)).await
}
