//! [`Verifier`]: from a bearer token to a [`Principal`], or the [`Rejection`] saying why not.

use crate::jwks::{KeyError, KeySet};
use crate::principal::Principal;
use crate::role::Role;
use crate::settings::AuthSettings;
use crate::verified::Verified;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;

/// Why a request was refused. Each is one value of the `reason` label of
/// `auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a JWT, or claims of the wrong shape, or not an access token.
    Malformed,
    /// Signed with anything but RS256 (`none`, HS256, ...).
    WrongAlgorithm,
    /// Names a key the realm does not publish.
    UnknownKey,
    /// The signature does not match the named key.
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    NotYetValid,
    /// Issued by another realm or server.
    WrongIssuer,
    /// Issued for another audience than this service.
    WrongAudience,
    /// A valid token without a role the route needs.
    Forbidden,
    /// The realm's keys could not be fetched, so the token could not be checked.
    KeysUnavailable,
}

impl Rejection {
    /// Every reason, so the counter starts at zero for each.
    pub const ALL: [Rejection; 11] = [
        Rejection::Missing,
        Rejection::Malformed,
        Rejection::WrongAlgorithm,
        Rejection::UnknownKey,
        Rejection::BadSignature,
        Rejection::Expired,
        Rejection::NotYetValid,
        Rejection::WrongIssuer,
        Rejection::WrongAudience,
        Rejection::Forbidden,
        Rejection::KeysUnavailable,
    ];

    /// The `reason` label.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Missing => "missing",
            Rejection::Malformed => "malformed",
            Rejection::WrongAlgorithm => "wrong_algorithm",
            Rejection::UnknownKey => "unknown_key",
            Rejection::BadSignature => "bad_signature",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::WrongIssuer => "wrong_issuer",
            Rejection::WrongAudience => "wrong_audience",
            Rejection::Forbidden => "forbidden",
            Rejection::KeysUnavailable => "keys_unavailable",
        }
    }

    /// What the client is told: what failed, never a secret or the token.
    pub fn description(self) -> &'static str {
        match self {
            Rejection::Missing => {
                "this endpoint needs an access token: Authorization: Bearer <token>"
            }
            Rejection::Malformed => "the bearer token is not a well-formed access token",
            Rejection::WrongAlgorithm => "the bearer token must be signed with RS256",
            Rejection::UnknownKey => {
                "the bearer token is signed with a key the realm does not publish"
            }
            Rejection::BadSignature => "the bearer token's signature is invalid",
            Rejection::Expired => "the bearer token has expired",
            Rejection::NotYetValid => "the bearer token is not valid yet",
            Rejection::WrongIssuer => "the bearer token was issued by another realm",
            Rejection::WrongAudience => "the bearer token was not issued for this service",
            Rejection::Forbidden => "the caller lacks a role this endpoint needs",
            Rejection::KeysUnavailable => {
                "the identity provider's keys are unavailable; try again shortly"
            }
        }
    }
}

/// The claims read from an access token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    /// Expiry (Unix seconds; required by the validation). Read again here only to bound the
    /// cache entry: a non-integer `exp`, which the JWT format allows, is simply not cached.
    exp: Option<serde_json::Value>,
    azp: Option<String>,
    preferred_username: Option<String>,
    /// Keycloak marks access tokens `Bearer` (ID tokens `ID`, refresh tokens `Refresh`).
    typ: Option<String>,
    realm_access: Option<RealmAccess>,
}

#[derive(Debug, Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

/// The JOSE header, read before any key is looked up.
#[derive(Debug, Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

/// Verifies access tokens of one realm for one audience.
#[derive(Debug, Clone)]
pub struct Verifier {
    /// The realm's signing keys.
    keys: Arc<KeySet>,
    /// RS256 only; `iss`, `aud`, `exp`, `nbf` with the leeway; `exp`, `iss`, `aud`, `sub`
    /// required.
    validation: Validation,
    /// Tokens that passed, until their expiry (or a minute): see [`crate::verified`].
    verified: Arc<Verified>,
}

impl Verifier {
    /// A verifier for `settings`.
    pub fn new(settings: &AuthSettings) -> Verifier {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Verifier {
            keys: Arc::new(KeySet::new(
                settings.jwks_url.clone(),
                settings.jwks_min_refresh,
            )),
            validation,
            verified: Arc::default(),
        }
    }

    /// The principal `token` stands for, if it is a valid access token for this service.
    pub async fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        let now = SystemTime::now();
        if let Some(principal) = self.verified.get(token, now) {
            return Ok(principal);
        }
        let header = header(token)?;
        // Checked before anything else: `none` and HMAC tokens never reach a key lookup.
        if header.alg.as_deref() != Some("RS256") {
            return Err(Rejection::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(Rejection::UnknownKey)?;
        let key = self.keys.get(&kid).await.map_err(|e| match e {
            KeyError::Unknown => Rejection::UnknownKey,
            KeyError::Unavailable => Rejection::KeysUnavailable,
        })?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| classify(e.kind()))?
            .claims;
        if claims.typ.as_deref().is_some_and(|t| t != "Bearer") {
            return Err(Rejection::Malformed);
        }
        let principal = Principal {
            subject: claims.sub,
            client: claims.azp,
            username: claims.preferred_username,
            roles: claims
                .realm_access
                .map(|r| r.roles)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| Role::parse(r))
                .collect(),
        };
        if let Some(exp) = claims.exp.as_ref().and_then(serde_json::Value::as_u64) {
            self.verified.insert(token, &principal, exp, now);
        }
        Ok(principal)
    }
}

fn header(token: &str) -> Result<Header, Rejection> {
    let (encoded, _) = token.split_once('.').ok_or(Rejection::Malformed)?;
    if token.split('.').count() != 3 {
        return Err(Rejection::Malformed);
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| Rejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Rejection::Malformed)
}

fn classify(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature => Rejection::BadSignature,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Rejection::WrongAlgorithm,
        _ => Rejection::Malformed,
    }
}
