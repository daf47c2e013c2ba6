//! What the runtime's integration tests share: a stand-in service's schema (its own migrations
//! plus the real outbox migration) and databases built from it.

#![allow(dead_code, reason = "each test file uses its own part")]

use futures::future::BoxFuture;
use printflow_runtime::Schema;
use printflow_test_support::TestDatabase;
use sqlx::migrate::Migrator;
use sqlx::PgPool;
use std::sync::LazyLock;

/// A stand-in service's own migrations.
pub static SERVICE: Migrator = sqlx::migrate!("tests/migrations");

/// The stand-in's schema: its migrations plus the real outbox migration.
pub static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::new(&[&SERVICE, &printflow_messaging::outbox::MIGRATOR]));

/// Brings a fresh database to [`SCHEMA`].
pub fn migrate(pool: &PgPool) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move { SCHEMA.migrate(pool).await.map_err(|e| e.to_string()) })
}

/// Leaves a fresh database empty.
pub fn nothing(_pool: &PgPool) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async { Ok(()) })
}

/// A database of its own, migrated to [`SCHEMA`].
pub async fn database() -> TestDatabase {
    TestDatabase::new("runtime", &SCHEMA.fingerprint(), migrate).await
}
