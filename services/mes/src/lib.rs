//! printflow MES: manufacturing.
//!
//! Turns `order.created` events into production jobs on a simulated printer farm and publishes
//! every job transition as `order.status_changed` through a transactional outbox.
//!
//! - [`jobs::intake`]: the `mes.order_created` consumer (one job per order, idempotent).
//! - [`jobs::transition`]: the single function through which every status change happens; it
//!   writes the job, its history and the outgoing event in one transaction with a gap-free
//!   per-order sequence (seed point 7).
//! - [`jobs::verify`]: model verification against Shop before printing (seed point 6).
//! - [`scheduler`]: starts prints, ends timed phases, rolls simulated failures.
//! - [`operator`], [`printers`]: operator actions (QC verdicts, retries, pause/resume).
//! - [`metrics`]: the MES gauges (jobs per status, printer queues, paused printers), read from
//!   the database when Prometheus scrapes `GET /metrics`.
//! - [`routes`]: the HTTP API; [`app`]: start-up and the run loop; [`config`]: `MES_*` settings.

pub mod app;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod operator;
pub mod printers;
pub mod production;
pub mod routes;
pub mod scheduler;
pub mod shop_client;
pub mod stl;

pub use app::Application;
pub use config::Config;

use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The embedded migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Runs the MES migrations and creates the outbox table.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await?;
    printflow_messaging::outbox::migrate(pool)
        .await
        .map_err(sqlx::migrate::MigrateError::Execute)
}

/// A short digest of the schema (the migrations' checksums and the outbox DDL), so tests can
/// name a template database that is rebuilt whenever the schema changes.
pub fn schema_fingerprint() -> String {
    let mut h = Sha256::new();
    for m in MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&m.checksum);
    }
    h.update(printflow_messaging::outbox::SCHEMA.as_bytes());
    hex::encode(&h.finalize()[..6])
}
