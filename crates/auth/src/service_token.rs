//! [`ServiceToken`]: a service's own access token (OAuth 2 client credentials), for calling
//! another service.

use crate::settings::ClientSettings;
use reqwest::StatusCode;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be reached or did not answer in time.
    #[error("the identity provider is unreachable ({0})")]
    Unreachable(&'static str),
    /// The identity provider refused the client (wrong secret, client disabled, ...).
    #[error("the identity provider refused client '{client}': {status} {error}")]
    Refused {
        /// Our client id.
        client: String,
        /// The HTTP status.
        status: StatusCode,
        /// OAuth 2 `error` code (`invalid_client`, ...), never the secret.
        error: String,
    },
    /// It answered something that is not a token response.
    #[error("the identity provider answered an unreadable token response")]
    Invalid,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    error: Option<String>,
}

#[derive(Debug)]
struct Cached {
    /// The token.
    token: Arc<str>,
    /// When to fetch a new one (shortly before it expires).
    renew_at: Instant,
}

/// A cached client-credentials token. The token is reused until shortly before it expires, so
/// calls go on while the identity provider restarts; [`ServiceToken::send`] fetches a fresh one
/// once when a call answers `401` (the other side may have stopped accepting it).
pub struct ServiceToken {
    /// Where tokens come from, and as whom.
    settings: ClientSettings,
    /// Client for the token endpoint.
    http: reqwest::Client,
    /// The current token; the lock also makes concurrent callers share one fetch.
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceToken")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ServiceToken {
    /// Tokens for the client in `settings`; nothing is fetched until the first call.
    pub fn new(settings: ClientSettings) -> ServiceToken {
        ServiceToken {
            settings,
            http: printflow_web::client::http_client(Duration::from_secs(5)),
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one.
    pub async fn bearer(&self) -> Result<Arc<str>, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(c.token.clone());
        }
        let fetched = self.fetch().await?;
        let token = fetched.token.clone();
        *cached = Some(fetched);
        Ok(token)
    }

    /// Forgets `token` if it is the cached one, so the next [`ServiceToken::bearer`] fetches.
    pub async fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &*c.token == token) {
            *cached = None;
        }
    }

    /// Sends the request `build` makes with a bearer token; on `401`, once more with a fresh
    /// token. `build` is called per attempt (a request cannot be sent twice).
    pub async fn send<F>(
        &self,
        http: &reqwest::Client,
        route: &str,
        build: F,
    ) -> Result<reqwest::Response, SendError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let mut retried = false;
        loop {
            let token = self.bearer().await.map_err(SendError::Token)?;
            let request = build()
                .bearer_auth(&*token)
                .build()
                .map_err(SendError::Http)?;
            let resp = printflow_telemetry::http_client::send(http, request, route)
                .await
                .map_err(SendError::Http)?;
            if resp.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(resp);
            }
            tracing::info!(
                route,
                "call answered 401; fetching a fresh service token once"
            );
            self.invalidate(&token).await;
            retried = true;
        }
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let s = &self.settings;
        let request = self
            .http
            .post(&s.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", s.client_id.as_str()),
                ("client_secret", s.client_secret.expose()),
            ])
            .build()
            .map_err(|_| TokenError::Invalid)?;
        let started = Instant::now();
        let resp = printflow_telemetry::http_client::send(&self.http, request, "token")
            .await
            .map_err(|e| {
                TokenError::Unreachable(printflow_telemetry::http_client::error_type(&e))
            })?;
        let status = resp.status();
        if !status.is_success() {
            let error = resp
                .json::<ErrorResponse>()
                .await
                .ok()
                .and_then(|e| e.error)
                .unwrap_or_else(|| "no error code".to_owned());
            tracing::warn!(client = %s.client_id, %status, %error, "the identity provider refused a service token");
            return Err(TokenError::Refused {
                client: s.client_id.clone(),
                status,
                error,
            });
        }
        let body: TokenResponse = resp.json().await.map_err(|_| TokenError::Invalid)?;
        let lifetime = Duration::from_secs(body.expires_in);
        Ok(Cached {
            token: body.access_token.into(),
            renew_at: started + lifetime.saturating_sub(renew_margin(lifetime)),
        })
    }
}

/// How long before expiry a token is replaced: 30 s, or a fifth of a short lifetime, so a call
/// never sets off with a token that expires on the way.
fn renew_margin(lifetime: Duration) -> Duration {
    Duration::from_secs(30).min(lifetime / 5)
}

/// Why [`ServiceToken::send`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No token.
    #[error(transparent)]
    Token(TokenError),
    /// The call itself failed.
    #[error(transparent)]
    Http(reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_shortly_before_they_expire() {
        assert_eq!(
            renew_margin(Duration::from_secs(300)),
            Duration::from_secs(30)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(10)),
            Duration::from_secs(2)
        );
        assert_eq!(renew_margin(Duration::ZERO), Duration::ZERO);
    }
}
