//! `GET /healthz` and `GET /readyz` with named readiness checks (database, broker, model store,
//! ...): what orchestrators and `scripts/stack.sh` poll.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// One named readiness check: `Ok` when the dependency answers, `Err(reason)` otherwise.
pub type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long one check may take; a dependency that hangs makes the service "not ready" instead
/// of making the probe hang.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A check from an async function, e.g. `check_fn(move || { let s = s.clone(); async move {
/// s.ping().await } })`.
pub fn check_fn<F, Fut>(check: F) -> Check
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move || Box::pin(check()))
}

/// A readiness check that runs `SELECT 1` on the pool.
pub fn database_check(pool: sqlx::PgPool) -> Check {
    check_fn(move || {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
}

/// `GET /healthz` (the process answers) and `GET /readyz` (every check passes: 200
/// `{"status": "ready", "checks": {name: "ok"}}`; otherwise 503 `not_ready` with
/// `"error: <reason>"` for each failing check).
pub fn health_routes(checks: Vec<(&'static str, Check)>) -> Router {
    let checks = Arc::new(checks);
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let checks = checks.clone();
                async move { readiness(&checks).await }
            }),
        )
}

async fn readiness(checks: &[(&'static str, Check)]) -> Response {
    let mut report = serde_json::Map::new();
    let mut ready = true;
    for (name, check) in checks {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => {
                ready = false;
                format!("error: {e}")
            }
            Err(_) => {
                ready = false;
                "error: timed out".to_owned()
            }
        };
        report.insert((*name).to_owned(), outcome.into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": report,
    });
    (status, axum::Json(body)).into_response()
}
