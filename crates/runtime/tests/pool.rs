//! The services' pool against a real PostgreSQL: a connection the server closed while it sat
//! idle is checked and replaced before it is handed out; a connection used a moment ago is
//! handed out without that round trip.

mod common;

use common::nothing;
use printflow_runtime::DatabaseSettings;
use printflow_test_support::{assert_eventually, TestDatabase};
use sqlx::PgPool;
use std::time::Duration;

/// A one-connection pool on `db` that pings connections idle for `ping_if_idle_for` or longer,
/// and the server process behind its connection.
async fn one_connection(db: &TestDatabase, ping_if_idle_for: Duration) -> (PgPool, i32) {
    let settings = DatabaseSettings {
        url: db.url.clone(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(3),
    };
    let pool = settings
        .pool_options(ping_if_idle_for)
        .connect(&db.url)
        .await
        .unwrap();
    let pid = backend_pid(&pool).await.unwrap();
    // sqlx returns a connection to the pool in a task of its own, after pinging it: wait until
    // it is back, or that ping could meet the terminated connection and replace it first.
    assert_eventually!("the connection is back in the pool", pool.num_idle() == 1);
    (pool, pid)
}

async fn backend_pid(pool: &PgPool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
}

/// Ends server process `pid` (as a restart or an idle-connection reaper would) and waits until
/// it is gone.
async fn terminate(admin: &PgPool, pid: i32) {
    let signalled: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(admin)
        .await
        .unwrap();
    assert!(signalled, "server process {pid} was signalled");
    assert_eventually!("the terminated server process ends", {
        let alive: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(admin)
                .await
                .unwrap();
        !alive
    });
}

#[tokio::test]
async fn a_connection_closed_while_idle_is_replaced_before_use() {
    let db = TestDatabase::new("runtime_pool", "none", nothing).await;
    // Threshold zero: every connection has been idle long enough to be pinged.
    let (pool, first) = one_connection(&db, Duration::ZERO).await;
    terminate(&db.pool, first).await;
    let second = backend_pid(&pool)
        .await
        .expect("the dead connection is replaced, not handed out");
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_connection_used_a_moment_ago_is_handed_out_without_a_ping() {
    let db = TestDatabase::new("runtime_pool", "none", nothing).await;
    // Threshold an hour: the connection was used just now, so it is not pinged. Had it been,
    // the dead connection would have been replaced as in the test above; instead the statement
    // runs on it and fails, which is what shows no round trip was spent on a check.
    let (pool, first) = one_connection(&db, Duration::from_secs(3600)).await;
    terminate(&db.pool, first).await;
    assert!(
        backend_pid(&pool).await.is_err(),
        "a connection used a moment ago goes out unchecked"
    );
    // sqlx closes a connection that failed this way; the next statement gets a new one.
    let second = backend_pid(&pool).await.expect("a fresh connection");
    assert_ne!(first, second);
}
