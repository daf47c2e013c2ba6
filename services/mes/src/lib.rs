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
//! - [`routes`]: the HTTP API, reading the [`state::AppState`]; [`app`]: what MES adds to the
//!   shared runtime (`printflow-runtime`), including its background tasks; [`config`]: `MES_*`
//!   settings.
//!
//! Layering, top-down (a module uses only those below it; `tools/layering` checks that none
//! import each other): `app`; `routes`; `printers`, `operator`, `scheduler`; `jobs`;
//! `assignment` (which printer a job queues on), `shop_client`, `stl`, `state`, `config`,
//! `production`, `metrics`.

pub mod app;
pub mod assignment;
pub mod config;
pub mod faults;
pub mod jobs;
pub mod metrics;
pub mod operator;
pub mod printers;
pub mod production;
pub mod routes;
pub mod scheduler;
pub mod shop_client;
pub mod state;
pub mod stl;

pub use app::Application;
pub use config::Config;

use printflow_runtime::Schema;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;
use std::sync::LazyLock;

/// The embedded migrations of `services/mes/migrations`.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The MES's whole schema: its migrations plus the shared outbox table.
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
