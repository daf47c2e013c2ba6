//! The two reads CRM's reconciler makes from MES, with CRM's own token (`job-reader`).

use printflow_auth::{SendError, ServiceToken};
use printflow_contracts::jobs::{
    JobEventRecord, JobState, JobStates, JobStatesRequest, MAX_JOB_STATES,
};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// MES could not be asked (down, refused CRM's token, answered an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MES: {0}")]
pub struct MesError(pub String);

/// Client for MES's job reads.
#[derive(Debug, Clone)]
pub struct MesClient {
    /// Client with the configured deadline.
    http: reqwest::Client,
    /// MES base URL without a trailing slash.
    base_url: String,
    /// CRM's own token (client credentials as `crm-api`, role `job-reader`).
    token: Arc<ServiceToken>,
}

impl MesClient {
    /// A client for `base_url` whose calls give up after `timeout`.
    pub fn new(base_url: &str, timeout: Duration, token: Arc<ServiceToken>) -> MesClient {
        MesClient {
            http: printflow_web::client::http_client(timeout),
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The jobs of `order_ids` (any number; asked in chunks of [`MAX_JOB_STATES`]).
    pub async fn states(&self, order_ids: &[Uuid]) -> Result<Vec<JobState>, MesError> {
        let mut jobs = Vec::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(MAX_JOB_STATES) {
            let url = format!("{}/jobs/states", self.base_url);
            let body = JobStatesRequest {
                order_ids: chunk.to_vec(),
            };
            let resp = self
                .token
                .send(&self.http, "/jobs/states", || {
                    self.http.post(&url).json(&body)
                })
                .await
                .map_err(send_error)?;
            let answer: JobStates = json(resp).await?;
            jobs.extend(answer.jobs);
        }
        Ok(jobs)
    }

    /// The job's history in sequence order.
    pub async fn events(&self, job_id: Uuid) -> Result<Vec<JobEventRecord>, MesError> {
        let url = format!("{}/jobs/{job_id}/events", self.base_url);
        let resp = self
            .token
            .send(&self.http, "/jobs/{id}/events", || self.http.get(&url))
            .await
            .map_err(send_error)?;
        json(resp).await
    }
}

fn send_error(err: SendError) -> MesError {
    match err {
        SendError::Token(e) => MesError(format!("no service token: {e}")),
        SendError::Http(e) if e.is_timeout() => MesError("timed out".into()),
        SendError::Http(e) if e.is_connect() => MesError("unreachable".into()),
        SendError::Http(e) => MesError(e.to_string()),
    }
}

async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, MesError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(MesError(format!("answered {status}")));
    }
    resp.json()
        .await
        .map_err(|e| MesError(format!("unreadable answer: {e}")))
}
