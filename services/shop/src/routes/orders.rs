//! `/orders/*` handlers (forwarded to CRM).

use crate::orders::{lookup, place_order, request, OrderError};
use crate::ownership;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use printflow_auth::Principal;
use printflow_contracts::orders::{OrderView, StatusView};
use printflow_web::{ApiError, Json, Path};
use serde_json::Value;
use uuid::Uuid;

/// `POST /orders` -> 201 CRM's order.
pub async fn create(
    State(state): State<AppState>,
    caller: Principal,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<OrderView>), OrderError> {
    let req = request::parse(&body)?;
    // Only one's own design can be ordered; another's answers like a missing one.
    if !ownership::may_see_design(&state.pool, &caller, req.design_id).await? {
        return Err(OrderError::VersionNotFound(
            req.design_id,
            req.design_version,
        ));
    }
    let view = place_order(
        &state.pool,
        state.store.as_ref(),
        &state.crm,
        req,
        &caller.subject,
    )
    .await
    .inspect_err(|e| {
        if let OrderError::ModelFileMissing(..) = e {
            state.metrics.model_file_unreadable("missing");
        }
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /orders/{id}` -> CRM's order (a customer's own only).
pub async fn get(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderView>, Response> {
    visible(&state, &caller, id).await?;
    lookup::get_order(&state.crm, id)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

/// `GET /orders/{id}/status` -> CRM's status view (a customer's own only).
pub async fn status(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<StatusView>, Response> {
    visible(&state, &caller, id).await?;
    lookup::get_status(&state.crm, id)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

/// Someone else's order answers as CRM answers an unknown one.
async fn visible(state: &AppState, caller: &Principal, id: Uuid) -> Result<(), Response> {
    match ownership::may_see_order(&state.pool, caller, id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            format!("order {id} does not exist"),
        )
        .into_response()),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}
