//! `GET /admin/faults`, `PUT` and `DELETE /admin/faults/{name}`: list, arm and disarm. The
//! caller puts them behind the `admin` role (the runtime does); [`OPENAPI`] documents them and
//! [`merge_openapi`] adds that to a service's own document.

use crate::registry::{ArmError, Arming, FaultView, Faults};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use printflow_auth::Principal;
use printflow_web::extract::Json;
use printflow_web::ApiError;
use serde::Serialize;

/// The routes' OpenAPI paths and schemas, merged into each service's document.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /admin/faults`.
#[derive(Debug, Serialize)]
pub struct FaultList {
    /// Every fault this service can simulate, armed or not.
    pub faults: Vec<FaultView>,
}

/// The three routes over `faults` (not yet guarded: add the `admin` check around them).
pub fn router(faults: Faults) -> Router {
    Router::new()
        .route("/admin/faults", get(list))
        .route("/admin/faults/{name}", put(arm).delete(disarm))
        .with_state(faults)
}

async fn list(State(faults): State<Faults>) -> Result<Json<FaultList>, ApiError> {
    Ok(Json(FaultList {
        faults: faults.list().map_err(refusal)?,
    }))
}

async fn arm(
    State(faults): State<Faults>,
    principal: Principal,
    Path(name): Path<String>,
    Json(arming): Json<Arming>,
) -> Result<Json<FaultView>, ApiError> {
    faults
        .arm(&name, arming, who(&principal))
        .map(Json)
        .map_err(refusal)
}

async fn disarm(
    State(faults): State<Faults>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<Json<FaultView>, ApiError> {
    faults.disarm(&name, who(&principal)).map_err(refusal)?;
    let view = faults
        .list()
        .map_err(refusal)?
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| refusal(ArmError::Unknown(name)))?;
    Ok(Json(view))
}

fn who(principal: &Principal) -> &str {
    principal.username.as_deref().unwrap_or(&principal.subject)
}

fn refusal(err: ArmError) -> ApiError {
    match err {
        ArmError::Disabled => ApiError::new(
            StatusCode::NOT_FOUND,
            "faults_disabled",
            "fault injection is off in this process (start it with PRINTFLOW_FAULTS=enabled)",
        ),
        ArmError::Unknown(name) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_fault",
            format!("this service has no fault named {name:?} (GET /admin/faults lists them)"),
        ),
        ArmError::Invalid(field, why) => ApiError::validation(field, why),
    }
}

/// `document` (a service's OpenAPI) with the fault routes' paths and schemas added.
///
/// # Panics
/// If `document` is not a JSON object with `paths` and `components.schemas` objects: it is a
/// file compiled into the binary, and its own tests parse it.
pub fn merge_openapi(document: &str) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(document).expect("service OpenAPI is JSON");
    let extra: serde_json::Value = serde_json::from_str(OPENAPI).expect("faults OpenAPI is JSON");
    for section in ["/paths", "/components/schemas"] {
        let target = doc
            .pointer_mut(section)
            .and_then(serde_json::Value::as_object_mut)
            .expect("service OpenAPI has paths and schemas");
        for (key, value) in extra
            .pointer(section)
            .and_then(|v| v.as_object())
            .into_iter()
            .flatten()
        {
            target.insert(key.clone(), value.clone());
        }
    }
    doc.to_string()
}
