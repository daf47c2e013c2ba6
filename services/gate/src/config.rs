//! Gate settings, read from `GATE_*` variables through [`ConfigSource`] (tests pass a map).

use printflow_auth::AuthSettings;
use printflow_runtime::HttpSettings;
use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::time::Duration;

/// Everything the gate needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`GATE_HTTP_HOST`, default `127.0.0.1`; `GATE_HTTP_PORT`, default 8083).
    pub http: HttpSettings,
    /// How writers' tokens are verified (`GATE_AUTH_*`; audience `telemetry-gate`).
    pub auth: AuthSettings,
    /// Jaeger's own OTLP/HTTP traces endpoint, where accepted batches go
    /// (`GATE_JAEGER_OTLP_URL`, default `http://127.0.0.1:4318/v1/traces`).
    pub jaeger_otlp_url: String,
    /// Deadline of one forward to Jaeger (`GATE_FORWARD_TIMEOUT_MS`, default 5000, at least 1).
    pub forward_timeout: Duration,
    /// Largest accepted batch (`GATE_MAX_BODY_BYTES`, default 4 MiB, the usual OTLP receiver
    /// limit; at least 1024): a larger one is refused with 413 before it is read further.
    pub max_body_bytes: usize,
}

impl Config {
    /// Reads the settings, applying defaults for unset ones.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let timeout_ms: u64 = parse_or(src, "GATE_FORWARD_TIMEOUT_MS", 5_000)?;
        if timeout_ms == 0 {
            return Err(ConfigError {
                key: "GATE_FORWARD_TIMEOUT_MS".to_owned(),
                value: "0".to_owned(),
                reason: "must be at least 1 ms".to_owned(),
            });
        }
        let max_body_bytes: usize = parse_or(src, "GATE_MAX_BODY_BYTES", 4 * 1024 * 1024)?;
        if max_body_bytes < 1024 {
            return Err(ConfigError {
                key: "GATE_MAX_BODY_BYTES".to_owned(),
                value: max_body_bytes.to_string(),
                reason: "must be at least 1024".to_owned(),
            });
        }
        Ok(Config {
            max_body_bytes,
            http: HttpSettings::from_source(src, "GATE", 8083)?,
            auth: AuthSettings::from_source(src, "GATE", "telemetry-gate")?,
            jaeger_otlp_url: string_or(
                src,
                "GATE_JAEGER_OTLP_URL",
                "http://127.0.0.1:4318/v1/traces",
            ),
            forward_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_apply_and_a_zero_timeout_is_refused() {
        let cfg = Config::from_source(&HashMap::<&str, String>::new()).unwrap();
        assert_eq!(cfg.http.port, 8083);
        assert_eq!(cfg.auth.audience, "telemetry-gate");
        assert_eq!(cfg.jaeger_otlp_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(cfg.max_body_bytes, 4 * 1024 * 1024);
        let zero = HashMap::from([("GATE_FORWARD_TIMEOUT_MS", "0".to_owned())]);
        assert_eq!(
            Config::from_source(&zero).unwrap_err().key,
            "GATE_FORWARD_TIMEOUT_MS"
        );
    }
}
