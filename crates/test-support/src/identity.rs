//! Tokens from the real Keycloak that `scripts/test.sh` starts, for the dev realm's people and
//! service clients, and the settings a service under test needs to verify them.
//!
//! Where Keycloak is: `PRINTFLOW_TEST_KEYCLOAK_URL` (default `http://127.0.0.1:8180`). Passwords
//! and client secrets are the dev realm's (`config/keycloak/printflow-realm.json`): the default
//! of each `${VAR:default}` placeholder, or `VAR` when it is set, exactly as Keycloak resolved
//! them at import.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The realm the services trust.
pub const REALM: &str = "printflow";

/// Keycloak's base URL.
pub fn keycloak_url() -> String {
    std::env::var("PRINTFLOW_TEST_KEYCLOAK_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8180".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// The issuer of the dev realm's tokens.
pub fn issuer() -> String {
    format!("{}/realms/{REALM}", keycloak_url())
}

/// What service `prefix` (`SHOP`, `CRM`, `MES`) needs to verify the realm's tokens and, as
/// `client` (`shop-api`), to fetch its own: its `<P>_AUTH_*` settings.
pub fn service_env(prefix: &str, client: &str) -> Vec<(&'static str, String)> {
    let [issuer_key, id_key, secret_key] = match prefix {
        "SHOP" => [
            "SHOP_AUTH_ISSUER_URL",
            "SHOP_AUTH_CLIENT_ID",
            "SHOP_AUTH_CLIENT_SECRET",
        ],
        "CRM" => [
            "CRM_AUTH_ISSUER_URL",
            "CRM_AUTH_CLIENT_ID",
            "CRM_AUTH_CLIENT_SECRET",
        ],
        "MES" => [
            "MES_AUTH_ISSUER_URL",
            "MES_AUTH_CLIENT_ID",
            "MES_AUTH_CLIENT_SECRET",
        ],
        other => panic!("no service with the settings prefix {other}"),
    };
    vec![
        (issuer_key, issuer()),
        (id_key, client.to_owned()),
        (secret_key, client_secret(client)),
    ]
}

/// The dev realm file, parsed once.
fn realm() -> &'static Value {
    static REALM_FILE: OnceLock<Value> = OnceLock::new();
    REALM_FILE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/keycloak/printflow-realm.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        serde_json::from_str(&text).expect("the realm file is JSON")
    })
}

/// `${VAR:default}`: `VAR` from the environment if set, else `default`.
fn resolve(placeholder: &str) -> String {
    let inner = placeholder
        .strip_prefix("${")
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a ${{VAR:default}} placeholder: {placeholder}"));
    let (var, default) = inner.split_once(':').unwrap_or((inner, ""));
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// The secret of service client `client` (`shop-api`, `traffic`, ...).
pub fn client_secret(client: &str) -> String {
    let secret = realm()["clients"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["clientId"] == client))
        .and_then(|c| c["secret"].as_str())
        .unwrap_or_else(|| panic!("no confidential client '{client}' in the dev realm"));
    resolve(secret)
}

/// The password of dev user `user` (`alice`, `sam`, ...).
pub fn password(user: &str) -> String {
    let value = realm()["users"]
        .as_array()
        .and_then(|us| us.iter().find(|u| u["username"] == user))
        .and_then(|u| u["credentials"][0]["value"].as_str())
        .unwrap_or_else(|| panic!("no user '{user}' with a password in the dev realm"));
    resolve(value)
}

/// Tokens fetched by this test process, reused until a minute before they expire (Keycloak's
/// brute-force protection and its CPU are shared by every test).
fn cache() -> &'static Mutex<HashMap<String, (String, Instant)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cached(key: &str) -> Option<String> {
    let cache = cache().lock().unwrap();
    let (token, until) = cache.get(key)?;
    (Instant::now() < *until).then(|| token.clone())
}

async fn cached_token(key: String, form: Vec<(&'static str, String)>) -> String {
    if let Some(token) = cached(&key) {
        return token;
    }
    // One login at a time: parallel tests asking for the same person would otherwise log in
    // concurrently, and Keycloak's brute-force detection takes a burst of simultaneous logins
    // for one user as an attack (the user is locked for a minute).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = ONE_AT_A_TIME.lock().await;
    if let Some(token) = cached(&key) {
        return token;
    }
    let body = token_response(&issuer(), &key, &form).await;
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(60));
    let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
    cache().lock().unwrap().insert(key, (token.clone(), until));
    token
}

/// The token endpoint's answer for `form` at the realm whose issuer URL is `realm`, asserting
/// success (`what` names the request in the failure).
async fn token_response(realm: &str, what: &str, form: &[(&str, String)]) -> Value {
    let url = format!("{realm}/protocol/openid-connect/token");
    let resp = reqwest::Client::new()
        .post(&url)
        .form(form)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Keycloak at {url} (scripts/test.sh starts it): {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.expect("a JSON token response");
    assert!(
        status.is_success(),
        "Keycloak refused a token for {what}: {status} {body}"
    );
    body
}

/// An access token of `username` in any realm of the test Keycloak (`realm` its name, e.g.
/// `master` for the bootstrap admin), by password grant through public client `client`; not
/// cached. For the dev realm's people use [`user_token`].
pub async fn password_token(realm: &str, client: &str, username: &str, password: &str) -> String {
    let form = [
        ("grant_type", "password".to_owned()),
        ("client_id", client.to_owned()),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let realm_url = format!("{}/realms/{realm}", keycloak_url());
    token_response(&realm_url, &format!("{username}@{realm}"), &form).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// `GET url` as `user`, asking for a page (`Accept: text/html`): the status and the body.
pub async fn page_as(user: &str, url: &str) -> (u16, String) {
    let resp = client_as_user(user)
        .await
        .get(url)
        .header(reqwest::header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// A token of the test Keycloak's bootstrap administrator (`admin` in realm `master`, password
/// `KEYCLOAK_ADMIN_PASSWORD`, default the dev one), for its admin API.
pub async fn admin_token() -> String {
    let password =
        std::env::var("KEYCLOAK_ADMIN_PASSWORD").unwrap_or_else(|_| "admin-dev-only".to_owned());
    password_token("master", "admin-cli", "admin", &password).await
}

/// Ends every Keycloak session of the dev realm's `user` (as an administrator signing them out
/// would): their refresh tokens stop working; access tokens already issued stay valid until they
/// expire.
pub async fn end_sessions(user: &str) {
    let admin = admin_token().await;
    let http = reqwest::Client::new();
    let base = format!("{}/admin/realms/{REALM}", keycloak_url());
    let found: Value = http
        .get(format!("{base}/users"))
        .query(&[("username", user), ("exact", "true")])
        .bearer_auth(&admin)
        .send()
        .await
        .expect("Keycloak's admin API")
        .json()
        .await
        .expect("a JSON list of users");
    let id = found[0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no user {user}: {found}"));
    let resp = http
        .post(format!("{base}/users/{id}/logout"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("Keycloak's admin API");
    assert!(
        resp.status().is_success(),
        "signing {user} out: {}",
        resp.status()
    );
}

/// `GET {base}/metrics` as Prometheus does (a token of the `prometheus` client, which has the
/// metrics-reader role); the OpenMetrics text.
pub async fn metrics_text(base: &str) -> String {
    let resp = client_as_service("prometheus")
        .await
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {base}/metrics: {e}"));
    assert!(
        resp.status().is_success(),
        "GET {base}/metrics: {}",
        resp.status()
    );
    resp.text().await.expect("a metrics body")
}

/// An access token of dev user `user` (password grant through the `printflow-cli` client).
pub async fn user_token(user: &str) -> String {
    cached_token(
        format!("user {user}"),
        vec![
            ("grant_type", "password".to_owned()),
            ("client_id", "printflow-cli".to_owned()),
            ("username", user.to_owned()),
            ("password", password(user)),
        ],
    )
    .await
}

/// An access token of service client `client` (client credentials).
pub async fn client_token(client: &str) -> String {
    cached_token(
        format!("client {client}"),
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client.to_owned()),
            ("client_secret", client_secret(client)),
        ],
    )
    .await
}

/// A client sending `token` with every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token is a valid header value");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("static client configuration")
}

/// A client acting as dev user `user`.
pub async fn client_as_user(user: &str) -> reqwest::Client {
    client_with(&user_token(user).await)
}

/// A client acting as service client `client`.
pub async fn client_as_service(client: &str) -> reqwest::Client {
    client_with(&client_token(client).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_resolve_to_their_defaults_or_the_environment() {
        assert_eq!(
            resolve("${PRINTFLOW_TEST_SURELY_UNSET_VAR:dev-value}"),
            "dev-value"
        );
        assert!(!client_secret("shop-api").is_empty());
        assert!(!password("alice").is_empty());
    }

    #[test]
    fn client_descriptions_fit_keycloaks_column() {
        // Keycloak stores a client's description in a VARCHAR(255); a longer one fails the
        // import and Keycloak does not start.
        for c in realm()["clients"].as_array().unwrap() {
            let text = c["description"].as_str().unwrap_or_default();
            assert!(
                text.chars().count() <= 255,
                "{}: {} characters",
                c["clientId"],
                text.chars().count()
            );
        }
    }
}
