//! `/catalog/*` handlers.

use crate::catalog::product::{self, CategoryCount, Product};
use crate::catalog::search::{self, RawSearchParams, SearchPage};
use crate::state::AppState;
use axum::extract::State;
use printflow_web::{ApiError, Json, Path, Query};
use uuid::Uuid;

/// `GET /catalog/products`
pub async fn search_products(
    State(state): State<AppState>,
    Query(raw): Query<RawSearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    Ok(Json(
        search::search_products(&state.pool, state.search_timeout, &state.metrics, &raw).await?,
    ))
}

/// `GET /catalog/products/{id}`
pub async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        product::get_product(&state.pool, state.search_timeout, id).await?,
    ))
}

/// `GET /catalog/categories`
pub async fn categories(
    State(state): State<AppState>,
) -> Result<Json<Vec<CategoryCount>>, ApiError> {
    Ok(Json(
        product::category_counts(&state.pool, state.search_timeout).await?,
    ))
}
