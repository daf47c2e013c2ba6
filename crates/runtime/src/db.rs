//! Database plumbing every service shares.

use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// Starts a transaction on `pool` whose statements PostgreSQL cancels after `timeout` (SQLSTATE
/// 57014, which each service maps to its own "timed out" answer).
///
/// `BEGIN` and `SET LOCAL statement_timeout` travel as one simple query, one round trip: a
/// separate `set_config` statement cost one more per transaction, on CRM's status path and for
/// every status event it applies (docs/benchmarks.md). `SET LOCAL` ends with the transaction, so
/// pooled connections never keep the setting. The value is a whole number of milliseconds
/// formatted here, never text from outside.
pub async fn begin_with_timeout(
    pool: &PgPool,
    timeout: Duration,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin(pool, "BEGIN", timeout).await
}

/// As [`begin_with_timeout`], for a read of several statements that must agree with each
/// other: every statement sees the same snapshot (`REPEATABLE READ READ ONLY`), where under the
/// default isolation a commit between two of them could show, say, an event applied but the
/// order's last applied sequence from before it.
pub async fn begin_snapshot_with_timeout(
    pool: &PgPool,
    timeout: Duration,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin(
        pool,
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        timeout,
    )
    .await
}

async fn begin(
    pool: &PgPool,
    begin: &'static str,
    timeout: Duration,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
    pool.begin_with(format!("{begin}; SET LOCAL statement_timeout = {ms}"))
        .await
}
