//! `/customers` handlers.

use crate::customers::{get_customer, CustomerView};
use crate::state::AppState;
use axum::extract::State;
use printflow_web::{ApiError, Json, Path};
use uuid::Uuid;

/// `GET /customers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(get_customer(&state.db, id).await?))
}
