//! Order placement and status look-ups. CRM is the system of record: the Shop validates the
//! request, prices it from the saved (immutable) design version, and forwards it.
//!
//! The Shop picks the order id, so the single retry after a CRM timeout is idempotent: CRM
//! answers a repeated `order_id` with the order it already recorded.
//!
//! Tracing: placing an order is the `order.place` span ([`place_order`]); look-ups are
//! `order.get` / `order.status.get` ([`lookup`]). They carry business ids only (`order.id`,
//! `design.id`, `product.id`), never a customer field. A failed CRM call is ERROR with
//! `error.type` `crm_timeout`, `crm_unavailable` or `crm_error`; CRM's own 4xx verdict is not.

pub mod crm_client;
pub mod lookup;
pub mod request;

use crate::designs::repo;
use crate::model::store::ModelStore;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use crm_client::{CrmClient, CrmError};
use printflow_contracts::messages::Shipping;
use printflow_contracts::orders::{CreateOrderRequest, OrderView};
use printflow_contracts::PrintSpec;
use printflow_web::ApiError;
use request::PlaceOrder;
use sqlx::PgPool;
use tracing::field::Empty;
use tracing::Instrument;
use uuid::Uuid;

/// Shipping fee per delivery choice, cents.
pub fn shipping_fee_cents(shipping: Shipping) -> i64 {
    match shipping {
        Shipping::Standard => 499,
        Shipping::Express => 1499,
        Shipping::Pickup => 0,
    }
}

/// Total of an order: parts plus shipping. Saturates rather than overflows (the quantity is
/// the client's number; validation bounds it, this function does not rely on that).
pub fn total_price_cents(unit_price_cents: i64, quantity: i32, shipping: Shipping) -> i64 {
    unit_price_cents
        .saturating_mul(i64::from(quantity))
        .saturating_add(shipping_fee_cents(shipping))
}

/// What can go wrong with an order request.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// A request value is unacceptable (422 naming the field).
    #[error("{field}: {message}")]
    Validation {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
    /// The body is not a JSON object.
    #[error("the body must be a JSON object")]
    NotAnObject,
    /// The design version to order was never saved.
    #[error("design {0} has no saved version {1}")]
    VersionNotFound(Uuid, i32),
    /// The saved version's model file is gone: the order could not be printed.
    #[error("the model file of design {0} version {1} is missing")]
    ModelFileMissing(Uuid, i32),
    /// The CRM call failed.
    #[error("CRM call failed: {source}")]
    Crm {
        /// The order id (known to support even when the outcome is unknown).
        order_id: Option<Uuid>,
        /// What CRM did.
        source: CrmError,
    },
    /// The model store failed.
    #[error(transparent)]
    Store(#[from] crate::model::store::StoreError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl OrderError {
    fn crm(order_id: Option<Uuid>, source: CrmError) -> Self {
        OrderError::Crm { order_id, source }
    }

    /// The `error.type` of a server-side or upstream failure; `None` for the client's mistakes
    /// and CRM's verdicts (4xx), which do not mark a span failed.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            OrderError::Validation { .. }
            | OrderError::NotAnObject
            | OrderError::VersionNotFound(..) => None,
            OrderError::ModelFileMissing(..) => Some("model_file_missing"),
            OrderError::Crm { source, .. } => source.error_type(),
            OrderError::Store(_) => Some("model_store_failed"),
            OrderError::Database(_) => Some("database"),
        }
    }
}

/// Marks `span` failed if `err` has an error type (see [`OrderError::error_type`]).
pub fn record_failure(span: &tracing::Span, err: &OrderError) {
    if let Some(error_type) = err.error_type() {
        printflow_telemetry::record_error(span, error_type, &err.to_string());
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        let msg = self.to_string();
        let api = match self {
            OrderError::Validation { field, message } => ApiError::validation(field, message),
            OrderError::NotAnObject => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", msg)
            }
            OrderError::VersionNotFound(..) => {
                ApiError::new(StatusCode::NOT_FOUND, "design_version_not_found", msg)
                    .with_field("design_version")
            }
            OrderError::ModelFileMissing(..) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "model_file_missing", msg)
            }
            OrderError::Crm { order_id, source } => match source {
                // CRM's own verdict (404 unknown order, 409, 422) reaches the client unchanged.
                CrmError::Rejected { status, body } => {
                    return (status, axum::Json(body)).into_response();
                }
                CrmError::Unavailable(detail) => {
                    tracing::warn!(order.id = ?order_id, %detail, "CRM unavailable");
                    ApiError::unavailable(
                        "crm_unavailable",
                        "the order service (CRM) is unreachable; try again later",
                    )
                }
                CrmError::Timeout(t) => {
                    tracing::warn!(order.id = ?order_id, timeout_ms = t.as_millis() as u64, "CRM timed out");
                    let about = order_id
                        .map(|id| format!("; order {id} may or may not have been recorded"))
                        .unwrap_or_default();
                    ApiError::gateway_timeout(
                        "crm_timeout",
                        format!(
                            "the order service (CRM) did not answer within {} ms{about}",
                            t.as_millis()
                        ),
                    )
                }
                CrmError::NoToken(detail) => {
                    tracing::warn!(order.id = ?order_id, %detail, "no service token for CRM");
                    ApiError::unavailable(
                        "identity_provider_unavailable",
                        "the Shop could not authenticate to the order service; try again later",
                    )
                }
                CrmError::ServerError { status } => {
                    tracing::warn!(order.id = ?order_id, crm.status = status.as_u16(), "CRM failed");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "crm_error",
                        format!(
                            "the order service (CRM) failed with status {}",
                            status.as_u16()
                        ),
                    )
                }
                CrmError::BadResponse(detail) => {
                    tracing::error!(order.id = ?order_id, %detail, "CRM broke the contract");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "crm_error",
                        "the order service (CRM) answered with an unexpected body",
                    )
                }
            },
            OrderError::Store(e) => ApiError::internal(e),
            OrderError::Database(e) => ApiError::from(e),
        };
        api.into_response()
    }
}

/// Prices a validated order from its saved design version and places it in CRM (one retry
/// with the same order id if CRM times out), in the span `order.place`: `order.id` (assigned
/// here), `design.id`, `design.version`, `product.id`, `order.quantity`, `order.shipping`,
/// `order.crm.attempts`, and CRM's answer `order.status` / `order.status_version`. No customer
/// field is recorded.
pub async fn place_order(
    pool: &PgPool,
    store: &dyn ModelStore,
    crm: &CrmClient,
    req: PlaceOrder,
    owner: &str,
) -> Result<OrderView, OrderError> {
    let span = tracing::info_span!(
        "order.place",
        order.id = Empty,
        design.id = %req.design_id,
        design.version = req.design_version,
        product.id = Empty,
        order.quantity = req.quantity,
        order.shipping = req.shipping.as_str(),
        order.crm.attempts = Empty,
        order.status = Empty,
        order.status_version = Empty,
        error.type = Empty,
    );
    let result = forward_order(pool, store, crm, req, owner)
        .instrument(span.clone())
        .await;
    if let Err(err) = &result {
        record_failure(&span, err);
    }
    result
}

async fn forward_order(
    pool: &PgPool,
    store: &dyn ModelStore,
    crm: &CrmClient,
    req: PlaceOrder,
    owner: &str,
) -> Result<OrderView, OrderError> {
    let span = tracing::Span::current();
    let version = repo::get_version(pool, req.design_id, req.design_version)
        .await?
        .ok_or(OrderError::VersionNotFound(
            req.design_id,
            req.design_version,
        ))?;
    span.record("product.id", tracing::field::display(version.product_id));
    // Refuse to sell a part whose model file is gone (seed point 3): loudly, before CRM and
    // MES get an order that can never be printed.
    if !store.exists(&version.storage_key).await? {
        tracing::error!(
            storage.key = %version.storage_key,
            "saved model file is MISSING; refusing the order"
        );
        return Err(OrderError::ModelFileMissing(
            req.design_id,
            req.design_version,
        ));
    }
    let order_id = Uuid::now_v7();
    span.record("order.id", tracing::field::display(order_id));
    crate::ownership::record_order_owner(pool, order_id, owner).await?;
    let request = CreateOrderRequest {
        order_id,
        customer: req.customer,
        spec: PrintSpec {
            design_id: req.design_id,
            design_version: req.design_version,
            model_sha256: version.sha256.clone(),
            model_size_bytes: version.size_bytes,
            estimated_print_seconds: version.estimated_print_seconds,
            material: version.parameters.material.as_str().to_owned(),
            quantity: req.quantity,
        },
        shipping: req.shipping,
        total_price_cents: total_price_cents(version.unit_price_cents, req.quantity, req.shipping),
    };
    // Recorded once, after the calls: a field recorded twice is exported twice.
    let (attempts, outcome) = match crm.create_order(&request).await {
        Err(CrmError::Timeout(_)) => {
            tracing::warn!("CRM timed out creating the order; retrying once with the same id");
            (2, crm.create_order(&request).await)
        }
        other => (1, other),
    };
    span.record("order.crm.attempts", attempts);
    let view = outcome.map_err(|e| OrderError::crm(Some(order_id), e))?;
    span.record("order.status", view.status.as_str());
    span.record("order.status_version", view.status_version);
    tracing::info!(order.status = %view.status, "order placed");
    Ok(view)
}

/// Maps a CRM look-up failure.
pub fn lookup_error(order_id: Uuid, err: CrmError) -> OrderError {
    OrderError::crm(Some(order_id), err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_mistakes_and_crm_verdicts_are_not_failures() {
        let id = Uuid::nil();
        assert_eq!(OrderError::NotAnObject.error_type(), None);
        assert_eq!(OrderError::VersionNotFound(id, 1).error_type(), None);
        let refused = OrderError::crm(
            Some(id),
            CrmError::Rejected {
                status: StatusCode::CONFLICT,
                body: serde_json::json!({}),
            },
        );
        assert_eq!(refused.error_type(), None);
        let timeout = OrderError::crm(
            Some(id),
            CrmError::Timeout(std::time::Duration::from_millis(1)),
        );
        assert_eq!(timeout.error_type(), Some("crm_timeout"));
        assert_eq!(
            OrderError::ModelFileMissing(id, 1).error_type(),
            Some("model_file_missing")
        );
    }

    #[test]
    fn totals_include_shipping() {
        assert_eq!(total_price_cents(1000, 3, Shipping::Standard), 3499);
        assert_eq!(total_price_cents(1000, 3, Shipping::Express), 4499);
        assert_eq!(total_price_cents(1000, 3, Shipping::Pickup), 3000);
        assert_eq!(
            total_price_cents(i64::MAX / 2, i32::MAX, Shipping::Express),
            i64::MAX
        );
    }
}
