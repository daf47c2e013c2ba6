//! The outbox purge against a real PostgreSQL: rows sent before the cutoff go, in as many
//! batches as it takes; pending rows (however old) and rows sent after the cutoff stay.

mod common;

use chrono::{Duration as Age, Utc};
use common::database;
use printflow_messaging::outbox::purge_sent;
use sqlx::PgPool;

/// Inserts `count` rows created `created_days` days ago and sent `sent_days` days ago (`None`:
/// still pending), labelled `label` in their routing key; ids follow insertion order.
async fn rows(pool: &PgPool, label: &str, count: i32, created_days: i64, sent_days: Option<i64>) {
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, created_at, sent_at)
         SELECT gen_random_uuid(), 'printflow.events', $1, '{}'::jsonb, $2, $3
         FROM generate_series(1, $4)",
    )
    .bind(label)
    .bind(now - Age::days(created_days))
    .bind(sent_days.map(|d| now - Age::days(d)))
    .bind(count)
    .execute(pool)
    .await
    .unwrap();
}

async fn labels_left(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT routing_key, count(*) FROM outbox GROUP BY routing_key ORDER BY routing_key",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn rows_sent_before_the_cutoff_are_purged_and_the_rest_kept() {
    let db = database().await;
    let pool = &db.pool;
    // Oldest first, as ids and creation times go together.
    rows(pool, "old-pending", 3, 30, None).await;
    // More than two purge batches, so the purge must go on after the first.
    rows(pool, "old-sent", 2_500, 10, Some(10)).await;
    rows(pool, "old-sent-lately", 2, 10, Some(1)).await;
    rows(pool, "new-sent", 4, 0, Some(0)).await;
    rows(pool, "new-pending", 1, 0, None).await;

    let purged = purge_sent(pool, Utc::now() - Age::days(7)).await.unwrap();
    assert_eq!(purged, 2_500);
    assert_eq!(
        labels_left(pool).await,
        vec![
            ("new-pending".to_owned(), 1),
            ("new-sent".to_owned(), 4),
            ("old-pending".to_owned(), 3),
            ("old-sent-lately".to_owned(), 2),
        ]
    );
    // Nothing more to purge: a second run deletes nothing.
    assert_eq!(
        purge_sent(pool, Utc::now() - Age::days(7)).await.unwrap(),
        0
    );
    // A later cutoff takes what has aged past it, and still no pending row.
    assert_eq!(purge_sent(pool, Utc::now()).await.unwrap(), 6);
    assert_eq!(
        labels_left(pool).await,
        vec![("new-pending".to_owned(), 1), ("old-pending".to_owned(), 3)]
    );
}

#[tokio::test]
async fn an_empty_outbox_purges_nothing() {
    let db = database().await;
    assert_eq!(purge_sent(&db.pool, Utc::now()).await.unwrap(), 0);
}
