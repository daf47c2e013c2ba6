//! Database helpers shared by the HTTP handlers and the status-event consumer.

use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// The pool plus the deadline every statement run on behalf of a caller gets.
#[derive(Debug, Clone)]
pub struct Db {
    /// Connection pool.
    pub pool: PgPool,
    /// `statement_timeout` of each statement in [`Db::begin`] transactions.
    pub query_timeout: Duration,
}

impl Db {
    /// Starts a transaction whose statements are cancelled by PostgreSQL after
    /// [`Db::query_timeout`] (SQLSTATE 57014, answered as 503 `query_timeout`). This is what keeps
    /// a status request from hanging behind a lock or a stuck database (seed point 8). The setting
    /// is transaction-local, so pooled connections never keep it.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(format!("{}ms", self.query_timeout.as_millis().max(1)))
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}
