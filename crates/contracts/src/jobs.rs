//! What CRM's reconciler reads from MES: the state of the jobs of many orders at once
//! (`POST /jobs/states`) and a job's history (`GET /jobs/{id}/events`).

use crate::status::OrderStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most order ids in one `POST /jobs/states`.
pub const MAX_JOB_STATES: usize = 500;

/// `POST /jobs/states` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStatesRequest {
    /// The orders whose jobs to report (1..=[`MAX_JOB_STATES`]).
    pub order_ids: Vec<Uuid>,
}

/// One order's job as MES has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// The order.
    pub order_id: Uuid,
    /// Its job.
    pub job_id: Uuid,
    /// The job's status.
    pub status: OrderStatus,
    /// The last event sequence MES published for the order (0 before the first).
    pub sequence: i64,
    /// When the job last changed status (its creation if it never did).
    pub changed_at: DateTime<Utc>,
}

/// `POST /jobs/states` answer: the jobs that exist, in no particular order (an order without a
/// job is absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStates {
    /// The jobs found.
    pub jobs: Vec<JobState>,
}

/// One entry of `GET /jobs/{id}/events`, as much of it as CRM reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEventRecord {
    /// The order's event sequence.
    pub sequence: i64,
    /// The status it moved to.
    pub to_status: OrderStatus,
    /// The failure reason of a `FAILED` step.
    pub failure_reason: Option<String>,
    /// Failure message or operator note.
    pub detail: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
}
