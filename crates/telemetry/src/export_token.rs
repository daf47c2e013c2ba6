//! The service's own access token on its OTLP exports, so the telemetry gate knows who writes
//! (client credentials, `TELEMETRY_TOKEN_URL` / `TELEMETRY_CLIENT_ID` / `TELEMETRY_CLIENT_SECRET`).
//!
//! The batch span processor exports on a thread of its own, outside any async runtime, and an
//! export must never wait on the identity provider. So a background thread keeps a current token
//! (fetched at start, renewed shortly before it expires, fetched again at once when an export
//! answers 401) and the exporter only reads it: with no token yet, a batch goes without one and
//! the gate refuses it, which the SDK reports like any failed export.

use crate::settings::ExportAuth;
use axum::http::{header, HeaderValue, StatusCode};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use serde::Deserialize;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

/// How long to wait after a failed fetch before the next one.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The current token, shared by the refresher thread and the exporter.
#[derive(Debug, Clone, Default)]
pub struct ExportToken {
    /// The token to send, once one was fetched.
    current: Arc<RwLock<Option<String>>>,
    /// Set to ask the refresher for a new token now; its condition variable wakes it.
    renew: Arc<(Mutex<bool>, Condvar)>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl ExportToken {
    /// Starts the refresher thread for `auth`.
    pub fn start(auth: ExportAuth) -> ExportToken {
        let token = ExportToken::default();
        let shared = token.clone();
        // A detached thread: it only sleeps between fetches and dies with the process.
        let spawned = std::thread::Builder::new()
            .name("otlp-token".into())
            .spawn(move || shared.refresh_forever(&auth));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the OTLP token refresher; exports go without a token");
        }
        token
    }

    /// The token to send, if there is one.
    pub fn bearer(&self) -> Option<String> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts the current token on an OTLP/gRPC export (the exporter's interceptor). Without one
    /// yet, the call goes without and the gate answers `UNAUTHENTICATED`, as over HTTP (the
    /// refresher is already fetching one).
    pub fn authorise_grpc(
        &self,
        mut req: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = self.bearer() {
            match format!("Bearer {token}").parse() {
                Ok(value) => {
                    req.metadata_mut().insert("authorization", value);
                }
                // A token is ASCII by construction; if one were not, ask for another.
                Err(_) => self.renew_now(),
            }
        }
        Ok(req)
    }

    /// Asks for a new token now (an export was refused with 401).
    pub fn renew_now(&self) {
        let (flag, wake) = &*self.renew;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_one();
    }

    fn refresh_forever(&self, auth: &ExportAuth) {
        let client = match reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "no HTTP client for OTLP tokens; exports go without one");
                return;
            }
        };
        loop {
            let wait = match fetch(&client, auth) {
                Ok((token, lifetime)) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(token);
                    lifetime.saturating_sub(Duration::from_secs(30).min(lifetime / 5))
                }
                Err(reason) => {
                    tracing::warn!(client = %auth.client_id, %reason, "could not get a token for OTLP exports");
                    RETRY_AFTER_FAILURE
                }
            };
            let (flag, wake) = &*self.renew;
            let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
            let (mut guard, _) = wake
                .wait_timeout_while(guard, wait, |renew| !*renew)
                .unwrap_or_else(|p| p.into_inner());
            *guard = false;
        }
    }
}

/// One client-credentials fetch: the token and its lifetime.
fn fetch(
    client: &reqwest::blocking::Client,
    auth: &ExportAuth,
) -> Result<(String, Duration), String> {
    let resp = client
        .post(&auth.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", auth.client_id.as_str()),
            ("client_secret", auth.client_secret.expose()),
        ])
        .send()
        .map_err(|e| e.without_url().to_string())?;
    if !resp.status().is_success() {
        return Err(format!("the token endpoint answered {}", resp.status()));
    }
    let body: TokenResponse = resp.json().map_err(|e| e.to_string())?;
    Ok((body.access_token, Duration::from_secs(body.expires_in)))
}

/// The OTLP/HTTP client: the SDK's blocking reqwest client plus the current token.
#[derive(Debug)]
pub struct AuthenticatedClient {
    /// Sends the requests (with the exporter's deadline).
    pub inner: reqwest::blocking::Client,
    /// The token to add.
    pub token: ExportToken,
}

#[async_trait::async_trait]
impl HttpClient for AuthenticatedClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        if let Some(token) = self.token.bearer() {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        let response = self.inner.send_bytes(request).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.token.renew_now();
        }
        Ok(response)
    }
}
