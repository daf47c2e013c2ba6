//! Browser sessions: after the OpenID Connect login ([`crate::login`]) the gate keeps the
//! person's tokens server-side and the browser holds only a random session id, in a `Secure`,
//! `HttpOnly`, `SameSite=Lax` cookie. On each request `crate::login::bearer_from_session` turns
//! the cookie into the `Authorization: Bearer` header the token guard already checks, renewing
//! the access token with the refresh token when it is about to expire. So a browser and an API
//! client are authorised by the same code, with the same token.
//!
//! Sessions live in memory: a restarted gate sends the browser through the login again, which
//! Keycloak's own session makes a redirect without a password prompt.

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "printflow_session";
/// Most sessions held; beyond it the one closest to its end goes (a flood of logins cannot
/// exhaust memory).
const MAX_SESSIONS: usize = 10_000;

/// A signed-in person's tokens.
#[derive(Clone)]
pub struct Session {
    /// The current access token.
    pub access_token: String,
    /// When it expires (monotonic clock).
    pub access_expires: Instant,
    /// To renew it; `None` if the realm gave none.
    pub refresh_token: Option<String>,
    /// The ID token, sent back to Keycloak at logout (`id_token_hint`).
    pub id_token: Option<String>,
    /// The session's end: the refresh token's lifetime, else the access token's.
    pub ends: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens never go to a log.
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// The sessions, by id. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    /// A std mutex: held for a map operation, never across an `.await`.
    map: Arc<Mutex<HashMap<String, Session>>>,
}

impl Sessions {
    /// Stores `session` under a new random id, which it returns.
    pub fn create(&self, session: Session) -> String {
        let id = random_token();
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| s.ends > now);
        if map.len() >= MAX_SESSIONS {
            if let Some(first) = map
                .iter()
                .min_by_key(|(_, s)| s.ends)
                .map(|(k, _)| k.clone())
            {
                map.remove(&first);
            }
        }
        map.insert(id.clone(), session);
        id
    }

    /// The session `id`, unless it ended.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        match map.get(id) {
            Some(s) if s.ends > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Replaces the session `id` (after a renewal).
    pub fn update(&self, id: &str, session: Session) {
        if let Some(slot) = self.lock().get_mut(id) {
            *slot = session;
        }
    }

    /// Ends the session `id`, returning it.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().remove(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// 32 random bytes, base64url without padding: session ids, `state`, `nonce`, PKCE verifiers.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax` (the login's redirect back from Keycloak is
/// a top-level navigation, so the cookie must go with it), `Secure` unless configured off.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Duration,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(ends_in: Duration) -> Session {
        Session {
            access_token: "a".into(),
            access_expires: Instant::now() + ends_in,
            refresh_token: None,
            id_token: None,
            ends: Instant::now() + ends_in,
        }
    }

    #[test]
    fn sessions_end_and_ids_are_unguessable() {
        let sessions = Sessions::default();
        let live = sessions.create(session(Duration::from_secs(60)));
        let ended = sessions.create(session(Duration::ZERO));
        assert!(sessions.get(&live).is_some());
        assert!(sessions.get(&ended).is_none());
        assert_eq!(live.len(), 43, "32 bytes, base64url");
        assert_ne!(live, sessions.create(session(Duration::from_secs(60))));
        assert!(sessions.remove(&live).is_some());
        assert!(sessions.get(&live).is_none());
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; printflow_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
        let set = set_cookie(SESSION_COOKIE, "xyz", "/", Duration::from_secs(60), true);
        let set = set.to_str().unwrap();
        for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(set.contains(part), "{set}");
        }
    }
}
