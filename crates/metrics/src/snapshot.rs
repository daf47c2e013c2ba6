//! The database side of scrape-time gauges: every refresh reads in one consistent, read-only
//! snapshot with its own server-side deadline, so a slow database makes a scrape stale, never
//! hung (the refresh's own timeout then keeps the previous values).

use sqlx::{PgPool, Postgres, Transaction};

/// Server-side deadline of each statement a scrape-time refresh runs: below the refresh deadline
/// ([`crate::REFRESH_TIMEOUT`]) so PostgreSQL cancels a slow query itself instead of leaving it
/// running on a connection the pool gets back.
pub const SCRAPE_STATEMENT_TIMEOUT_MS: u32 = 1_500;

/// A REPEATABLE READ, READ ONLY transaction with `statement_timeout` set for its lifetime.
pub async fn snapshot_transaction(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!(
        "SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}"
    ))
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}
