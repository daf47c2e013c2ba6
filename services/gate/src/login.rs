//! People in a browser sign in through Keycloak: the OpenID Connect authorization code flow with
//! PKCE (S256), the gate as the confidential client `telemetry-console`.
//!
//! - `GET /auth/login?return_to=/path`: a fresh `state`, `nonce` and PKCE verifier, kept here for
//!   10 minutes; `state` also goes into a short-lived cookie, so the callback only completes in
//!   the browser that started the login (login CSRF); then a redirect to Keycloak.
//! - `GET /auth/callback?code&state`: checks `state` against the cookie and the pending login,
//!   redeems the code with the verifier and the client secret, checks the access token like any
//!   other (issuer, audience, signature) and the ID token's `nonce`, then starts a session
//!   ([`crate::session`]) and returns to `return_to` (a path on this host only).
//! - `GET|POST /auth/logout`: ends the session and Keycloak's (RP-initiated logout), then
//!   `GET /auth/logged-out`.
//!
//! - [`bearer_from_session`]: the middleware that turns a session cookie into the person's
//!   bearer token.
//!
//! Tokens never reach the browser or a log.

use crate::session::{cookie, random_token, set_cookie, Session, Sessions, SESSION_COOKIE};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use printflow_auth::Auth;
use printflow_config::Secret;
use printflow_web::{ApiError, Query};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cookie binding a login in progress to its browser.
const LOGIN_COOKIE: &str = "printflow_login";
/// How long a started login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);
/// Most logins in progress at once (older ones are dropped first).
const MAX_PENDING: usize = 10_000;

/// The browser login's settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The gate's address as the browser sees it, e.g. `http://127.0.0.1:16686`: the callback
    /// and logout return URLs are built on it (`GATE_PUBLIC_URL`).
    pub public_url: String,
    /// The client people sign in with (`GATE_OIDC_CLIENT_ID`, default `telemetry-console`).
    pub client_id: String,
    /// Its secret (`GATE_OIDC_CLIENT_SECRET`); without one, browser login answers 503.
    pub client_secret: Option<Secret>,
    /// Keycloak's authorization endpoint (`GATE_OIDC_AUTHORIZE_URL`).
    pub authorize_url: String,
    /// Its token endpoint (`GATE_OIDC_TOKEN_URL`).
    pub token_url: String,
    /// Its end-session endpoint (`GATE_OIDC_LOGOUT_URL`).
    pub logout_url: String,
    /// Whether cookies carry `Secure` (`GATE_COOKIE_SECURE`, default true; browsers accept
    /// `Secure` cookies from `http://127.0.0.1` and `localhost`).
    pub cookie_secure: bool,
    /// How long before its access token expires a session renews it, so that a request never
    /// carries a token that expires on its way (`GATE_SESSION_RENEW_BEFORE_SECONDS`, default
    /// 30; at least the token's lifetime renews on every request).
    pub renew_before: Duration,
}

/// A login waiting for its callback.
struct Pending {
    verifier: String,
    nonce: String,
    return_to: String,
    started: Instant,
}

/// The login flow's state. Cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    /// Settings.
    settings: Arc<OidcSettings>,
    /// Client for the token endpoint.
    http: reqwest::Client,
    /// Checks the tokens received, as for any request.
    auth: Auth,
    /// Logins in progress, by `state`.
    pending: Arc<Mutex<HashMap<String, Pending>>>,
    /// Signed-in browsers.
    pub sessions: Sessions,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
    refresh_expires_in: Option<u64>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl Oidc {
    /// The login flow with `settings`, checking tokens with `auth`.
    pub fn new(settings: OidcSettings, http: reqwest::Client, auth: Auth) -> Oidc {
        Oidc {
            settings: Arc::new(settings),
            http,
            auth,
            pending: Arc::default(),
            sessions: Sessions::default(),
        }
    }

    /// The `/auth/*` routes (public: they are how one gets authenticated).
    pub fn routes(self) -> Router {
        Router::new()
            .route("/auth/login", get(login))
            .route("/auth/callback", get(callback))
            .route("/auth/logout", get(logout).post(logout))
            .route("/auth/logged-out", get(logged_out))
            .with_state(self)
    }

    /// Renews `session`'s access token with its refresh token.
    pub async fn renew(&self, session: &Session) -> Result<Session, String> {
        let refresh = session.refresh_token.as_deref().ok_or("no refresh token")?;
        let tokens = self
            .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .await?;
        Ok(self.session_from(tokens, session.id_token.clone()))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, String> {
        let secret = self
            .settings
            .client_secret
            .as_ref()
            .ok_or("browser login is not configured")?;
        let resp = self
            .http
            .post(&self.settings.token_url)
            .basic_auth(&self.settings.client_id, Some(secret.expose()))
            .form(form)
            .send()
            .await
            .map_err(|e| format!("token endpoint unreachable: {e}"))?;
        if !resp.status().is_success() {
            // Keycloak's error code only (e.g. invalid_grant), never the body's details.
            return Err(format!("token endpoint answered {}", resp.status()));
        }
        resp.json()
            .await
            .map_err(|e| format!("token endpoint answer unreadable: {e}"))
    }

    fn session_from(&self, tokens: TokenResponse, previous_id_token: Option<String>) -> Session {
        let now = Instant::now();
        let access_expires = now + Duration::from_secs(tokens.expires_in);
        let ends = match (&tokens.refresh_token, tokens.refresh_expires_in) {
            (Some(_), Some(secs)) if secs > 0 => now + Duration::from_secs(secs),
            _ => access_expires,
        };
        Session {
            access_token: tokens.access_token,
            access_expires,
            refresh_token: tokens.refresh_token,
            id_token: tokens.id_token.or(previous_id_token),
            ends,
        }
    }

    fn callback_url(&self) -> String {
        format!("{}/auth/callback", self.settings.public_url)
    }
}

/// A `return_to` that stays on this host: a path, not `//host` nor a URL.
fn safe_return(return_to: Option<String>) -> String {
    match return_to {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/".to_owned(),
    }
}

/// The PKCE S256 challenge of `verifier`.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn not_configured() -> Response {
    ApiError::unavailable(
        "login_not_configured",
        "browser login is not configured on this gate (GATE_OIDC_CLIENT_SECRET); API clients send a bearer token",
    )
    .into_response()
}

async fn login(State(oidc): State<Oidc>, Query(q): Query<LoginQuery>) -> Response {
    if oidc.settings.client_secret.is_none() {
        return not_configured();
    }
    let state = random_token();
    let verifier = random_token();
    let nonce = random_token();
    let challenge = pkce_challenge(&verifier);
    {
        let mut pending = oidc.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|_, p| p.started.elapsed() < LOGIN_TIMEOUT);
        if pending.len() >= MAX_PENDING {
            if let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| k.clone())
            {
                pending.remove(&oldest);
            }
        }
        pending.insert(
            state.clone(),
            Pending {
                verifier,
                nonce: nonce.clone(),
                return_to: safe_return(q.return_to),
                started: Instant::now(),
            },
        );
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.settings.client_id)
        .append_pair("redirect_uri", &oidc.callback_url())
        .append_pair("scope", "openid")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let mut resp =
        Redirect::to(&format!("{}?{query}", oidc.settings.authorize_url)).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &state,
            "/auth",
            LOGIN_TIMEOUT,
            oidc.settings.cookie_secure,
        ),
    );
    resp
}

fn login_failed(message: &'static str) -> Response {
    ApiError::bad_request("login_failed", message).into_response()
}

async fn callback(
    State(oidc): State<Oidc>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if oidc.settings.client_secret.is_none() {
        return not_configured();
    }
    if let Some(error) = q.error {
        tracing::info!(%error, "Keycloak ended a login without a code");
        return login_failed("the sign-in was not completed; start again at /auth/login");
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return login_failed("the callback needs code and state");
    };
    if cookie(&headers, LOGIN_COOKIE) != Some(state.as_str()) {
        return login_failed("this sign-in was started in another browser or has expired; start again at /auth/login");
    }
    let pending = oidc
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&state)
        .filter(|p| p.started.elapsed() < LOGIN_TIMEOUT);
    let Some(pending) = pending else {
        return login_failed(
            "this sign-in has expired or was already used; start again at /auth/login",
        );
    };
    let redirect_uri = oidc.callback_url();
    let tokens = match oidc
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &pending.verifier),
        ])
        .await
    {
        Ok(tokens) => tokens,
        Err(detail) => {
            tracing::info!(%detail, "a login code could not be redeemed");
            return login_failed("the sign-in could not be completed; start again at /auth/login");
        }
    };
    if id_token_nonce(tokens.id_token.as_deref()).as_deref() != Some(pending.nonce.as_str()) {
        return login_failed("the identity provider's answer does not belong to this sign-in");
    }
    let mut bearer = HeaderMap::new();
    match HeaderValue::from_str(&format!("Bearer {}", tokens.access_token)) {
        Ok(v) => bearer.insert(header::AUTHORIZATION, v),
        Err(_) => return login_failed("the identity provider sent an unusable token"),
    };
    let principal = match oidc.auth.authorise(&bearer, &[]).await {
        Ok(principal) => principal,
        Err(rejection) => {
            oidc.auth.refused(rejection, "GET", "/auth/callback");
            return login_failed("the identity provider's token was not accepted");
        }
    };
    tracing::info!(
        user = principal.username.as_deref().unwrap_or(&principal.subject),
        "signed in"
    );
    let session = oidc.session_from(tokens, None);
    let lifetime = session.ends.saturating_duration_since(Instant::now());
    let id = oidc.sessions.create(session);
    let mut resp = Redirect::to(&pending.return_to).into_response();
    let secure = oidc.settings.cookie_secure;
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, "/", lifetime, secure),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/auth", Duration::ZERO, secure),
    );
    resp
}

/// The `nonce` claim of an ID token received straight from the token endpoint (its signature
/// need not be checked: it came over the gate's own back channel, OpenID Connect Core 3.1.3.7).
fn id_token_nonce(id_token: Option<&str>) -> Option<String> {
    let payload = id_token?.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["nonce"].as_str().map(str::to_owned)
}

async fn logout(State(oidc): State<Oidc>, headers: HeaderMap) -> Response {
    let session = cookie(&headers, SESSION_COOKIE).and_then(|id| oidc.sessions.remove(id));
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &oidc.settings.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/auth/logged-out", oidc.settings.public_url),
        );
    if let Some(hint) = session.as_ref().and_then(|s| s.id_token.as_deref()) {
        query.append_pair("id_token_hint", hint);
    }
    let target = format!("{}?{}", oidc.settings.logout_url, query.finish());
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            "/",
            Duration::ZERO,
            oidc.settings.cookie_secure,
        ),
    );
    resp
}

async fn logged_out() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>\
         <body><main><h1>Signed out</h1><p><a href=\"/auth/login\">Sign in again</a></p></main></body></html>",
    )
}

/// Middleware: a request without an `Authorization` header but with a live session cookie gets
/// the session's access token as its bearer token (renewed first when due). A page load without
/// either, or with a cookie whose session is gone (expired, logged out, gate restarted), is sent
/// to the login and back; anything else without a session gets a JSON `401`.
pub async fn bearer_from_session(
    State(oidc): State<Oidc>,
    mut req: Request,
    next: Next,
) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let Some(id) = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned) else {
        if wants_page(&req) {
            return to_login(&req);
        }
        return next.run(req).await;
    };
    let Some(mut session) = oidc.sessions.get(&id) else {
        return session_ended(&req);
    };
    if session.access_expires <= Instant::now() + oidc.settings.renew_before {
        match oidc.renew(&session).await {
            Ok(renewed) => {
                oidc.sessions.update(&id, renewed.clone());
                session = renewed;
            }
            Err(detail) => {
                tracing::info!(%detail, "a browser session could not be renewed; signing in again");
                oidc.sessions.remove(&id);
                return session_ended(&req);
            }
        }
    }
    match HeaderValue::from_str(&format!("Bearer {}", session.access_token)) {
        Ok(value) => {
            req.headers_mut().insert(header::AUTHORIZATION, value);
            next.run(req).await
        }
        Err(_) => session_ended(&req),
    }
}

/// Whether `req` is a browser loading a page (not a script fetching data).
fn wants_page(req: &Request) -> bool {
    req.method() == axum::http::Method::GET
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

/// To the login, and back to this page after it.
fn to_login(req: &Request) -> Response {
    let back = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let target = format!(
        "/auth/login?return_to={}",
        form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    Redirect::to(&target).into_response()
}

/// What a request with a dead session gets: a page load goes to the login (and back), anything
/// else a JSON `401`.
fn session_ended(req: &Request) -> Response {
    if wants_page(req) {
        return to_login(req);
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_ended",
        "your session has ended; sign in again at /auth/login",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn return_to_stays_on_this_host() {
        assert_eq!(
            safe_return(Some("/api/traces?x=1".into())),
            "/api/traces?x=1"
        );
        for bad in [
            "//evil.example/x",
            "https://evil.example/",
            "evil",
            "/\\evil.example",
        ] {
            assert_eq!(safe_return(Some(bad.into())), "/", "{bad}");
        }
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn the_nonce_is_read_from_the_id_token() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"nonce":"n-1"}"#);
        assert_eq!(
            id_token_nonce(Some(&format!("h.{payload}.s"))),
            Some("n-1".into())
        );
        assert_eq!(id_token_nonce(Some("garbage")), None);
        assert_eq!(id_token_nonce(None), None);
    }
}
