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
//! [`app::Application`] wires it together; [`config::Config`] lists every setting.

pub mod app;
pub mod catalog;
pub mod config;
pub mod designs;
pub mod metrics;
pub mod model;
pub mod orders;
pub mod routes;

use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The embedded migrations (catalog seed and design tables).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Brings the schema up to date (idempotent).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// A short digest of the embedded migrations, so tests can build (and reuse) a template
/// database per schema version.
pub fn schema_fingerprint() -> String {
    let mut h = Sha256::new();
    for m in MIGRATOR.iter() {
        h.update(m.version.to_be_bytes());
        h.update(&m.checksum);
    }
    hex::encode(&h.finalize()[..6])
}
