//! A person signs in at the gate in a browser-like client through the real Keycloak login page
//! (authorization code flow with PKCE), reads traces with the session cookie alone, and signs
//! out; a replayed callback, a callback from another browser and an ended session are refused;
//! a session whose renewal Keycloak refuses sends a page load back to the login.
//! Jaeger's own UI is served behind the same login, its API requests filtered.

mod common;

use common::browser::{browser, location, login_gate, set_cookies, sign_in_at_keycloak, signed_in};

use printflow_test_support::identity;
use reqwest::header::{ACCEPT, COOKIE};
use serde_json::Value;

#[tokio::test]
async fn a_person_signs_in_reads_traces_with_the_session_and_signs_out() {
    let gate = login_gate().await;
    let base = gate.base_url.as_str();
    let http = browser();

    // Without a session or a token: 401.
    let anonymous = http
        .get(format!("{base}/api/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let (callback, login_cookie) = sign_in_at_keycloak(base, "riley", "/api/services").await;
    // The callback in another browser (without the login cookie) is refused.
    let elsewhere = http.get(format!("{base}{callback}")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 400);
    let done = http
        .get(format!("{base}{callback}"))
        .header(COOKIE, format!("printflow_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(done.headers()), "/api/services");
    let (session, attrs) = set_cookies(done.headers())["printflow_session"].clone();
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(attr), "{attr} in {attrs}");
    }
    // Replayed: the code and state are spent.
    let replayed = http
        .get(format!("{base}{callback}"))
        .header(COOKIE, format!("printflow_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 400);

    // The cookie alone authorises, as the person's own token would.
    let with_session = |path: &str| {
        http.get(format!("{base}{path}"))
            .header(COOKIE, format!("printflow_session={session}"))
    };
    let services = with_session("/api/services").send().await.unwrap();
    assert_eq!(services.status(), 200);
    let me: Value = with_session("/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&me["username"], &me["view"]),
        (&"riley".into(), &"sre".into())
    );

    // Sign out: the gate's session ends, and Keycloak's with the ID token as hint.
    let out = with_session("/auth/logout").send().await.unwrap();
    assert_eq!(out.status(), 303);
    let end_session = location(out.headers());
    assert!(end_session.starts_with(&format!(
        "{}/protocol/openid-connect/logout?",
        identity::issuer()
    )));
    assert!(
        end_session.contains("id_token_hint=") && end_session.contains("post_logout_redirect_uri=")
    );
    assert_eq!(set_cookies(out.headers())["printflow_session"].0, "");

    let ended = with_session("/api/services").send().await.unwrap();
    assert_eq!(ended.status(), 401);
    let body: Value = ended.json().await.unwrap();
    assert_eq!(body["code"], "session_ended");
    let page = with_session("/api/services")
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        location(page.headers()),
        "/auth/login?return_to=%2Fapi%2Fservices"
    );
}

#[tokio::test]
async fn a_session_keycloak_ended_goes_back_to_the_login_not_to_an_error() {
    // Renewing on every request (the realm's access tokens live 300 s), so the test need not
    // wait for the token to near its end.
    let gate = common::gate(&[
        (
            "GATE_OIDC_CLIENT_SECRET",
            identity::client_secret("telemetry-console"),
        ),
        ("GATE_SESSION_RENEW_BEFORE_SECONDS", "300".to_owned()),
    ])
    .await;
    let base = gate.base_url.as_str();
    let session = signed_in(base, "sam").await;
    let load = |path: &'static str, accept: &'static str| {
        let session = session.clone();
        async move {
            browser()
                .get(format!("{base}{path}"))
                .header(COOKIE, format!("printflow_session={session}"))
                .header(ACCEPT, accept)
                .send()
                .await
                .unwrap()
        }
    };
    // Renewed with the refresh token, twice: the session goes on.
    for _ in 0..2 {
        assert_eq!(load("/traces", "text/html").await.status(), 200);
    }
    // An administrator signs sam out in Keycloak: the next renewal is refused.
    identity::end_sessions("sam").await;
    let page = load("/traces", "text/html").await;
    assert_eq!(page.status(), 303, "a page load goes to the login");
    assert_eq!(location(page.headers()), "/auth/login?return_to=%2Ftraces");
    // The session is gone: a script gets a JSON 401 saying so, not an error page.
    let api = load("/api/services", "application/json").await;
    assert_eq!(api.status(), 401);
    let body: Value = api.json().await.unwrap();
    assert_eq!(body["code"], "session_ended");
}

#[tokio::test]
async fn a_return_address_off_this_host_is_ignored_and_login_needs_a_secret() {
    let gate = login_gate().await;
    let (callback, login_cookie) =
        sign_in_at_keycloak(&gate.base_url, "sam", "%2F%2Fevil.example%2F").await;
    let done = browser()
        .get(format!("{}{callback}", gate.base_url))
        .header(COOKIE, format!("printflow_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(location(done.headers()), "/");

    let without = common::gate(&[]).await;
    let resp = browser()
        .get(format!("{}/auth/login", without.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "login_not_configured");
}

#[tokio::test]
async fn jaegers_own_ui_is_served_behind_the_login_with_the_filtered_api() {
    let gate = login_gate().await;
    let base = gate.base_url.as_str();
    let http = browser();
    // Spans of the Shop and of MES are stored, so the service list has something to filter.
    common::write_failed_job_trace(base, "POST /orders").await;

    // A browser without a session goes to the login, and back to the UI after it.
    let anonymous = http
        .get(format!("{base}/jaeger/"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        location(anonymous.headers()),
        "/auth/login?return_to=%2Fjaeger%2F"
    );

    // Signed in with trace access: Jaeger's own page (this build's placeholder), as Jaeger
    // serves it.
    let jaeger = std::env::var("PRINTFLOW_TEST_JAEGER_API")
        .unwrap_or_else(|_| "http://127.0.0.1:16687".to_owned());
    let direct = reqwest::get(format!("{jaeger}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let riley = signed_in(base, "riley").await;
    let page = http
        .get(format!("{base}/jaeger/"))
        .header(COOKIE, format!("printflow_session={riley}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), direct);
    let bare = http
        .get(format!("{base}/jaeger"))
        .header(COOKIE, format!("printflow_session={riley}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(location(bare.headers()), "/jaeger/");

    // The UI's API requests are the filtered API: production's services are production's.
    let pat = signed_in(base, "pat").await;
    let services: Value = http
        .get(format!("{base}/jaeger/api/services"))
        .header(COOKIE, format!("printflow_session={pat}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = services["data"].as_array().unwrap();
    assert!(listed.iter().any(|s| s == "mes-api"), "{services}");
    assert!(listed.iter().all(|s| s == "mes-api"), "{services}");

    // A customer signs in but gets no UI.
    let alice = signed_in(base, "alice").await;
    let refused = http
        .get(format!("{base}/jaeger/"))
        .header(COOKIE, format!("printflow_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}
