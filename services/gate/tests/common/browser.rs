//! A browser-like client for the login tests: no redirect followed, cookies by hand, the real
//! Keycloak login form filled in.

use printflow_test_support::identity;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use std::collections::BTreeMap;

/// A client that does not follow redirects: each hop is checked.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The cookies a response sets, name → (value, attributes).
pub fn set_cookies(headers: &HeaderMap) -> BTreeMap<String, (String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), (value.to_owned(), attrs.to_owned()))
        })
        .collect()
}

fn cookie_header(jar: &BTreeMap<String, String>) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn location(headers: &HeaderMap) -> String {
    headers[LOCATION].to_str().unwrap().to_owned()
}

/// Signs `user` in through the Keycloak login form; returns (the callback's path and query as
/// Keycloak sent it, the login cookie the gate set).
pub async fn sign_in_at_keycloak(gate: &str, user: &str, return_to: &str) -> (String, String) {
    let http = browser();
    let start = http
        .get(format!("{gate}/auth/login?return_to={return_to}"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let login_cookie = set_cookies(start.headers())["printflow_login"].clone();
    assert!(login_cookie.1.contains("HttpOnly") && login_cookie.1.contains("Secure"));
    let authorize = location(start.headers());
    assert!(authorize.starts_with(&identity::issuer()), "{authorize}");
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "client_id=telemetry-console",
    ] {
        assert!(authorize.contains(part), "{part} in {authorize}");
    }

    // Keycloak's login page: its form and its cookies.
    let page = http.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut jar: BTreeMap<String, String> = set_cookies(page.headers())
        .into_iter()
        .map(|(k, (v, _))| (k, v))
        .collect();
    let html = page.text().await.unwrap();
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form")
        .replace("&amp;", "&");
    let submitted = http
        .post(action)
        .header(COOKIE, cookie_header(&jar))
        .form(&[
            ("username", user),
            ("password", &identity::password(user)),
            ("credentialId", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 302, "Keycloak did not accept the login");
    jar.extend(
        set_cookies(submitted.headers())
            .into_iter()
            .map(|(k, (v, _))| (k, v)),
    );
    let callback = location(submitted.headers());
    let path = callback
        .strip_prefix("http://127.0.0.1:16686")
        .unwrap_or_else(|| panic!("callback to the configured public URL: {callback}"))
        .to_owned();
    assert!(path.starts_with("/auth/callback?"), "{path}");
    (path, login_cookie.0)
}

/// A gate on free ports with browser login configured (the dev realm's `telemetry-console`).
pub async fn login_gate() -> printflow_runtime::Spawned {
    super::gate(&[(
        "GATE_OIDC_CLIENT_SECRET",
        identity::client_secret("telemetry-console"),
    )])
    .await
}

/// Completes a sign-in at `gate`: the callback with the login cookie; the session cookie's value.
pub async fn signed_in(gate: &str, user: &str) -> String {
    let (callback, login_cookie) = sign_in_at_keycloak(gate, user, "/").await;
    let done = browser()
        .get(format!("{gate}{callback}"))
        .header(COOKIE, format!("printflow_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    set_cookies(done.headers())["printflow_session"].0.clone()
}
