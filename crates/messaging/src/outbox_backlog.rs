//! The outbox backlog: how many rows wait for the broker and for how long. Read at scrape time
//! by [`crate::metrics::MessagingMetrics::watch_outbox`]; a query of its own, below both the
//! relay and the metrics, so neither has to import the other.

use sqlx::{PgPool, Row};

/// Pending-row statistics, for metrics (`printflow_outbox_pending`,
/// `printflow_outbox_oldest_pending_age_seconds`, see [`crate::metrics`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    /// Rows not yet confirmed by the broker.
    pub pending: i64,
    /// Age of the oldest pending row, seconds (0 when none).
    pub oldest_age_seconds: f64,
}

/// Reads the current backlog.
pub async fn read(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    let row = sqlx::query(
        "SELECT count(*) AS pending,
                COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest
         FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
    Ok(Backlog {
        pending: row.get("pending"),
        oldest_age_seconds: row.get("oldest"),
    })
}
