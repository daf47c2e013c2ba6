//! `/orders/*` handlers (forwarded to CRM).

use crate::orders::{lookup, place_order, request, OrderError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use printflow_contracts::orders::{OrderView, StatusView};
use printflow_web::{Json, Path};
use serde_json::Value;
use uuid::Uuid;

/// `POST /orders` -> 201 CRM's order.
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<OrderView>), OrderError> {
    let req = request::parse(&body)?;
    let view = place_order(&state.pool, state.store.as_ref(), &state.crm, req).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /orders/{id}` -> CRM's order.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderView>, OrderError> {
    Ok(Json(lookup::get_order(&state.crm, id).await?))
}

/// `GET /orders/{id}/status` -> CRM's status view.
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<StatusView>, OrderError> {
    Ok(Json(lookup::get_status(&state.crm, id).await?))
}
