//! Gate settings, read from `GATE_*` variables through [`ConfigSource`] (tests pass a map).
//!
//! The gate takes over the addresses people and services already know (OTLP on 4317 and 4318,
//! the query side on 16686); Jaeger itself listens on internal ports nothing else is configured
//! to use (OTLP/HTTP 14318, query 16687; `scripts/lib.sh`).

use crate::login::OidcSettings;
use crate::policy::Policy;
use crate::redact::Redactor;
use printflow_auth::AuthSettings;
use printflow_config::Secret;
use printflow_runtime::HttpSettings;
use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository's trace-access policy, used when `GATE_POLICY_FILE` is not set.
const DEFAULT_POLICY: &str = include_str!("../../../config/gate/policy.toml");
/// The repository's redaction rules, used when `GATE_REDACTION_FILE` is not set.
const DEFAULT_REDACTION: &str = include_str!("../../../config/gate/redaction.toml");

/// Everything the gate needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the query side, health and metrics listen (`GATE_HTTP_HOST`, default `127.0.0.1`;
    /// `GATE_HTTP_PORT`, default 16686, Jaeger's well-known query port).
    pub http: HttpSettings,
    /// OTLP/gRPC port on the same host (`GATE_OTLP_GRPC_PORT`, default 4317).
    pub otlp_grpc_port: u16,
    /// OTLP/HTTP port on the same host (`GATE_OTLP_HTTP_PORT`, default 4318).
    pub otlp_http_port: u16,
    /// How callers' tokens are verified (`GATE_AUTH_*`; audience `telemetry-gate`).
    pub auth: AuthSettings,
    /// Jaeger's own OTLP/HTTP traces endpoint, where accepted batches go
    /// (`GATE_JAEGER_OTLP_URL`, default `http://127.0.0.1:14318/v1/traces`).
    pub jaeger_otlp_url: String,
    /// Jaeger's query HTTP API, which the gate answers from after filtering
    /// (`GATE_JAEGER_QUERY_URL`, default `http://127.0.0.1:16687`).
    pub jaeger_query_url: String,
    /// Prometheus, whose figures the console shows and links to (`GATE_PROMETHEUS_URL`, default
    /// `http://127.0.0.1:9090`).
    pub prometheus_url: String,
    /// Alertmanager, whose active alerts the console shows and links to
    /// (`GATE_ALERTMANAGER_URL`, default `http://127.0.0.1:9093`).
    pub alertmanager_url: String,
    /// CRM, which the console asks for orders with the viewer's own token (`GATE_CRM_URL`,
    /// default `http://127.0.0.1:8081`).
    pub crm_url: String,
    /// Deadline of one call to Jaeger (`GATE_FORWARD_TIMEOUT_MS`, default 5000, at least 1).
    pub forward_timeout: Duration,
    /// Largest accepted batch (`GATE_MAX_BODY_BYTES`, default 4 MiB, the usual OTLP receiver
    /// limit; at least 1024): a larger one is refused with 413 before it is read further.
    pub max_body_bytes: usize,
    /// Spans held for Jaeger while it is slow or down (`GATE_BUFFER_SPANS`, default 50000, at
    /// least 1); a batch that does not fit is answered "retry later".
    pub buffer_spans: u64,
    /// Batches sent to Jaeger at once (`GATE_FORWARD_WORKERS`, default 4, 1 to 64).
    pub forward_workers: usize,
    /// Where the audit trail of trace reads is appended (`GATE_AUDIT_LOG`; default standard
    /// error).
    pub audit_log: Option<PathBuf>,
    /// Browser login (`GATE_PUBLIC_URL`, `GATE_OIDC_*`, `GATE_COOKIE_SECURE`).
    pub oidc: OidcSettings,
    /// Who sees which trace data (`GATE_POLICY_FILE`, default the repository's
    /// `config/gate/policy.toml`, built in).
    pub policy: Policy,
    /// What is masked before storage (`GATE_REDACTION_FILE`, default the repository's
    /// `config/gate/redaction.toml`, built in).
    pub redactor: Redactor,
}

impl Config {
    /// Reads the settings, applying defaults for unset ones.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let timeout_ms: u64 = parse_or(src, "GATE_FORWARD_TIMEOUT_MS", 5_000)?;
        at_least(
            "GATE_FORWARD_TIMEOUT_MS",
            timeout_ms,
            1,
            "must be at least 1 ms",
        )?;
        let max_body_bytes: usize = parse_or(src, "GATE_MAX_BODY_BYTES", 4 * 1024 * 1024)?;
        at_least(
            "GATE_MAX_BODY_BYTES",
            max_body_bytes as u64,
            1024,
            "must be at least 1024",
        )?;
        let buffer_spans: u64 = parse_or(src, "GATE_BUFFER_SPANS", 50_000)?;
        at_least("GATE_BUFFER_SPANS", buffer_spans, 1, "must be at least 1")?;
        let forward_workers: usize = parse_or(src, "GATE_FORWARD_WORKERS", 4)?;
        if !(1..=64).contains(&forward_workers) {
            return Err(refused(
                "GATE_FORWARD_WORKERS",
                forward_workers,
                "must be 1 to 64",
            ));
        }
        let auth = AuthSettings::from_source(src, "GATE", "telemetry-gate")?;
        let endpoint = |key: &str, path: &str| {
            string_or(
                src,
                key,
                &format!("{}/protocol/openid-connect/{path}", auth.issuer),
            )
        };
        let oidc = OidcSettings {
            public_url: string_or(src, "GATE_PUBLIC_URL", "http://127.0.0.1:16686")
                .trim_end_matches('/')
                .to_owned(),
            client_id: string_or(src, "GATE_OIDC_CLIENT_ID", "telemetry-console"),
            client_secret: src.get("GATE_OIDC_CLIENT_SECRET").map(Secret::new),
            authorize_url: endpoint("GATE_OIDC_AUTHORIZE_URL", "auth"),
            token_url: endpoint("GATE_OIDC_TOKEN_URL", "token"),
            logout_url: endpoint("GATE_OIDC_LOGOUT_URL", "logout"),
            cookie_secure: parse_or(src, "GATE_COOKIE_SECURE", true)?,
            renew_before: Duration::from_secs(parse_or(
                src,
                "GATE_SESSION_RENEW_BEFORE_SECONDS",
                30,
            )?),
        };
        Ok(Config {
            oidc,
            auth,
            max_body_bytes,
            buffer_spans,
            forward_workers,
            http: HttpSettings::from_source(src, "GATE", 16686)?,
            otlp_grpc_port: parse_or(src, "GATE_OTLP_GRPC_PORT", 4317)?,
            otlp_http_port: parse_or(src, "GATE_OTLP_HTTP_PORT", 4318)?,
            jaeger_otlp_url: string_or(
                src,
                "GATE_JAEGER_OTLP_URL",
                "http://127.0.0.1:14318/v1/traces",
            ),
            jaeger_query_url: string_or(src, "GATE_JAEGER_QUERY_URL", "http://127.0.0.1:16687")
                .trim_end_matches('/')
                .to_owned(),
            prometheus_url: base_url(src, "GATE_PROMETHEUS_URL", "http://127.0.0.1:9090"),
            alertmanager_url: base_url(src, "GATE_ALERTMANAGER_URL", "http://127.0.0.1:9093"),
            crm_url: base_url(src, "GATE_CRM_URL", "http://127.0.0.1:8081"),
            forward_timeout: Duration::from_millis(timeout_ms),
            audit_log: src.get("GATE_AUDIT_LOG").map(PathBuf::from),
            policy: load(src, "GATE_POLICY_FILE", DEFAULT_POLICY, |text| {
                Policy::from_toml(text).map_err(|e| e.to_string())
            })?,
            redactor: load(src, "GATE_REDACTION_FILE", DEFAULT_REDACTION, |text| {
                Redactor::from_toml(text).map_err(|e| e.to_string())
            })?,
        })
    }
}

/// A base URL setting, without a trailing `/`.
fn base_url(src: &dyn ConfigSource, key: &str, default: &str) -> String {
    string_or(src, key, default)
        .trim_end_matches('/')
        .to_owned()
}

/// Parses the file named by `key`, or `default` when it is unset; a file that cannot be read or
/// parsed is a settings error naming the variable, the path and what is wrong.
fn load<T>(
    src: &dyn ConfigSource,
    key: &str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let Some(path) = src.get(key) else {
        return parse(default).map_err(|reason| refused(key, "(built in)", &reason));
    };
    let text = std::fs::read_to_string(Path::new(&path))
        .map_err(|e| refused(key, &path, &format!("cannot be read: {e}")))?;
    parse(&text).map_err(|reason| refused(key, &path, &reason))
}

fn at_least(key: &str, value: u64, min: u64, reason: &str) -> Result<(), ConfigError> {
    if value < min {
        Err(refused(key, value, reason))
    } else {
        Ok(())
    }
}

fn refused(key: &str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        value: value.to_string(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_apply_and_bad_values_are_refused() {
        let cfg = Config::from_source(&HashMap::<&str, String>::new()).unwrap();
        assert_eq!(
            (cfg.http.port, cfg.otlp_grpc_port, cfg.otlp_http_port),
            (16686, 4317, 4318)
        );
        assert_eq!(cfg.auth.audience, "telemetry-gate");
        assert_eq!(cfg.jaeger_otlp_url, "http://127.0.0.1:14318/v1/traces");
        assert_eq!(cfg.jaeger_query_url, "http://127.0.0.1:16687");
        assert_eq!(
            (
                cfg.prometheus_url.as_str(),
                cfg.alertmanager_url.as_str(),
                cfg.crm_url.as_str()
            ),
            (
                "http://127.0.0.1:9090",
                "http://127.0.0.1:9093",
                "http://127.0.0.1:8081"
            )
        );
        assert_eq!(cfg.max_body_bytes, 4 * 1024 * 1024);
        for (key, value) in [
            ("GATE_FORWARD_TIMEOUT_MS", "0"),
            ("GATE_BUFFER_SPANS", "0"),
            ("GATE_FORWARD_WORKERS", "65"),
            ("GATE_POLICY_FILE", "/nonexistent/policy.toml"),
        ] {
            let env = HashMap::from([(key, value.to_owned())]);
            assert_eq!(Config::from_source(&env).unwrap_err().key, key);
        }
    }

    #[test]
    fn a_policy_file_that_does_not_parse_is_named() {
        let path = std::env::temp_dir().join(format!("gate-policy-{}.toml", std::process::id()));
        std::fs::write(&path, "[[rule]]\nrole = \"sre\"\nservices = []\n").unwrap();
        let env = HashMap::from([("GATE_POLICY_FILE", path.display().to_string())]);
        let err = Config::from_source(&env).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(err.key, "GATE_POLICY_FILE");
        assert_eq!(err.value, path.display().to_string());
    }
}
