//! [`KeySet`]: the realm's token-signing keys, fetched from its JWKS URL and cached by `kid`.

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// Why a key could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key set (fetched just now or recently) has no signing key with that id.
    Unknown,
    /// The key set could not be fetched and no key with that id is cached.
    Unavailable,
}

/// The signing keys of one realm. Keys are fetched on first use and again when a token names a
/// `kid` the cache does not have (Keycloak rotated its key), at most once per `min_refresh`:
/// made-up key ids cost one lookup, not one fetch each. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct KeySet {
    /// The JWKS document's URL.
    url: String,
    /// Client for the fetch (with timeouts).
    http: reqwest::Client,
    /// Fewest time between two fetches.
    min_refresh: Duration,
    /// The cached keys and when they were last fetched (or a fetch last failed).
    cache: RwLock<Cache>,
    /// One fetch at a time: concurrent requests with the same new `kid` wait for one fetch.
    fetching: Mutex<()>,
}

#[derive(Debug, Default)]
struct Cache {
    /// RS256 signing keys by `kid`.
    keys: HashMap<String, Arc<DecodingKey>>,
    /// When the last fetch was attempted.
    attempted: Option<Instant>,
}

/// One entry of the JWKS document; only what selecting an RS256 signing key needs.
#[derive(Debug, Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// A key set read from `url`; nothing is fetched until a key is needed.
    pub fn new(url: String, min_refresh: Duration) -> KeySet {
        KeySet {
            url,
            http: printflow_web::client::http_client(Duration::from_secs(5)),
            min_refresh,
            cache: RwLock::new(Cache::default()),
            fetching: Mutex::new(()),
        }
    }

    /// The signing key named `kid`.
    pub async fn get(&self, kid: &str) -> Result<Arc<DecodingKey>, KeyError> {
        if let Some(key) = self.cache.read().await.keys.get(kid) {
            return Ok(key.clone());
        }
        let _one_fetch = self.fetching.lock().await;
        {
            // Another request may have fetched while this one waited, or fetched too recently.
            let cache = self.cache.read().await;
            if let Some(key) = cache.keys.get(kid) {
                return Ok(key.clone());
            }
            if cache
                .attempted
                .is_some_and(|at| at.elapsed() < self.min_refresh)
            {
                return Err(if cache.keys.is_empty() {
                    KeyError::Unavailable
                } else {
                    KeyError::Unknown
                });
            }
        }
        let fetched = self.fetch().await;
        let mut cache = self.cache.write().await;
        cache.attempted = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched the realm's signing keys");
                cache.keys = keys;
                cache.keys.get(kid).cloned().ok_or(KeyError::Unknown)
            }
            Err(reason) => {
                // Keys already cached stay usable: an identity-provider restart does not fail
                // tokens signed with a known key.
                tracing::warn!(url = %self.url, %reason, "could not fetch the realm's signing keys");
                Err(KeyError::Unavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let request = self
            .http
            .get(&self.url)
            .build()
            .map_err(|e| e.to_string())?;
        let resp = printflow_telemetry::http_client::send(&self.http, request, "jwks")
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("answered {}", resp.status()));
        }
        let jwks: Jwks = resp.json().await.map_err(|e| e.to_string())?;
        Ok(signing_keys(jwks.keys))
    }
}

/// RSA keys meant for RS256 signatures. The JWKS also lists an encryption key (`use: enc`) and
/// may list keys for other algorithms; those never verify a token.
fn signing_keys(keys: Vec<Jwk>) -> HashMap<String, Arc<DecodingKey>> {
    keys.into_iter()
        .filter(|k| k.kty == "RSA")
        .filter(|k| k.usage.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid?, Arc::new(key)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(kid: &str, usage: Option<&str>, alg: Option<&str>, kty: &str) -> Jwk {
        Jwk {
            kid: Some(kid.to_owned()),
            kty: kty.to_owned(),
            usage: usage.map(str::to_owned),
            alg: alg.map(str::to_owned),
            // A syntactically valid modulus and exponent (values do not matter here).
            n: Some("sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw".to_owned()),
            e: Some("AQAB".to_owned()),
        }
    }

    #[test]
    fn only_rs256_signing_keys_are_kept() {
        let keys = signing_keys(vec![
            jwk("sig", Some("sig"), Some("RS256"), "RSA"),
            jwk("unmarked", None, None, "RSA"),
            jwk("enc", Some("enc"), Some("RSA-OAEP"), "RSA"),
            jwk("ps256", Some("sig"), Some("PS256"), "RSA"),
            jwk("ec", Some("sig"), Some("ES256"), "EC"),
        ]);
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["sig", "unmarked"]);
    }
}
