//! Order look-ups forwarded to CRM, each in its own span so every status request shows the
//! status it returned:
//!
//! | span               | attributes                                                          |
//! |--------------------|---------------------------------------------------------------------|
//! | `order.get`        | `order.id`, `order.status`, `order.status_version`, `design.id`,    |
//! |                    | `design.version`                                                    |
//! | `order.status.get` | `order.id`, `order.status`, `order.status_version`                  |
//!
//! An upstream failure is ERROR with `error.type` `crm_timeout` / `crm_unavailable` /
//! `crm_error`; CRM's 404 for an unknown order passes through without ERROR.

use super::crm_client::CrmClient;
use super::{lookup_error, record_failure, OrderError};
use printflow_contracts::orders::{OrderView, StatusView};
use tracing::field::Empty;
use tracing::Instrument;
use uuid::Uuid;

/// CRM's view of order `order_id` (`order.get`).
pub async fn get_order(crm: &CrmClient, order_id: Uuid) -> Result<OrderView, OrderError> {
    let span = tracing::info_span!(
        "order.get",
        order.id = %order_id,
        order.status = Empty,
        order.status_version = Empty,
        design.id = Empty,
        design.version = Empty,
        error.type = Empty,
    );
    let result = crm
        .get_order(order_id)
        .instrument(span.clone())
        .await
        .map_err(|e| lookup_error(order_id, e));
    match &result {
        Ok(view) => {
            span.record("order.status", view.status.as_str());
            span.record("order.status_version", view.status_version);
            span.record("design.id", tracing::field::display(view.design_id));
            span.record("design.version", view.design_version);
        }
        Err(err) => record_failure(&span, err),
    }
    result
}

/// CRM's current status of order `order_id` (`order.status.get`).
pub async fn get_status(crm: &CrmClient, order_id: Uuid) -> Result<StatusView, OrderError> {
    let span = tracing::info_span!(
        "order.status.get",
        order.id = %order_id,
        order.status = Empty,
        order.status_version = Empty,
        error.type = Empty,
    );
    let result = crm
        .get_status(order_id)
        .instrument(span.clone())
        .await
        .map_err(|e| lookup_error(order_id, e));
    match &result {
        Ok(view) => {
            span.record("order.status", view.status.as_str());
            span.record("order.status_version", view.status_version);
        }
        Err(err) => record_failure(&span, err),
    }
    result
}
