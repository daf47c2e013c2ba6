//! The one call MES makes to Shop: fetch a saved design version's model file.
//!
//! Kept in this small module so tracing (and context propagation) can wrap it in one place. The
//! body is streamed: the SHA-256 and the size are computed on the fly and only the STL header is
//! kept, so a large model never sits in memory.

use printflow_auth::{SendError, ServiceToken};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Largest model file MES accepts; anything bigger is refused as a bad model.
pub const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;

/// The route template of Shop's model endpoint (names the CLIENT span).
pub const MODEL_ROUTE: &str = "/designs/{id}/versions/{version}/model";

/// What MES learned about a model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// Lower-case hex SHA-256 of the body.
    pub sha256: String,
    /// Body length in bytes.
    pub size: u64,
    /// The first bytes of the body (up to the STL header length).
    pub head: Vec<u8>,
}

/// Shop's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelFetch {
    /// The file.
    Found(ModelFile),
    /// Shop answered definitively that there is no usable file (404, another 4xx, or too
    /// large); retrying will not help.
    Rejected(String),
}

/// Shop could not answer now (connection refused, timeout, 5xx, 408/429); try again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shop unavailable: {0}")]
pub struct ShopUnavailable(pub String);

/// Client for Shop's model endpoint.
#[derive(Debug, Clone)]
pub struct ShopClient {
    /// Client with the configured deadline.
    http: reqwest::Client,
    /// Shop base URL without a trailing slash.
    base_url: String,
    /// MES's own token (client credentials as `mes-api`, role `model-reader`).
    token: Arc<ServiceToken>,
}

impl ShopClient {
    /// A client for `base_url` whose calls give up after `timeout`, authenticated with `token`.
    pub fn new(base_url: impl Into<String>, timeout: Duration, token: Arc<ServiceToken>) -> Self {
        ShopClient {
            http: printflow_web::client::http_client(timeout),
            base_url: base_url.into(),
            token,
        }
    }

    /// `GET /designs/{design_id}/versions/{version}/model`, in a CLIENT span (`GET` +
    /// [`MODEL_ROUTE`]) that carries the caller's trace to Shop and records `error.type`
    /// (`timeout`, `connection_refused`, or the HTTP status).
    pub async fn fetch_model(
        &self,
        design_id: Uuid,
        version: i32,
    ) -> Result<ModelFetch, ShopUnavailable> {
        let url = format!(
            "{}/designs/{design_id}/versions/{version}/model",
            self.base_url
        );
        let mut resp = self
            .token
            .send(&self.http, MODEL_ROUTE, || self.http.get(&url))
            .await
            .map_err(|e| match e {
                SendError::Token(e) => ShopUnavailable(format!("no service token: {e}")),
                SendError::Http(e) => ShopUnavailable(describe(&e)),
            })?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            // The Shop refused MES itself (even with a fresh token): a set-up fault that an
            // operator fixes, never a verdict on the customer's model. The job waits.
            return Err(ShopUnavailable(format!(
                "shop refused MES's service token: {status}"
            )));
        }
        if status.is_server_error() {
            // Shop answers a lost or corrupted saved file (seed point 3) with a 500 and a
            // specific code: that will not heal by waiting, so the job fails visibly instead
            // of hanging in ACCEPTED. Any other 5xx is treated as passing.
            let body = read_prefix(&mut resp, ERROR_BODY_LIMIT).await;
            if let Some((code, message)) = permanent_error(&body) {
                return Ok(ModelFetch::Rejected(format!(
                    "shop answered {status} {code}: {message}"
                )));
            }
            return Err(ShopUnavailable(format!("shop answered {status}")));
        }
        if status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            return Err(ShopUnavailable(format!("shop answered {status}")));
        }
        if !status.is_success() {
            return Ok(ModelFetch::Rejected(format!(
                "shop answered {status} for design {design_id} version {version}"
            )));
        }
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head = Vec::with_capacity(crate::stl::HEADER_LEN);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ShopUnavailable(describe(&e)))?
        {
            size += chunk.len() as u64;
            if size > MAX_MODEL_BYTES {
                return Ok(ModelFetch::Rejected(format!(
                    "model file is larger than {MAX_MODEL_BYTES} bytes"
                )));
            }
            let room = crate::stl::HEADER_LEN.saturating_sub(head.len());
            head.extend_from_slice(&chunk[..room.min(chunk.len())]);
            hasher.update(&chunk);
        }
        Ok(ModelFetch::Found(ModelFile {
            sha256: hex::encode(hasher.finalize()),
            size,
            head,
        }))
    }
}

/// Shop error codes that mean the saved model file is gone or damaged for good.
pub const PERMANENT_SHOP_ERRORS: [&str; 2] = ["model_file_missing", "model_file_corrupt"];

/// How much of an error body is read.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// `(code, message)` of a Shop error body whose code is in [`PERMANENT_SHOP_ERRORS`].
pub fn permanent_error(body: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("code")?.as_str()?;
    if !PERMANENT_SHOP_ERRORS.contains(&code) {
        return None;
    }
    let message = v
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    Some((code.to_owned(), message.to_owned()))
}

/// Up to `limit` bytes of the body; errors end the read (the body is only diagnostic).
async fn read_prefix(resp: &mut reqwest::Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]),
            _ => break,
        }
    }
    out
}

/// A short cause for the log: reqwest's Display hides whether it was a timeout.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out: {e}")
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lost_or_corrupt_files_are_permanent() {
        let missing = br#"{"code":"model_file_missing","message":"file gone"}"#;
        assert_eq!(
            permanent_error(missing),
            Some(("model_file_missing".into(), "file gone".into()))
        );
        assert!(permanent_error(br#"{"code":"model_file_corrupt"}"#).is_some());
        assert_eq!(
            permanent_error(br#"{"code":"internal_error","message":"x"}"#),
            None
        );
        assert_eq!(permanent_error(b"<html>502 Bad Gateway</html>"), None);
    }
}
