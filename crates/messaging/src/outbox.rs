//! Transactional outbox: an event is written in the same database transaction as the state change
//! that caused it, and a relay publishes it afterwards. A crash between commit and publish loses
//! nothing: the row is still pending and the relay sends it when it runs again. Rows are marked
//! sent only after the broker confirmed them, so delivery is at-least-once; consumers de-duplicate.

use crate::backoff::Backoff;
use crate::metrics::MessagingMetrics;
use crate::publisher::{OutgoingMessage, Publisher};
use chrono::{DateTime, Utc};
use printflow_contracts::messages::{Envelope, Event, EVENTS_EXCHANGE};
use printflow_faults::Faults;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The outbox table as a migration (`crates/messaging/migrations`), run by each service that
/// publishes together with its own migrations (see `printflow_runtime::schema::Schema`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Writes `event` to the outbox inside the caller's transaction (pass `&mut *tx`). The current
/// context's headers (see [`crate::context`]) are stored with it.
pub async fn enqueue<T: Event>(
    conn: &mut PgConnection,
    event: &Envelope<T>,
) -> Result<(), sqlx::Error> {
    enqueue_all(conn, &[(event, &crate::context::capture())]).await
}

/// Writes several events to the outbox in one statement inside the caller's transaction, each
/// with the propagation headers captured for it (see [`crate::context::capture`]); the relay
/// publishes them in the given order. For batches of changes, where one `INSERT` per event cost
/// a round trip each (the MES scheduler, docs/benchmarks.md).
pub async fn enqueue_all<T: Event>(
    conn: &mut PgConnection,
    events: &[(&Envelope<T>, &BTreeMap<String, String>)],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|(e, _)| e.message_id).collect();
    let payloads: Vec<serde_json::Value> = events.iter().map(|(e, _)| e.to_json()).collect();
    let headers: Vec<serde_json::Value> = events
        .iter()
        .map(|(_, h)| serde_json::to_value(h).expect("string map serialises"))
        .collect();
    // `WITH ORDINALITY` and the `ORDER BY` keep the ids (the relay's order) in array order.
    sqlx::query(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, headers)
         SELECT m, $1, $2, p, h
         FROM unnest($3::uuid[], $4::jsonb[], $5::jsonb[]) WITH ORDINALITY AS t(m, p, h, n)
         ORDER BY n",
    )
    .bind(EVENTS_EXCHANGE)
    .bind(T::TYPE)
    .bind(ids)
    .bind(payloads)
    .bind(headers)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Wakes the relay right after a commit so events go out without waiting for the next poll.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// Tells the relay there is something new.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Publishes pending outbox rows in insertion order.
pub struct OutboxRelay {
    /// The service's database.
    pool: PgPool,
    /// Confirmed publisher.
    publisher: Arc<Publisher>,
    /// Wake-ups from committed transactions.
    signal: OutboxSignal,
    /// Poll interval when nobody wakes us (also covers rows left by a crashed process).
    poll_interval: Duration,
    /// Counts confirmed publishes.
    metrics: MessagingMetrics,
    /// Drill faults: `outbox.drop.<routing key>` marks the next such row sent without
    /// publishing it (a message lost after its transaction committed, seed points 5 and 7).
    faults: Faults,
}

/// The name of the fault that drops outbox rows with `routing_key` (see [`OutboxRelay`]).
pub fn drop_fault(routing_key: &str) -> String {
    format!("outbox.drop.{routing_key}")
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay").finish_non_exhaustive()
    }
}

const BATCH: i64 = 100;

/// Wait after `n` failed batches in a row (broker or database trouble): 400 ms doubling to 5 s,
/// instead of hammering what is down; a success returns to the poll interval.
pub const RETRY_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(400), Duration::from_secs(5));

impl OutboxRelay {
    /// A relay for `pool`'s outbox, counting what the broker confirmed in `metrics`.
    pub fn new(
        pool: PgPool,
        publisher: Arc<Publisher>,
        signal: OutboxSignal,
        metrics: MessagingMetrics,
    ) -> Self {
        OutboxRelay {
            pool,
            publisher,
            signal,
            poll_interval: Duration::from_millis(500),
            metrics,
            faults: Faults::none(),
        }
    }

    /// Lets `faults` drop rows (declare `outbox.drop.<routing key>` faults, [`drop_fault`]).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut failures: u32 = 0;
        loop {
            let delay = if failures == 0 {
                self.poll_interval
            } else {
                RETRY_BACKOFF.delay(failures)
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.signal.0.notified(), if failures == 0 => {}
                _ = tokio::time::sleep(delay) => {}
            }
            loop {
                match self.relay_batch().await {
                    Ok(n) => {
                        failures = 0;
                        if n < BATCH as usize {
                            break;
                        }
                    }
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        tracing::warn!(error = %e, failures, "outbox relay failed; will retry");
                        break;
                    }
                }
            }
        }
    }

    /// Publishes one batch; returns how many rows were sent.
    pub async fn relay_batch(&self) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED lets several relay instances share the table without sending a row twice.
        let rows = sqlx::query(
            "SELECT id, message_id, exchange, routing_key, payload, headers FROM outbox
             WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut messages = Vec::with_capacity(rows.len());
        let mut dropped = Vec::new();
        for row in &rows {
            let headers: serde_json::Value = row.get("headers");
            let headers: BTreeMap<String, String> =
                serde_json::from_value(headers).unwrap_or_default();
            let payload: serde_json::Value = row.get("payload");
            let message = OutgoingMessage {
                exchange: row.get("exchange"),
                routing_key: row.get("routing_key"),
                message_id: row.get::<Uuid, _>("message_id").to_string(),
                body: serde_json::to_vec(&payload).expect("json value serialises"),
                headers,
            };
            if self.drops(&message) {
                dropped.push(row.get::<i64, _>("id"));
                continue;
            }
            ids.push(row.get::<i64, _>("id"));
            messages.push(message);
        }
        if !dropped.is_empty() {
            sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
                .bind(&dropped)
                .execute(&mut *tx)
                .await?;
        }
        // One PRODUCER span per message, child of the context stored with the row; its own
        // context replaces the stored one in the headers, so the consumer becomes its child.
        let spans: Vec<tracing::Span> = messages
            .iter_mut()
            .map(|msg| {
                let span = crate::publisher::producer_span(msg);
                printflow_telemetry::propagation::set_parent_from(&span, &msg.headers);
                msg.headers
                    .extend(printflow_telemetry::propagation::inject_span(&span));
                span
            })
            .collect();
        let (confirmed, error) = self.publisher.publish_all(&messages).await;
        // Counted when the broker confirmed, not when the row is marked: if marking fails the
        // rows are published again, and that second publish is a real one too.
        self.metrics.published(confirmed);
        for (i, span) in spans.iter().enumerate() {
            if i >= confirmed {
                let message = error
                    .as_ref()
                    .map_or_else(|| "not published".to_owned(), ToString::to_string);
                printflow_telemetry::record_error(span, "publish_failed", &message);
            }
        }
        drop(spans);
        if confirmed > 0 {
            sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
                .bind(&ids[..confirmed])
                .execute(&mut *tx)
                .await?;
        }
        if let Some(err) = error {
            sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
                .bind(ids[confirmed])
                .bind(err.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(RelayError::Publish(err));
        }
        tx.commit().await?;
        Ok(confirmed + dropped.len())
    }

    /// Whether a drill fault drops `message`: if so, its PRODUCER span (in the order's trace)
    /// says so, as an error with the `fault.injected` event, and it is never published.
    fn drops(&self, message: &OutgoingMessage) -> bool {
        let fault = drop_fault(&message.routing_key);
        if !self.faults.armed(&fault) {
            return false;
        }
        let span = crate::publisher::producer_span(message);
        printflow_telemetry::propagation::set_parent_from(&span, &message.headers);
        let hit = span.in_scope(|| self.faults.hit(&fault));
        if hit.is_some() {
            printflow_telemetry::record_error(
                &span,
                "fault_injected",
                "dropped by the drill fault outbox.drop: marked sent, never published",
            );
        }
        hit.is_some()
    }
}

/// Rows [`purge_sent`] looks at per statement: short transactions that never hold many row
/// locks or an old snapshot for long.
const PURGE_BATCH: i64 = 1000;

/// Deletes outbox rows sent before `cutoff`; returns how many. Sent rows are kept for a while
/// (CRM's reconciler copies an order's `order.created` row to publish it again) but not for
/// ever: each service's outbox grew by every event it ever sent, hundreds of megabytes a day
/// under the order benchmark.
///
/// Walks the table in id order, [`PURGE_BATCH`] rows a statement, and stops at the first
/// batch holding a row created after `cutoff`: ids grow with creation time, so nothing older
/// lies beyond, and a run with nothing to delete reads one batch instead of the whole table
/// (no index on `sent_at`, which every mark would have to update). Rows still pending are
/// kept, however old: they are the relay's, not the purge's. Safe to run from several instances
/// at once: a row deleted by one is simply gone for the other.
pub async fn purge_sent(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let mut after: i64 = 0;
    let mut purged: u64 = 0;
    loop {
        let (last, deleted, all_old): (Option<i64>, i64, Option<bool>) = sqlx::query_as(
            "WITH batch AS (
                 SELECT id, created_at, sent_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $3),
             gone AS (
                 DELETE FROM outbox o USING batch b
                 WHERE o.id = b.id AND b.sent_at < $2
                 RETURNING o.id)
             SELECT (SELECT max(id) FROM batch), (SELECT count(*) FROM gone),
                    (SELECT bool_and(created_at < $2) FROM batch)",
        )
        .bind(after)
        .bind(cutoff)
        .bind(PURGE_BATCH)
        .fetch_one(pool)
        .await?;
        purged += u64::try_from(deleted).unwrap_or(0);
        match (last, all_old) {
            (Some(last), Some(true)) if last > after => after = last,
            _ => return Ok(purged),
        }
    }
}

/// How often [`run_purge`] runs.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// Purges rows sent more than `retention` ago ([`purge_sent`]) at start and every
/// [`PURGE_INTERVAL`] until `shutdown` resolves. A failed run is logged and tried again at the
/// next interval: a late purge costs only disk.
pub async fn run_purge(pool: PgPool, retention: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut ticker = tokio::time::interval(PURGE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        match purge_sent(&pool, cutoff).await {
            Ok(0) => {}
            Ok(purged) => {
                tracing::info!(purged, %cutoff, "outbox: purged rows sent before the cutoff")
            }
            Err(e) => tracing::warn!(error = %e, "outbox purge failed; will retry"),
        }
    }
}

/// Why a relay batch did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking rows failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The broker did not take a message.
    #[error("publish: {0}")]
    Publish(crate::error::MessagingError),
}
