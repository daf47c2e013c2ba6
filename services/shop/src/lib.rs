//! printflow Shop API: the customer-facing service.
//!
//! - [`catalog`]: search over a deterministic catalog of 12,000 printable products (full-text
//!   search, filters, stable paging), with a statement timeout so a search never hangs (seed
//!   point 1).
//! - [`designs`]: the 3D design editor. A design is a mutable draft edited by validated,
//!   all-or-nothing operations (each one logged); saving forms a real binary STL model
//!   ([`model`]), validates it (closed, oriented, positive volume, fits the printer), writes it
//!   atomically to the [`model::store::ModelStore`] and records an immutable version (seed points
//!   2, 3 and 6).
//! - [`orders`]: order placement and status look-ups, forwarded to CRM (the system of record)
//!   through [`orders::crm_client`], with timeouts told apart from an unreachable CRM (seed
//!   point 8).
//!
//! - [`metrics`]: catalog search durations and result counts, design save and edit outcomes,
//!   served with the HTTP latency histogram at `GET /metrics`.
//!
//! [`app`] lists what the Shop adds to the shared runtime (`printflow-runtime`): routes
//! ([`routes`], reading the [`state::AppState`]), checks and settings ([`config::Config`]).
//!
//! Layering, top-down (a module uses only those below it; `tools/layering` checks that none
//! import each other): `app`; `routes`; `state`; `orders`; `designs`; `catalog`; `model`;
//! `config`, `metrics`, `ownership`.
//!
//! - [`ownership`]: whose designs and orders a caller may see (docs/security.md).

pub mod app;
pub mod catalog;
pub mod config;
pub mod designs;
pub mod faults;
pub mod metrics;
pub mod model;
pub mod orders;
pub mod ownership;
pub mod routes;
pub mod state;

use printflow_runtime::Schema;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;
use std::sync::LazyLock;

/// The embedded migrations of `services/shop/migrations` (catalog seed and design tables).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The Shop's whole schema. It publishes no events, so it has no outbox.
pub static SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::new(&[&MIGRATOR]));

/// Brings the schema up to date (idempotent).
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    SCHEMA.migrate(pool).await
}

/// The schema's fingerprint, which tests name their template database with.
pub fn schema_fingerprint() -> String {
    SCHEMA.fingerprint()
}
