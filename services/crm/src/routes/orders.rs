//! `/orders` handlers.

use crate::orders::create::{create_order, Created};
use crate::orders::list::{list_orders, ListParams, OrderPage};
use crate::orders::read::{
    get_events, get_history, get_order, get_status, EventsView, HistoryView,
};
use crate::orders::{cancel::cancel_order, OrderError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use printflow_contracts::orders::{CreateOrderRequest, OrderView, StatusView};
use printflow_faults::Faults;
use printflow_web::{ApiError, Json, Path, Query};
use uuid::Uuid;

/// `POST /orders`: 201 for a new order, 200 for a repeat of an existing one.
pub async fn create(
    State(state): State<AppState>,
    Json(req): Json<CreateOrderRequest>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    match create_order(&state.db, &state.outbox, req).await? {
        Created::New(view) => {
            state.metrics.order_created();
            Ok((StatusCode::CREATED, Json(view)))
        }
        Created::Existing(view) => Ok((StatusCode::OK, Json(view))),
    }
}

/// `GET /orders?status=&page=&per_page=`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let filter = params.parse().map_err(OrderError::from)?;
    Ok(Json(list_orders(&state.db, filter).await?))
}

/// `GET /orders/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    stall(&state.faults).await;
    Ok(Json(get_order(&state.db, id).await?))
}

/// `GET /orders/{id}/status`.
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<StatusView>, ApiError> {
    stall(&state.faults).await;
    Ok(Json(get_status(&state.db, id).await?))
}

/// `GET /orders/{id}/history`.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<HistoryView>, ApiError> {
    Ok(Json(get_history(&state.db, id).await?))
}

/// `GET /orders/{id}/events`.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<EventsView>, ApiError> {
    Ok(Json(get_events(&state.db, id).await?))
}

/// `POST /orders/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<OrderView>, ApiError> {
    Ok(Json(
        cancel_order(&state.db, &state.outbox, &state.metrics, id).await?,
    ))
}

/// The drill fault [`crate::faults::STATUS_STALL`]: the answer waits `delay_ms` first, as a
/// process stuck on a lock or paused would (seed point 8; the caller's deadline must end it).
async fn stall(faults: &Faults) {
    if let Some(hit) = faults.hit(crate::faults::STATUS_STALL) {
        tokio::time::sleep(hit.delay).await;
    }
}
