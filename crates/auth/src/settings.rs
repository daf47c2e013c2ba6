//! The auth settings of a service, read under its prefix (`SHOP_`, `CRM_`, `MES_`).

use printflow_config::{parse_or, string_or, ConfigError, ConfigSource, Secret};
use std::time::Duration;

/// The realm the dev stack imports (config/keycloak), on Keycloak's default port.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8180/realms/printflow";

/// Most clock skew tolerated on `exp`/`nbf`: a larger value keeps stolen tokens alive longer.
const MAX_LEEWAY_SECONDS: u64 = 300;

/// How incoming tokens are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// The realm's issuer URL, compared with `iss` exactly (`<P>_AUTH_ISSUER_URL`).
    pub issuer: String,
    /// Where the realm publishes its signing keys (`<P>_AUTH_JWKS_URL`, default Keycloak's
    /// `<issuer>/protocol/openid-connect/certs`).
    pub jwks_url: String,
    /// What `aud` must contain: this service's client id (`<P>_AUTH_AUDIENCE`).
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf` (`<P>_AUTH_LEEWAY_SECONDS`, default 30, at most
    /// 300).
    pub leeway: Duration,
    /// Fewest seconds between two key-set fetches triggered by unknown `kid`s
    /// (`<P>_AUTH_JWKS_MIN_REFRESH_SECONDS`, default 5): tokens with made-up key ids cannot make
    /// the service hammer the identity provider.
    pub jwks_min_refresh: Duration,
}

impl AuthSettings {
    /// Reads the settings under `prefix`; `audience` is the service's client id (`shop-api`).
    pub fn from_source(
        src: &dyn ConfigSource,
        prefix: &str,
        audience: &str,
    ) -> Result<AuthSettings, ConfigError> {
        let issuer = issuer(src, prefix);
        let leeway_key = format!("{prefix}_AUTH_LEEWAY_SECONDS");
        let leeway: u64 = parse_or(src, &leeway_key, 30)?;
        if leeway > MAX_LEEWAY_SECONDS {
            return Err(ConfigError {
                key: leeway_key,
                value: leeway.to_string(),
                reason: format!("must be at most {MAX_LEEWAY_SECONDS}"),
            });
        }
        let refresh: u64 = parse_or(src, &format!("{prefix}_AUTH_JWKS_MIN_REFRESH_SECONDS"), 5)?;
        Ok(AuthSettings {
            jwks_url: string_or(
                src,
                &format!("{prefix}_AUTH_JWKS_URL"),
                &format!("{issuer}/protocol/openid-connect/certs"),
            ),
            audience: string_or(src, &format!("{prefix}_AUTH_AUDIENCE"), audience),
            leeway: Duration::from_secs(leeway),
            jwks_min_refresh: Duration::from_secs(refresh),
            issuer,
        })
    }
}

/// How a service gets its own token (client credentials) to call another service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The token endpoint (`<P>_AUTH_TOKEN_URL`, default Keycloak's
    /// `<issuer>/protocol/openid-connect/token`).
    pub token_url: String,
    /// The service's client id (`<P>_AUTH_CLIENT_ID`, default its audience name, `shop-api`).
    pub client_id: String,
    /// The client secret (`<P>_AUTH_CLIENT_SECRET`, required: there is no default in code; the
    /// dev stack passes the dev realm's).
    pub client_secret: Secret,
}

impl ClientSettings {
    /// Reads the settings under `prefix`; `client_id` is the default client id.
    pub fn from_source(
        src: &dyn ConfigSource,
        prefix: &str,
        client_id: &str,
    ) -> Result<ClientSettings, ConfigError> {
        let secret_key = format!("{prefix}_AUTH_CLIENT_SECRET");
        let client_secret = src.get(&secret_key).filter(|s| !s.is_empty()).ok_or_else(|| {
            ConfigError {
                key: secret_key,
                value: String::new(),
                reason: "must be set: the service calls another with its own token (the dev stack sets it from the dev realm)".to_owned(),
            }
        })?;
        Ok(ClientSettings {
            token_url: string_or(
                src,
                &format!("{prefix}_AUTH_TOKEN_URL"),
                &format!("{}/protocol/openid-connect/token", issuer(src, prefix)),
            ),
            client_id: string_or(src, &format!("{prefix}_AUTH_CLIENT_ID"), client_id),
            client_secret: Secret::new(client_secret),
        })
    }
}

fn issuer(src: &dyn ConfigSource, prefix: &str) -> String {
    string_or(src, &format!("{prefix}_AUTH_ISSUER_URL"), DEFAULT_ISSUER)
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_point_at_the_dev_realm() {
        let empty: HashMap<&str, String> = HashMap::new();
        let s = AuthSettings::from_source(&empty, "CRM", "crm-api").unwrap();
        assert_eq!(s.issuer, DEFAULT_ISSUER);
        assert_eq!(
            s.jwks_url,
            format!("{DEFAULT_ISSUER}/protocol/openid-connect/certs")
        );
        assert_eq!(s.audience, "crm-api");
        assert_eq!(s.leeway, Duration::from_secs(30));
        let err = ClientSettings::from_source(&empty, "CRM", "crm-api").unwrap_err();
        assert_eq!(err.key, "CRM_AUTH_CLIENT_SECRET");
    }

    #[test]
    fn overrides_apply_and_the_secret_is_not_printed() {
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("MES_AUTH_ISSUER_URL", "http://idp:1/realms/x/".into());
        map.insert("MES_AUTH_LEEWAY_SECONDS", "0".into());
        map.insert("MES_AUTH_CLIENT_SECRET", "s3cret-value".into());
        let s = AuthSettings::from_source(&map, "MES", "mes-api").unwrap();
        assert_eq!(s.issuer, "http://idp:1/realms/x");
        assert_eq!(s.leeway, Duration::ZERO);
        let c = ClientSettings::from_source(&map, "MES", "mes-api").unwrap();
        assert_eq!(
            c.token_url,
            "http://idp:1/realms/x/protocol/openid-connect/token"
        );
        assert_eq!(c.client_secret.expose(), "s3cret-value");
        assert!(!format!("{c:?}").contains("s3cret"));

        map.insert("MES_AUTH_LEEWAY_SECONDS", "301".into());
        let err = AuthSettings::from_source(&map, "MES", "mes-api").unwrap_err();
        assert_eq!(err.key, "MES_AUTH_LEEWAY_SECONDS");
    }
}
