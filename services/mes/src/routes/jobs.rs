//! `/jobs`, `/orders/{order_id}/job` and the operator actions on jobs.

use crate::jobs::{queries, Job, JobEvent};
use crate::operator::{self, QcResult};
use crate::state::AppState;
use axum::extract::State;
use printflow_contracts::jobs::{JobStates, JobStatesRequest, MAX_JOB_STATES};
use printflow_contracts::OrderStatus;
use printflow_web::{ApiError, Json, Path, Query};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest page.
pub const MAX_PER_PAGE: u32 = 100;
/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 20;

/// `GET /jobs` query.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// Only jobs in this status (`PRINTING`, case-insensitive).
    pub status: Option<String>,
    /// 1-based page.
    pub page: Option<u32>,
    /// Jobs per page, 1..=100.
    pub per_page: Option<u32>,
}

/// `GET /jobs` answer.
#[derive(Debug, Serialize)]
pub struct JobList {
    /// This page's jobs, newest first.
    pub items: Vec<Job>,
    /// The page number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
    /// Matching jobs in total.
    pub total: i64,
}

/// `POST /jobs/{id}/qc` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QcRequest {
    /// `pass` or `fail`.
    pub result: QcResult,
    /// Operator's note (kept as the event detail).
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /jobs`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<JobList>, ApiError> {
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<OrderStatus>())
        .transpose()
        .map_err(|e| ApiError::validation("status", e.to_string()))?;
    let page = params.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::validation("page", "page starts at 1"));
    }
    let per_page = params.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::validation(
            "per_page",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let found = queries::list(&state.pool, status, page, per_page).await?;
    Ok(Json(JobList {
        items: found.items,
        page,
        per_page,
        total: found.total,
    }))
}

/// `GET /jobs/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Job>, ApiError> {
    queries::get(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("job", id))
}

/// `GET /jobs/{id}/events`.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<JobEvent>>, ApiError> {
    queries::events(&state.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("job", id))
}

/// `GET /orders/{order_id}/job`.
pub async fn for_order(
    State(state): State<AppState>,
    Path(order_id): Path<Uuid>,
) -> Result<Json<Job>, ApiError> {
    queries::for_order(&state.pool, order_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("job for order", order_id))
}

/// `POST /jobs/{id}/qc`.
pub async fn quality_check(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<QcRequest>,
) -> Result<Json<Job>, ApiError> {
    let job = operator::quality_check(
        &state.pool,
        &state.production,
        &state.signal,
        id,
        body.result,
        body.note,
    )
    .await?;
    Ok(Json(job))
}

/// `POST /jobs/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Job>, ApiError> {
    let job = operator::retry(&state.pool, &state.production, &state.signal, id).await?;
    Ok(Json(job))
}

/// `POST /jobs/states`: the jobs of up to [`MAX_JOB_STATES`] orders at once (read-only; a POST
/// because the ids do not fit a URL).
pub async fn states(
    State(state): State<AppState>,
    Json(req): Json<JobStatesRequest>,
) -> Result<Json<JobStates>, ApiError> {
    if req.order_ids.is_empty() || req.order_ids.len() > MAX_JOB_STATES {
        return Err(ApiError::validation(
            "order_ids",
            format!("give between 1 and {MAX_JOB_STATES} order ids"),
        ));
    }
    Ok(Json(JobStates {
        jobs: queries::states(&state.pool, &req.order_ids).await?,
    }))
}
