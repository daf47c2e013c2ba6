//! Model verification (seed point 6): before a job may print, MES fetches the model file from
//! Shop and checks it is the very file the order was placed with (same SHA-256) and a plausible
//! binary STL. A changed file fails the job as `checksum_mismatch` instead of printing something
//! the customer did not order; an unreachable Shop only delays the job.
//!
//! The HTTP call happens outside any database transaction: jobs are first *claimed* (their
//! `next_check_at` pushed out by a lease, in one short statement with `SKIP LOCKED`), then
//! fetched, then the outcome is applied in a new transaction that re-checks the job did not
//! change meanwhile (operator action, another instance).

use crate::jobs::trace_context::{run_step, verify_span};
use crate::jobs::transition::transition;
use crate::jobs::{lock_job, Job};
use crate::production::Production;
use crate::shop_client::{ModelFetch, ShopClient};
use crate::stl::check_binary_stl;
use chrono::{DateTime, TimeDelta, Utc};
use printflow_contracts::{FailureReason, OrderStatus};
use printflow_messaging::{Backoff, OutboxSignal};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Jobs checked per round.
const BATCH: i64 = 16;
/// Wait before the next fetch after Shop was unreachable `n` times in a row: 1 s doubling to
/// 30 s. The count lives in the job row (`model_fetch_failures`), so the schedule survives a
/// restart and is shared by every instance.
pub const FETCH_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30));

/// The result of checking one job's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file is the ordered one.
    Verified,
    /// The job cannot be produced from this file.
    Failed(FailureReason, String),
    /// Shop could not be asked; try again later.
    Unavailable(String),
}

/// Pure decision on a fetched file.
pub fn judge(job: &Job, fetched: ModelFetch) -> Verdict {
    match fetched {
        ModelFetch::Rejected(why) => Verdict::Failed(FailureReason::BadModel, why),
        ModelFetch::Found(file) => {
            if !file.sha256.eq_ignore_ascii_case(&job.spec.model_sha256) {
                return Verdict::Failed(
                    FailureReason::ChecksumMismatch,
                    format!(
                        "model file sha256 mismatch: expected {}, got {} ({} bytes)",
                        job.spec.model_sha256, file.sha256, file.size
                    ),
                );
            }
            match check_binary_stl(&file.head, file.size) {
                Ok(_) => Verdict::Verified,
                Err(e) => Verdict::Failed(FailureReason::BadModel, e.to_string()),
            }
        }
    }
}

/// Wait before the next fetch after `failures` consecutive failures (1 s, 2 s, 4 s, ... 30 s).
pub fn backoff(failures: i32) -> Duration {
    FETCH_BACKOFF.delay(u32::try_from(failures).unwrap_or(0))
}

/// Checks the models of accepted jobs.
#[derive(Debug, Clone)]
pub struct ModelVerifier {
    /// MES database.
    pub pool: PgPool,
    /// Shop's model endpoint.
    pub shop: ShopClient,
    /// For the `FAILED` transition.
    pub production: Arc<Production>,
    /// Wakes the relay after a failure was committed.
    pub signal: OutboxSignal,
    /// How long a claimed job is hidden from other instances while it is being fetched.
    pub lease: Duration,
}

impl ModelVerifier {
    /// Claims due jobs, fetches their models concurrently and records the outcomes; returns how
    /// many jobs were looked at. Each job's check runs in its own `job verify model` span in the
    /// order's trace (the fetch from Shop, the verdict and any `FAILED` transition).
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let now = Utc::now();
        let jobs = self.claim(now).await?;
        let spans: Vec<tracing::Span> = jobs.iter().map(verify_span).collect();
        let verdicts = futures::future::join_all(
            jobs.iter()
                .zip(&spans)
                .map(|(job, span)| self.check(job).instrument(span.clone())),
        )
        .await;
        for ((job, verdict), span) in jobs.iter().zip(verdicts).zip(spans) {
            run_step(span, self.apply(job, verdict)).await?;
        }
        Ok(jobs.len())
    }

    async fn claim(&self, now: DateTime<Utc>) -> Result<Vec<Job>, sqlx::Error> {
        let lease_until = now + TimeDelta::from_std(self.lease).unwrap_or(TimeDelta::seconds(60));
        sqlx::query_as::<_, Job>(
            "WITH due AS (
                 SELECT id FROM jobs
                 WHERE status = 'ACCEPTED' AND NOT model_verified AND next_check_at <= $1
                 ORDER BY next_check_at LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             UPDATE jobs SET next_check_at = $3 FROM due WHERE jobs.id = due.id
             RETURNING jobs.*",
        )
        .bind(now)
        .bind(BATCH)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await
    }

    async fn check(&self, job: &Job) -> Verdict {
        match self
            .shop
            .fetch_model(job.spec.design_id, job.spec.design_version)
            .await
        {
            Ok(fetched) => judge(job, fetched),
            Err(e) => Verdict::Unavailable(e.to_string()),
        }
    }

    /// Records `verdict` for `claimed`, inside its verify span (the current span).
    async fn apply(&self, claimed: &Job, verdict: Verdict) -> Result<(), sqlx::Error> {
        match verdict {
            Verdict::Verified => self.record_verified(claimed).await,
            Verdict::Failed(reason, detail) => self.record_failed(claimed, reason, detail).await,
            Verdict::Unavailable(why) => self.record_unavailable(claimed, why).await,
        }
    }

    /// A verified model, in one statement committed on its own: the update locks the row and
    /// checks, on the row as it is then, that the job still waits for this very check. A
    /// transaction around a locking read and the write took four round trips per order
    /// (docs/benchmarks.md).
    async fn record_verified(&self, claimed: &Job) -> Result<(), sqlx::Error> {
        let span = tracing::Span::current();
        let updated = sqlx::query(
            "UPDATE jobs SET model_verified = true, model_fetch_failures = 0,
                             model_fetch_error = NULL, next_check_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'ACCEPTED' AND NOT model_verified AND sequence = $2",
        )
        .bind(claimed.id)
        .bind(claimed.sequence)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            span.record("mes.model_fetch.outcome", "dropped");
            tracing::info!("job changed while its model was fetched; result dropped");
        } else {
            span.record("mes.model_fetch.outcome", "verified");
            tracing::info!("model verified");
        }
        Ok(())
    }

    /// Locks `claimed` if it still waits for the check whose result is being recorded; `None`
    /// (and the span says `dropped`) if it was cancelled, verified or moved on meanwhile.
    async fn lock_if_still_due(
        tx: &mut sqlx::PgConnection,
        claimed: &Job,
    ) -> Result<Option<Job>, sqlx::Error> {
        let span = tracing::Span::current();
        let Some(job) = lock_job(tx, claimed.id).await? else {
            span.record("mes.model_fetch.outcome", "dropped");
            return Ok(None);
        };
        if job.status != OrderStatus::Accepted
            || job.model_verified
            || job.sequence != claimed.sequence
        {
            span.record("mes.model_fetch.outcome", "dropped");
            tracing::info!(status = %job.status, "job changed while its model was fetched; result dropped");
            return Ok(None);
        }
        Ok(Some(job))
    }

    /// Seed point 6: the file is not the one ordered (or no model at all); the span fails with
    /// the reason as its error type, then the job goes to FAILED.
    async fn record_failed(
        &self,
        claimed: &Job,
        reason: FailureReason,
        detail: String,
    ) -> Result<(), sqlx::Error> {
        let span = tracing::Span::current();
        let mut tx = self.pool.begin().await?;
        let Some(job) = Self::lock_if_still_due(&mut tx, claimed).await? else {
            return Ok(());
        };
        span.record("mes.model_fetch.outcome", "failed");
        span.record("order.failure_reason", reason.as_str());
        tracing::warn!(order.failure_reason = %reason, order.failure_detail = %detail, "model check failed");
        printflow_telemetry::record_error(&span, reason.as_str(), &detail);
        match transition(
            &mut tx,
            &self.production,
            &job,
            OrderStatus::Failed,
            Some(reason),
            Some(detail),
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                self.signal.wake();
            }
            Err(crate::jobs::transition::TransitionError::Database(e)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "could not fail job"),
        }
        Ok(())
    }

    /// Shop could not be asked: the check is tried again after a back-off.
    async fn record_unavailable(&self, claimed: &Job, why: String) -> Result<(), sqlx::Error> {
        let span = tracing::Span::current();
        let mut tx = self.pool.begin().await?;
        let Some(job) = Self::lock_if_still_due(&mut tx, claimed).await? else {
            return Ok(());
        };
        let failures = job.model_fetch_failures.saturating_add(1);
        let wait = backoff(failures);
        let next = Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::seconds(30));
        sqlx::query(
            "UPDATE jobs SET model_fetch_failures = $2, next_check_at = $3,
                             model_fetch_error = $4, updated_at = now()
             WHERE id = $1",
        )
        .bind(job.id)
        .bind(failures)
        .bind(next)
        .bind(format!("model fetch failed ({failures} in a row): {why}"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        span.record("mes.model_fetch.outcome", "unavailable");
        span.record("mes.model_fetch.failures", failures);
        span.record("mes.model_fetch.retry_in_ms", retry_in_ms);
        tracing::warn!(failures, retry_in_ms, error = %why, "shop unavailable; will retry the model fetch");
        // Timeout vs refusal is on the CLIENT span's error.type; this span says the check did
        // not happen and when it is tried again.
        printflow_telemetry::record_error(&span, "shop_unavailable", &why);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop_client::ModelFile;
    use sha2::{Digest, Sha256};

    fn job(sha: &str) -> Job {
        let mut job = crate::jobs::sample_job();
        job.spec.model_sha256 = sha.to_owned();
        job
    }

    fn file(bytes: &[u8]) -> ModelFetch {
        ModelFetch::Found(ModelFile {
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
            head: bytes[..bytes.len().min(84)].to_vec(),
        })
    }

    fn one_triangle_stl() -> Vec<u8> {
        let mut v = vec![0u8; 80];
        v.extend_from_slice(&1u32.to_le_bytes());
        v.resize(134, 1);
        v
    }

    #[test]
    fn matching_stl_is_verified() {
        let stl = one_triangle_stl();
        let sha = hex::encode(Sha256::digest(&stl));
        assert_eq!(judge(&job(&sha), file(&stl)), Verdict::Verified);
    }

    #[test]
    fn different_bytes_are_a_checksum_mismatch_naming_both_digests() {
        let stl = one_triangle_stl();
        let expected = "0".repeat(64);
        match judge(&job(&expected), file(&stl)) {
            Verdict::Failed(FailureReason::ChecksumMismatch, detail) => {
                assert!(detail.contains(&expected));
                assert!(detail.contains(&hex::encode(Sha256::digest(&stl))));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn matching_non_stl_and_rejections_are_bad_models() {
        let junk = b"<html>not a mesh</html>";
        let sha = hex::encode(Sha256::digest(junk));
        assert!(matches!(
            judge(&job(&sha), file(junk)),
            Verdict::Failed(FailureReason::BadModel, _)
        ));
        assert!(matches!(
            judge(&job(&sha), ModelFetch::Rejected("404".into())),
            Verdict::Failed(FailureReason::BadModel, _)
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(6), Duration::from_secs(30));
        assert_eq!(backoff(i32::MAX), Duration::from_secs(30));
        assert_eq!(backoff(0), Duration::from_secs(1));
    }
}
