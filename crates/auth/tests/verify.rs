//! The verifier against a local JWKS endpoint whose keys the test holds (pure token logic; the
//! services' tests run the same matrix against Keycloak).

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use printflow_auth::{AuthSettings, Rejection, Role, Verifier};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISSUER: &str = "http://issuer.test/realms/printflow";
const AUDIENCE: &str = "crm-api";

struct TestKey {
    kid: String,
    private: RsaPrivateKey,
}

impl TestKey {
    fn new(kid: &str) -> TestKey {
        TestKey {
            kid: kid.to_owned(),
            private: RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap(),
        }
    }

    fn jwk(&self) -> Value {
        let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        json!({"kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
               "n": b64(self.private.n().to_bytes_be()), "e": b64(self.private.e().to_bytes_be())})
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let der = self.private.to_pkcs1_der().unwrap();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }
}

/// Key generation is slow in debug builds: two keys for the whole file.
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| (TestKey::new("key-1"), TestKey::new("key-2")))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": [AUDIENCE, "mes-api"], "sub": "user-1", "exp": now() + 300,
           "iat": now(), "typ": "Bearer", "azp": "printflow-cli", "preferred_username": "alice",
           "realm_access": {"roles": ["support", "offline_access"]}})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

/// A JWKS endpoint serving `published` and counting fetches.
struct Jwks {
    url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

async fn jwks(published: Vec<Value>) -> Jwks {
    let published = Arc::new(Mutex::new(published));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (p, f) = (published.clone(), fetches.clone());
    let app = Router::new().route(
        "/certs",
        get(move || {
            f.fetch_add(1, Ordering::SeqCst);
            let keys = p.lock().unwrap().clone();
            async move { Json(json!({"keys": keys})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Jwks {
        url,
        published,
        fetches,
        server,
    }
}

fn verifier(jwks_url: &str, min_refresh: Duration) -> Verifier {
    Verifier::new(&AuthSettings {
        issuer: ISSUER.to_owned(),
        jwks_url: jwks_url.to_owned(),
        audience: AUDIENCE.to_owned(),
        leeway: Duration::from_secs(30),
        jwks_min_refresh: min_refresh,
    })
}

fn unsigned(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

#[tokio::test]
async fn a_valid_token_names_the_caller_and_its_known_roles() {
    let (k1, _) = keys();
    let server = jwks(vec![k1.jwk()]).await;
    let p = verifier(&server.url, Duration::ZERO)
        .verify(&k1.sign(&claims()))
        .await
        .unwrap();
    assert_eq!(p.subject, "user-1");
    assert_eq!(p.client.as_deref(), Some("printflow-cli"));
    assert_eq!(p.roles.len(), 1, "offline_access is not a printflow role");
    assert!(p.has(Role::Support));
    // `aud` may be a single string too.
    let single = with(claims(), "aud", json!(AUDIENCE));
    assert!(verifier(&server.url, Duration::ZERO)
        .verify(&k1.sign(&single))
        .await
        .is_ok());
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_reason() {
    let (k1, k2) = keys();
    let server = jwks(vec![k1.jwk()]).await;
    let v = verifier(&server.url, Duration::ZERO);
    let public_n = k1.private.n().to_bytes_be();
    let hs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&public_n).unwrap(),
    )
    .unwrap();
    let cases: Vec<(&str, String, Rejection)> = vec![
        ("garbage", "not-a-token".into(), Rejection::Malformed),
        ("two parts", "abc.def".into(), Rejection::Malformed),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "kid": "key-1"}), &claims(), b""),
            Rejection::WrongAlgorithm,
        ),
        (
            "HS256 with the public key",
            hs256,
            Rejection::WrongAlgorithm,
        ),
        (
            "another key, same kid",
            k2.sign_as("key-1", &claims()),
            Rejection::BadSignature,
        ),
        ("unknown kid", k2.sign(&claims()), Rejection::UnknownKey),
        (
            "expired beyond the leeway",
            k1.sign(&with(claims(), "exp", json!(now() - 60))),
            Rejection::Expired,
        ),
        (
            "not yet valid",
            k1.sign(&with(claims(), "nbf", json!(now() + 120))),
            Rejection::NotYetValid,
        ),
        (
            "wrong issuer",
            k1.sign(&with(
                claims(),
                "iss",
                json!("http://issuer.test/realms/other"),
            )),
            Rejection::WrongIssuer,
        ),
        (
            "wrong audience",
            k1.sign(&with(claims(), "aud", json!(["shop-api"]))),
            Rejection::WrongAudience,
        ),
        (
            "an ID token",
            k1.sign(&with(claims(), "typ", json!("ID"))),
            Rejection::Malformed,
        ),
        (
            "no subject",
            k1.sign(&{
                let mut c = claims();
                c.as_object_mut().unwrap().remove("sub");
                c
            }),
            Rejection::Malformed,
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(v.verify(&token).await.unwrap_err(), expected, "{name}");
    }
    // Within the leeway, a just-expired token still passes (clock skew).
    let skewed = k1.sign(&with(claims(), "exp", json!(now() - 5)));
    assert!(v.verify(&skewed).await.is_ok());
}

#[tokio::test]
async fn a_rotated_key_is_fetched_but_made_up_kids_do_not_hammer_the_provider() {
    let (k1, k2) = keys();
    let server = jwks(vec![k1.jwk()]).await;
    let v = verifier(&server.url, Duration::from_secs(60));
    v.verify(&k1.sign(&claims())).await.unwrap();
    assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
    for i in 0..5 {
        let forged = k1.sign_as(&format!("made-up-{i}"), &claims());
        assert_eq!(v.verify(&forged).await.unwrap_err(), Rejection::UnknownKey);
    }
    assert_eq!(
        server.fetches.load(Ordering::SeqCst),
        1,
        "no refetch within the minimum interval of the last fetch"
    );

    // With no minimum interval, a key published after the first fetch is found.
    let v = verifier(&server.url, Duration::ZERO);
    v.verify(&k1.sign(&claims())).await.unwrap();
    server.published.lock().unwrap().push(k2.jwk());
    v.verify(&k2.sign(&claims())).await.unwrap();
}

#[tokio::test]
async fn cached_keys_outlive_the_provider_and_unknown_ones_are_unavailable() {
    let (k1, k2) = keys();
    let server = jwks(vec![k1.jwk()]).await;
    let v = verifier(&server.url, Duration::ZERO);
    v.verify(&k1.sign(&claims())).await.unwrap();
    server.server.abort();
    let _ = server.server.await;
    v.verify(&k1.sign(&claims()))
        .await
        .expect("cached key still verifies");
    assert_eq!(
        v.verify(&k2.sign(&claims())).await.unwrap_err(),
        Rejection::KeysUnavailable
    );
}
