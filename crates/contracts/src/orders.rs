//! The Shop -> CRM order API contract (`POST /orders`, `GET /orders/{id}` on CRM).

use crate::messages::Shipping;
use crate::print_spec::PrintSpec;
use crate::status::OrderStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who is ordering. CRM keeps this; it never leaves CRM in events or telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// Full name, 1..=200 characters.
    pub name: String,
    /// E-mail address; customers are matched on it (case-insensitive).
    pub email: String,
    /// Optional phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// Body of CRM's `POST /orders`, sent by Shop once the design version has been checked.
///
/// `order_id` is chosen by Shop so that a retried call after a timeout is idempotent: CRM answers
/// a repeated id with the order it already has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateOrderRequest {
    /// Client-chosen order id.
    pub order_id: Uuid,
    /// The ordering customer.
    pub customer: CustomerInput,
    /// What to print: design version, model checksum and size, print time, material,
    /// quantity (flattened: its fields sit at the top level of the JSON body).
    #[serde(flatten)]
    pub spec: PrintSpec,
    /// Delivery choice.
    pub shipping: Shipping,
    /// Price of the whole order in cents.
    pub total_price_cents: i64,
}

/// An order as CRM reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    /// The order id.
    pub order_id: Uuid,
    /// CRM customer id.
    pub customer_id: Uuid,
    /// Shop design id.
    pub design_id: Uuid,
    /// Saved design version.
    pub design_version: i32,
    /// Parts to print.
    pub quantity: i32,
    /// Delivery choice.
    pub shipping: Shipping,
    /// Price in cents.
    pub total_price_cents: i64,
    /// Current status.
    pub status: OrderStatus,
    /// Increments with every status change; lets a client tell a newer answer from an older one.
    pub status_version: i64,
    /// When the current status was entered.
    pub status_since: DateTime<Utc>,
    /// Failure reason when `status` is `FAILED`.
    pub failure_reason: Option<String>,
    /// When the order was created.
    pub created_at: DateTime<Utc>,
}

/// CRM's `GET /orders/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// The order id.
    pub order_id: Uuid,
    /// Current status.
    pub status: OrderStatus,
    /// See [`OrderView::status_version`].
    pub status_version: i64,
    /// When the current status was entered.
    pub since: DateTime<Utc>,
    /// Failure reason when `status` is `FAILED`.
    pub failure_reason: Option<String>,
}

/// One entry of CRM's `GET /orders/{id}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusHistoryEntry {
    /// Status before the change (`None` for the creation entry).
    pub from_status: Option<OrderStatus>,
    /// Status after the change.
    pub to_status: OrderStatus,
    /// `status_version` after the change.
    pub status_version: i64,
    /// Producer sequence for MES events, `None` for changes made in CRM.
    pub source_sequence: Option<i64>,
    /// `crm` or `mes`.
    pub source: String,
    /// Failure reason or note.
    pub detail: Option<String>,
    /// When the change happened.
    pub changed_at: DateTime<Utc>,
}
