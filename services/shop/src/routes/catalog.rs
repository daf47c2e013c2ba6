//! `/catalog/*` handlers.

use crate::catalog::product::{self, CategoryCount, Product};
use crate::catalog::search::{self, SearchPage};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use printflow_web::{ApiError, Json, Path};
use uuid::Uuid;

/// `GET /catalog/products` (the query string is parsed by the search, which names the
/// parameter at fault).
pub async fn search_products(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchPage>, ApiError> {
    let query = query.unwrap_or_default();
    Ok(Json(
        search::search_products(
            &state.pool,
            state.search_timeout,
            &state.metrics,
            &state.faults,
            &query,
        )
        .await?,
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
