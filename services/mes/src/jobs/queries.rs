//! Read-only job queries for the HTTP API.

use crate::jobs::{Job, JobEvent};
use printflow_contracts::jobs::JobState;
use printflow_contracts::OrderStatus;
use sqlx::PgPool;
use uuid::Uuid;

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// The jobs on this page.
    pub items: Vec<Job>,
    /// Jobs matching the filter in total.
    pub total: i64,
}

/// Lists jobs, optionally only those in `status`.
pub async fn list(
    pool: &PgPool,
    status: Option<OrderStatus>,
    page: u32,
    per_page: u32,
) -> Result<JobPage, sqlx::Error> {
    let status = status.map(OrderStatus::as_str);
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let items = sqlx::query_as::<_, Job>(
        "SELECT * FROM jobs WHERE ($1::text IS NULL OR status = $1)
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(status)
    .bind(i64::from(per_page))
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE ($1::text IS NULL OR status = $1)")
            .bind(status)
            .fetch_one(pool)
            .await?;
    Ok(JobPage { items, total })
}

/// A job by id.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The job producing `order_id`.
pub async fn for_order(pool: &PgPool, order_id: Uuid) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>("SELECT * FROM jobs WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(pool)
        .await
}

/// A job's history in sequence order, or `None` if the job does not exist.
pub async fn events(pool: &PgPool, id: Uuid) -> Result<Option<Vec<JobEvent>>, sqlx::Error> {
    if get(pool, id).await?.is_none() {
        return Ok(None);
    }
    sqlx::query_as::<_, JobEvent>("SELECT * FROM job_events WHERE job_id = $1 ORDER BY sequence")
        .bind(id)
        .fetch_all(pool)
        .await
        .map(Some)
}

/// The jobs of `order_ids` (those that exist), with their last status change: what CRM's
/// reconciler compares its orders with. One query on the `order_id` and `(order_id, sequence)`
/// unique indexes.
pub async fn states(pool: &PgPool, order_ids: &[Uuid]) -> Result<Vec<JobState>, sqlx::Error> {
    let rows: Vec<(Uuid, Uuid, String, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT j.order_id, j.id, j.status, j.sequence,
                COALESCE((SELECT e.at FROM job_events e
                          WHERE e.order_id = j.order_id AND e.sequence = j.sequence),
                         j.created_at)
         FROM jobs j WHERE j.order_id = ANY($1)",
    )
    .bind(order_ids)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(order_id, job_id, status, sequence, changed_at)| {
            Ok(JobState {
                order_id,
                job_id,
                status: status.parse().map_err(
                    |e: printflow_contracts::status::UnknownStatus| sqlx::Error::Decode(e.into()),
                )?,
                sequence,
                changed_at,
            })
        })
        .collect()
}
