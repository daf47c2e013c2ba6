//! Every call the Shop makes to CRM, in one place. Each HTTP call goes through
//! `printflow_telemetry::http_client::send`: a CLIENT span named `{method} {route template}`
//! (`POST /orders`, `GET /orders/{id}`, `GET /orders/{id}/status`) that carries the trace to CRM
//! in `traceparent`. A retry is a second call, so a second CLIENT span.
//!
//! Each call carries the Shop's own token (client credentials as `shop-api`, cached; a `401`
//! fetches a fresh one once). Each call has a deadline (the client is built by `printflow_web::client::http_client`), and
//! the outcome is classified so callers can tell "CRM is down" (connection refused: 503) from
//! "CRM did not answer in time" (504) — the distinction seed point 8 is about.

use axum::http::StatusCode;
use printflow_auth::{SendError, ServiceToken};
use printflow_contracts::orders::{CreateOrderRequest, OrderView, StatusView};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A CRM call that did not produce the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// CRM could not be reached (connection refused, reset, DNS).
    #[error("CRM is unreachable: {0}")]
    Unavailable(String),
    /// CRM did not answer within the deadline.
    #[error("CRM did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The Shop could not get its own token from the identity provider.
    #[error("no service token for CRM: {0}")]
    NoToken(String),
    /// CRM answered with a 5xx, or refused the Shop's own token (401/403: our fault, not the
    /// client's).
    #[error("CRM failed with status {status}")]
    ServerError {
        /// The status CRM answered.
        status: StatusCode,
    },
    /// CRM answered 2xx with a body that does not match the contract.
    #[error("CRM answered with an unexpected body: {0}")]
    BadResponse(String),
    /// CRM refused the request (4xx): passed through to our client as is.
    #[error("CRM answered {status}")]
    Rejected {
        /// CRM's status.
        status: StatusCode,
        /// CRM's JSON error body.
        body: Value,
    },
}

impl CrmError {
    /// The `error.type` recorded on the calling span; `None` for CRM's own verdict on the
    /// request (a 4xx passed through), which is not a failure of the call.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            CrmError::Unavailable(_) => Some("crm_unavailable"),
            CrmError::Timeout(_) => Some("crm_timeout"),
            CrmError::NoToken(_) => Some("service_token_unavailable"),
            CrmError::ServerError { .. } | CrmError::BadResponse(_) => Some("crm_error"),
            CrmError::Rejected { .. } => None,
        }
    }
}

/// The CRM HTTP client.
#[derive(Debug, Clone)]
pub struct CrmClient {
    /// Client with the per-call deadline.
    http: reqwest::Client,
    /// CRM's base URL, without a trailing slash.
    base_url: String,
    /// The per-call deadline.
    timeout: Duration,
    /// The Shop's own token.
    token: Arc<ServiceToken>,
}

impl CrmClient {
    /// A client for the CRM at `base_url` whose calls give up after `timeout`, authenticated
    /// with `token`.
    pub fn new(base_url: &str, timeout: Duration, token: Arc<ServiceToken>) -> Self {
        CrmClient {
            http: printflow_web::client::http_client(timeout),
            base_url: base_url.trim_end_matches('/').to_owned(),
            timeout,
            token,
        }
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `POST /orders` on CRM. A repeated `order_id` is idempotent on the CRM side.
    pub async fn create_order(&self, req: &CreateOrderRequest) -> Result<OrderView, CrmError> {
        let url = format!("{}/orders", self.base_url);
        self.send("/orders", || self.http.post(&url).json(req))
            .await
    }

    /// `GET /orders/{id}` on CRM.
    pub async fn get_order(&self, order_id: Uuid) -> Result<OrderView, CrmError> {
        let url = format!("{}/orders/{order_id}", self.base_url);
        self.send("/orders/{id}", || self.http.get(&url)).await
    }

    /// `GET /orders/{id}/status` on CRM.
    pub async fn get_status(&self, order_id: Uuid) -> Result<StatusView, CrmError> {
        let url = format!("{}/orders/{order_id}/status", self.base_url);
        self.send("/orders/{id}/status", || self.http.get(&url))
            .await
    }

    /// Sends the request `build` makes with the Shop's token, in a CLIENT span named after
    /// `route` (the CRM route template).
    async fn send<T: DeserializeOwned>(
        &self,
        route: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, CrmError> {
        let resp = self
            .token
            .send(&self.http, route, build)
            .await
            .map_err(|e| match e {
                SendError::Token(e) => CrmError::NoToken(e.to_string()),
                SendError::Http(e) => self.classify(e),
            })?;
        let status = resp.status();
        // Reading the body is covered by the same deadline.
        let body = resp.bytes().await.map_err(|e| self.classify(e))?;
        if status.is_success() {
            serde_json::from_slice(&body).map_err(|e| CrmError::BadResponse(e.to_string()))
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            // CRM refused the Shop itself (even after a fresh token): a set-up fault of ours,
            // not the customer's; the detail is for our log.
            tracing::error!(crm.status = status.as_u16(), body = %String::from_utf8_lossy(&body), "CRM refused the Shop's service token");
            Err(CrmError::ServerError { status })
        } else if status.is_client_error() {
            let body = serde_json::from_slice::<Value>(&body)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| {
                    serde_json::json!({
                        "code": "crm_rejected",
                        "message": String::from_utf8_lossy(&body).chars().take(500).collect::<String>(),
                    })
                });
            Err(CrmError::Rejected { status, body })
        } else {
            Err(CrmError::ServerError { status })
        }
    }

    fn classify(&self, err: reqwest::Error) -> CrmError {
        if err.is_timeout() {
            CrmError::Timeout(self.timeout)
        } else {
            // Connection refused or reset, DNS failure, a broken response: CRM is not there.
            CrmError::Unavailable(error_chain(&err))
        }
    }
}

/// The error and its sources, for a useful log line ("connection refused" is deep inside).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_failures_have_error_types_crm_verdicts_do_not() {
        assert_eq!(
            CrmError::Unavailable("refused".into()).error_type(),
            Some("crm_unavailable")
        );
        assert_eq!(
            CrmError::Timeout(Duration::from_millis(300)).error_type(),
            Some("crm_timeout")
        );
        assert_eq!(
            CrmError::ServerError {
                status: StatusCode::INTERNAL_SERVER_ERROR
            }
            .error_type(),
            Some("crm_error")
        );
        assert_eq!(
            CrmError::BadResponse("eof".into()).error_type(),
            Some("crm_error")
        );
        let refused = CrmError::Rejected {
            status: StatusCode::NOT_FOUND,
            body: serde_json::json!({"code": "order_not_found"}),
        };
        assert_eq!(refused.error_type(), None);
    }
}
