//! CRM API: the system of record for customers, orders and order statuses.
//!
//! - [`orders`]: creating orders (idempotent on the client-chosen id, with an `order.created`
//!   event written to the transactional outbox in the same transaction), reading them, listing
//!   them by status and cancelling them.
//! - [`status_events`]: the consumer of MES `order.status_changed` events. Every event is
//!   recorded in an inbox and applied exactly once, in sequence order, through the shared state
//!   machine; duplicates, stale and illegal events are recorded but never move a status.
//! - [`status_trace`]: the span events that record status changes, shared by the consumer and
//!   cancellation, and [`status_trace::EventOutcome`] (what became of a status event), which
//!   lives there, below both [`metrics`] and [`status_events`], so neither imports the other's.
//! - [`customers`]: customer records (personal data stays here; events carry only ids).
//! - [`metrics`]: orders per status, time in status, lead time, status-event outcomes and the
//!   overstay gauges against the limits of [`status_limits`] (`CRM_STATUS_LIMITS`), served at
//!   `GET /metrics`.
//! - [`routes`] (reading the [`state::AppState`]), [`app`], [`config`]: the HTTP surface and
//!   what the CRM adds to the shared runtime (`printflow-runtime`).
//!
//! Errors: each area has its own error enum converted into `printflow_web::ApiError` at the
//! handler boundary; the consumer answers `HandleError::Poison` for messages that can never be
//! applied (they are dead-lettered with the reason) and `Transient` for database trouble.
//!
//! Layering, top-down (a module uses only those below it; `tools/layering` checks that none
//! import each other): `app`; `routes`; `orders`, `customers`, `state`; `status_events`;
//! `metrics`; `config`; `db`, `status_limits`, `status_trace`.

pub mod app;
pub mod config;
pub mod customers;
pub mod db;
pub mod faults;
pub mod metrics;
pub mod orders;
pub mod reconcile;
pub mod routes;
pub mod state;
pub mod status_events;
pub mod status_limits;
pub mod status_trace;

pub use app::Application;
pub use config::Config;

use printflow_runtime::Schema;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;
use std::sync::LazyLock;

/// The embedded SQL migrations of `services/crm/migrations`.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The CRM's whole schema: its migrations plus the shared outbox table.
pub static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::new(&[&MIGRATOR, &printflow_messaging::outbox::MIGRATOR]));

/// Brings `pool`'s database to the current schema (idempotent).
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    SCHEMA.migrate(pool).await
}

/// The schema's fingerprint, which tests name their template database with.
pub fn schema_fingerprint() -> String {
    SCHEMA.fingerprint()
}
