//! Database helpers shared by the HTTP handlers and the status-event consumer.

use printflow_runtime::settings::PING_IF_IDLE_FOR;
use printflow_runtime::DatabaseSettings;
use sqlx::postgres::PgConnectOptions;
use sqlx::{PgPool, Postgres, Transaction};
use std::time::Duration;

/// The pools plus the deadline every statement run on behalf of a caller gets.
#[derive(Debug, Clone)]
pub struct Db {
    /// Connection pool.
    pub pool: PgPool,
    /// A second pool, as large, whose connections carry `statement_timeout` =
    /// [`Db::query_timeout`] from the start, for work of one statement (look-ups, the
    /// status-event fast path): one round trip where a [`Db::begin`] transaction adds two
    /// (begin with the timeout, commit), each a wait for a core under load (docs/benchmarks.md).
    pub timed: PgPool,
    /// `statement_timeout` of each statement in [`Db::begin`] transactions and on [`Db::timed`].
    pub query_timeout: Duration,
}

impl Db {
    /// `pool`, and the timed pool on the same database (connected on first use).
    pub fn new(
        pool: PgPool,
        database: &DatabaseSettings,
        query_timeout: Duration,
    ) -> Result<Db, sqlx::Error> {
        let ms = query_timeout.as_millis().clamp(1, i32::MAX as u128);
        let options: PgConnectOptions = database.url.parse()?;
        let timed = database
            .pool_options(PING_IF_IDLE_FOR)
            .connect_lazy_with(options.options([("statement_timeout", ms.to_string())]));
        Ok(Db {
            pool,
            timed,
            query_timeout,
        })
    }

    /// Starts a transaction whose statements are cancelled by PostgreSQL after
    /// [`Db::query_timeout`] (SQLSTATE 57014, answered as 503 `query_timeout`). This is what keeps
    /// a status request from hanging behind a lock or a stuck database (seed point 8). The setting
    /// is transaction-local, so pooled connections never keep it.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        printflow_runtime::db::begin_with_timeout(&self.pool, self.query_timeout).await
    }

    /// As [`Db::begin`], for reads of several statements that must agree: one snapshot for all.
    pub async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        printflow_runtime::db::begin_snapshot_with_timeout(&self.pool, self.query_timeout).await
    }
}

/// The `error.type` a span records for a database failure; the same split as
/// `ApiError::from(sqlx::Error)` makes, so a trace and the HTTP answer name the failure alike.
pub fn error_type(err: &sqlx::Error) -> &'static str {
    match err {
        sqlx::Error::PoolTimedOut => "database_unavailable",
        // statement_timeout (set by `Db::begin`) cancelled the statement.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => "query_timeout",
        _ => "database",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::error::Error as StdError;

    /// A PostgreSQL error with a chosen SQLSTATE, without a database.
    #[derive(Debug)]
    struct FakePgError(&'static str);

    impl std::fmt::Display for FakePgError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {}", self.0)
        }
    }

    impl StdError for FakePgError {}

    impl sqlx::error::DatabaseError for FakePgError {
        fn message(&self) -> &str {
            "fake"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn database_failures_are_typed_like_the_http_answer() {
        let timeout = sqlx::Error::Database(Box::new(FakePgError("57014")));
        assert_eq!(error_type(&timeout), "query_timeout");
        assert_eq!(printflow_web::ApiError::from(timeout).code, "query_timeout");
        let other = sqlx::Error::Database(Box::new(FakePgError("23505")));
        assert_eq!(error_type(&other), "database");
        assert_eq!(
            error_type(&sqlx::Error::PoolTimedOut),
            "database_unavailable"
        );
        assert_eq!(error_type(&sqlx::Error::RowNotFound), "database");
    }
}
