//! Who may see and do what, against the three real services and the real Keycloak: customers
//! see only their own designs and orders, support sees any, a customer cannot call CRM or MES,
//! and every kind of bad token is refused by every service with the right status and reason,
//! each refusal counted in `auth_failures_total`.

mod common;

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use common::Stack;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use printflow_metrics::scrape::Scrape;
use printflow_test_support::{identity, TestVhost};
use reqwest::StatusCode;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(part: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url")
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims of a real token (to forge variants of).
fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap()
}

fn kid_of(token: &str) -> String {
    let header: Value = serde_json::from_slice(&unb64(token.split('.').next().unwrap())).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A key of the test's own, signing RS256 with any `kid` and claims.
struct TestKey(RsaPrivateKey);

impl TestKey {
    fn new() -> TestKey {
        TestKey(RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap())
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let der = self.0.to_pkcs1_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }

    fn jwk(&self, kid: &str) -> Value {
        json!({"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
               "n": b64(&self.0.n().to_bytes_be()), "e": b64(&self.0.e().to_bytes_be())})
    }
}

/// The dev realm's published key set (JWKS).
async fn realm_keys() -> Value {
    let url = format!("{}/protocol/openid-connect/certs", identity::issuer());
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// GET `url` with `token` (none when `None`); the status and the `WWW-Authenticate` header.
async fn call(url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = resp.status();
    let body: Value = resp.json().await.expect("a JSON error body");
    assert!(body["code"].is_string(), "{body}");
    (status, challenge)
}

/// `auth_failures_total` with `labels` (0 when absent).
fn count(scrape: &Scrape, labels: &[(&str, &str)]) -> f64 {
    scrape.value("auth_failures_total", labels).unwrap_or(0.0)
}

async fn failures(base: &str, service: &str) -> Scrape {
    let text = identity::metrics_text(base).await;
    let scrape = Scrape::parse(&text).expect("OpenMetrics");
    assert!(
        text.contains(&format!("auth_failures_total{{service=\"{service}\"")),
        "no auth_failures_total for {service}"
    );
    scrape
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_see_only_their_own_designs_and_orders() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    let (design, version) = stack.saved_design().await;
    let order = stack.place_order(&design, version, 1).await;
    let bob = identity::client_as_user("bob").await;
    let sam = identity::client_as_user("sam").await;
    let alice = identity::client_as_user("alice").await;
    let pat = identity::client_as_user("pat").await;

    // Bob gets 404 for each of Alice's designs and orders, as if they did not exist.
    for path in [
        format!("/designs/{design}"),
        format!("/designs/{design}/versions"),
        format!("/designs/{design}/versions/{version}/model"),
        format!("/orders/{order}"),
        format!("/orders/{order}/status"),
    ] {
        let resp = bob
            .get(format!("{}{path}", stack.shop))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "bob GET {path}");
        let resp = sam
            .get(format!("{}{path}", stack.shop))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "support GET {path}");
    }
    let edit = json!({"operations": [{"op": "set_engraving", "text": "mine"}]});
    let resp = bob
        .post(format!("{}/designs/{design}/edits", stack.shop))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "bob edits alice's design");
    let resp = bob
        .post(format!("{}/orders", stack.shop))
        .json(
            &json!({"design_id": design, "design_version": version, "quantity": 1,
                      "shipping": "standard",
                      "customer": {"name": "Bob", "email": "bob@example.test"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "bob orders alice's design");
    // Support reads but does not edit; production does not read designs at all.
    let resp = sam
        .post(format!("{}/designs/{design}/edits", stack.shop))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = pat
        .get(format!("{}/designs/{design}", stack.shop))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // A customer never calls CRM or MES directly; support does. MES creates the job when it
    // consumes `order.created`, so wait until support sees it before comparing.
    let job_url = format!("{}/orders/{order}/job", stack.mes);
    printflow_test_support::assert_eventually!(
        "MES has the order's job",
        sam.get(&job_url).send().await.unwrap().status() == 200
    );
    for url in [
        format!("{}/orders/{order}", stack.crm),
        format!("{}/orders/{order}/job", stack.mes),
    ] {
        assert_eq!(alice.get(&url).send().await.unwrap().status(), 403, "{url}");
        assert_eq!(sam.get(&url).send().await.unwrap().status(), 200, "{url}");
    }
    // Only production acts on the shop floor; only the Shop records orders in CRM.
    let printer = stack.get(&format!("{}/printers", stack.mes)).await[0]["id"].clone();
    for who in [&alice, &sam] {
        let resp = who
            .post(format!("{}/printers/{printer}/pause", stack.mes))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
    }
    let resp = sam
        .post(format!("{}/orders", stack.crm))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "support cannot record orders");
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_refuses_every_kind_of_bad_token() {
    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    let alice = identity::user_token("alice").await;
    let real_kid = kid_of(&alice);
    let theirs = TestKey::new();

    // The realm's public key, for an HS256 token "signed" with it (the classic key confusion).
    let jwks = realm_keys().await;
    let public_n = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == real_kid.as_str())
        .expect("the signing key in the JWKS")["n"]
        .as_str()
        .unwrap()
        .to_owned();

    // (service, base URL, a route it protects, a real token for another audience, a valid token
    // without the route's role)
    let services = [
        (
            "shop-api",
            stack.shop.clone(),
            "/orders/00000000-0000-0000-0000-000000000000",
            identity::client_token("shop-api").await,
            identity::user_token("pat").await,
        ),
        (
            "crm-api",
            stack.crm.clone(),
            "/orders/00000000-0000-0000-0000-000000000000",
            identity::client_token("mes-api").await,
            alice.clone(),
        ),
        (
            "mes-api",
            stack.mes.clone(),
            "/printers",
            identity::client_token("shop-api").await,
            alice.clone(),
        ),
    ];
    for (service, base, route, other_audience, without_role) in services {
        let url = format!("{base}{route}");
        let mut claims = claims_of(&alice);
        claims["aud"] = json!(service);
        let alg_none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        );
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(public_n.as_bytes()).unwrap(),
        )
        .unwrap();
        let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
            ("no token", None, StatusCode::UNAUTHORIZED, "missing"),
            (
                "garbage",
                Some("garbage".into()),
                StatusCode::UNAUTHORIZED,
                "malformed",
            ),
            (
                "alg none",
                Some(alg_none),
                StatusCode::UNAUTHORIZED,
                "wrong_algorithm",
            ),
            (
                "HS256 with the public key",
                Some(hs256),
                StatusCode::UNAUTHORIZED,
                "wrong_algorithm",
            ),
            (
                "another key under the realm's kid",
                Some(theirs.sign(&real_kid, &claims)),
                StatusCode::UNAUTHORIZED,
                "bad_signature",
            ),
            (
                "an unknown kid",
                Some(theirs.sign("made-up-kid", &claims)),
                StatusCode::UNAUTHORIZED,
                "unknown_key",
            ),
            (
                "another audience",
                Some(other_audience),
                StatusCode::UNAUTHORIZED,
                "wrong_audience",
            ),
            (
                "no role for the route",
                Some(without_role),
                StatusCode::FORBIDDEN,
                "forbidden",
            ),
        ];
        let before = failures(&base, service).await;
        for (name, token, status, reason) in &cases {
            let (got, challenge) = call(&url, token.as_deref()).await;
            assert_eq!(got, *status, "{service}: {name}");
            if *status == StatusCode::UNAUTHORIZED && *reason != "missing" {
                assert!(
                    challenge.contains(&format!("error_description=\"{reason}\"")),
                    "{service}: {name}: {challenge}"
                );
            }
        }
        let after = failures(&base, service).await;
        for reason in [
            "missing",
            "malformed",
            "bad_signature",
            "unknown_key",
            "wrong_audience",
            "forbidden",
        ] {
            let labels = [("service", service), ("reason", reason)];
            assert_eq!(
                count(&after, &labels) - count(&before, &labels),
                1.0,
                "{service}: auth_failures_total{{reason={reason}}}"
            );
        }
        let labels = [("service", service), ("reason", "wrong_algorithm")];
        assert_eq!(count(&after, &labels) - count(&before, &labels), 2.0);
    }
    stack.shutdown().await;
}

/// Claims the realm's key never signs (expired, not yet valid, another issuer) are checked with
/// a key of the test's own, published next to the realm's through the service's JWKS setting:
/// the service still verifies real Keycloak tokens, and these forged ones get past the signature
/// to the claim checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_early_and_foreign_tokens_are_refused_after_their_signature_checks_out() {
    let ours = TestKey::new();
    let realm = realm_keys().await;
    let mut keys = realm["keys"].as_array().unwrap().clone();
    keys.push(ours.jwk("test-key"));
    let published = json!({"keys": keys});
    let app = Router::new().route("/certs", get(move || async move { Json(published) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/certs", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let vhost = TestVhost::new().await;
    let stack = Stack::start_with(
        &vhost.amqp_url,
        &[
            ("CRM_AUTH_JWKS_URL", jwks_url.clone()),
            ("CRM_AUTH_LEEWAY_SECONDS", "5".to_owned()),
        ],
    )
    .await;
    let url = format!("{}/orders", stack.crm);
    let mut claims = claims_of(&identity::user_token("sam").await);
    claims["aud"] = json!("crm-api");
    let sign = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        ours.sign("test-key", &c)
    };
    // The control: a fresh token signed with our key is accepted.
    let (status, _) = call_ok(&url, &sign(json!({"exp": now() + 60}))).await;
    assert_eq!(status, StatusCode::OK);
    let before = failures(&stack.crm, "crm-api").await;
    for (name, token, reason) in [
        ("expired", sign(json!({"exp": now() - 60})), "expired"),
        (
            "not yet valid",
            sign(json!({"nbf": now() + 60})),
            "not_yet_valid",
        ),
        (
            "another issuer",
            sign(json!({"iss": format!("{}-elsewhere", identity::issuer())})),
            "wrong_issuer",
        ),
    ] {
        let (status, challenge) = call(&url, Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(challenge.contains(reason), "{name}: {challenge}");
        let labels = [("service", "crm-api"), ("reason", reason)];
        let after = failures(&stack.crm, "crm-api").await;
        assert_eq!(
            count(&after, &labels) - count(&before, &labels),
            1.0,
            "{name}"
        );
    }
    // Within the leeway, a just-expired token is still accepted (clock skew).
    let (status, _) = call_ok(&url, &sign(json!({"exp": now() - 2}))).await;
    assert_eq!(status, StatusCode::OK);
    stack.shutdown().await;
    server.abort();
}

async fn call_ok(url: &str, token: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

/// A realm of this test's own on the same Keycloak (through the admin API, as the dev bootstrap
/// admin): its tokens name the same audiences and a role the services know, and are still refused,
/// because the services trust only the `printflow` realm's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_of_another_realm_is_refused_by_every_service() {
    let keycloak = identity::keycloak_url();
    let http = reqwest::Client::new();
    let admin_password =
        std::env::var("KEYCLOAK_ADMIN_PASSWORD").unwrap_or_else(|_| "admin-dev-only".to_owned());
    let admin = identity::password_token("master", "admin-cli", "admin", &admin_password).await;
    let realm = format!("foreign-{}", std::process::id());
    let audience = |name: &str| {
        json!({"name": format!("audience {name}"), "protocol": "openid-connect",
               "protocolMapper": "oidc-audience-mapper",
               "config": {"included.custom.audience": name, "access.token.claim": "true"}})
    };
    let created = http
        .post(format!("{keycloak}/admin/realms"))
        .bearer_auth(&admin)
        .json(&json!({
            "realm": realm, "enabled": true,
            "roles": {"realm": [{"name": "support"}]},
            "clients": [{"clientId": "foreign-cli", "publicClient": true,
                         "directAccessGrantsEnabled": true, "standardFlowEnabled": false,
                         "protocolMappers": [audience("shop-api"), audience("crm-api"), audience("mes-api")]}],
            "users": [{"username": "mallory", "enabled": true, "email": "mallory@example.test",
                       "emailVerified": true, "firstName": "Mallory", "lastName": "Foreign",
                       "realmRoles": ["support"],
                       "credentials": [{"type": "password", "value": "test-only-password", "temporary": false}]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "create realm {realm}");
    let foreign =
        identity::password_token(&realm, "foreign-cli", "mallory", "test-only-password").await;
    assert_eq!(claims_of(&foreign)["realm_access"]["roles"][0], "support");

    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    for (service, url) in [
        (
            "shop-api",
            format!("{}/orders/00000000-0000-0000-0000-000000000000", stack.shop),
        ),
        ("crm-api", format!("{}/orders", stack.crm)),
        ("mes-api", format!("{}/printers", stack.mes)),
    ] {
        let base = url
            .split("/orders")
            .next()
            .unwrap()
            .split("/printers")
            .next()
            .unwrap()
            .to_owned();
        let before = failures(&base, service).await;
        let (status, challenge) = call(&url, Some(&foreign)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{service}: {challenge}");
        // Its key is not among the realm's: refused before its claims are even read.
        let after = failures(&base, service).await;
        let labels = [("service", service), ("reason", "unknown_key")];
        assert_eq!(
            count(&after, &labels) - count(&before, &labels),
            1.0,
            "{service}"
        );
    }
    stack.shutdown().await;
    let _ = http
        .delete(format!("{keycloak}/admin/realms/{realm}"))
        .bearer_auth(&admin)
        .send()
        .await;
}
