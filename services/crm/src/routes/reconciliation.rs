//! `GET /reconciliation` (what CRM and MES disagree on) and `POST /orders/{id}/repair`.

use crate::reconcile::repair::{repair, RepairContext, RepairError, RepairOutcome};
use crate::reconcile::Report;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use printflow_auth::Principal;
use printflow_web::{ApiError, Json, Path};
use uuid::Uuid;

/// `GET /reconciliation`: the last run's report; 503 `not_reconciled_yet` before the first run
/// completed (MES not reachable since start-up, or the first interval not over).
pub async fn report(State(state): State<AppState>) -> Result<Json<Report>, ApiError> {
    state.reconciler.latest().map(Json).ok_or_else(|| {
        ApiError::unavailable(
            "not_reconciled_yet",
            "no reconciliation run has completed yet (see printflow_reconciliation_runs_total)",
        )
    })
}

/// `POST /orders/{id}/repair`.
pub async fn repair_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<RepairOutcome>, ApiError> {
    let by = principal.username.as_deref().unwrap_or(&principal.subject);
    let cx = RepairContext {
        db: &state.db,
        outbox: &state.outbox,
        metrics: &state.metrics,
    };
    repair(&state.reconciler, cx, id, by)
        .await
        .map(Json)
        .map_err(|e| match e {
            RepairError::NotFound(id) => ApiError::not_found("order", id),
            RepairError::NothingToRepair(_) => {
                ApiError::conflict("nothing_to_repair", e.to_string())
            }
            RepairError::NoSafeRepair(_) => ApiError::conflict("no_safe_repair", e.to_string()),
            RepairError::Mes(_) => ApiError::unavailable("mes_unavailable", e.to_string()),
            RepairError::Database(err) => ApiError::from(err),
            RepairError::Apply(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "repair_failed", e.to_string())
            }
        })
}
