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
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128);
    pool.begin_with(format!("BEGIN; SET LOCAL statement_timeout = {ms}"))
        .await
}
