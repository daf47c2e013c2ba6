//! Settings, read from `CRM_*` environment variables (tests pass a map instead).

use crate::status_limits::StatusLimits;
use printflow_auth::AuthSettings;
use printflow_faults::FaultSettings;
use printflow_runtime::{BrokerSettings, DatabaseSettings, HttpSettings};
use printflow_web::config::{parse_or, ConfigError, ConfigSource};
use std::time::Duration;

/// Everything the CRM process needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`CRM_HTTP_HOST`, default `127.0.0.1`; `CRM_HTTP_PORT`, default `8081`,
    /// `0` picks a free port, as tests do).
    pub http: HttpSettings,
    /// How callers' tokens are verified (`CRM_AUTH_*`; audience `crm-api`).
    pub auth: AuthSettings,
    /// The pool (`CRM_DATABASE_URL`; `CRM_DATABASE_MAX_CONNECTIONS`, default `10`;
    /// `CRM_DATABASE_ACQUIRE_TIMEOUT_MS`, default `3000`).
    pub database: DatabaseSettings,
    /// RabbitMQ (`CRM_AMQP_URL`).
    pub broker: BrokerSettings,
    /// `statement_timeout` of the queries behind HTTP requests and of the status-event
    /// transactions (`CRM_QUERY_TIMEOUT_MS`, default `2000`): a hung query answers 503 instead
    /// of hanging the caller (seed point 8).
    pub query_timeout: Duration,
    /// How long an order may stay in each status before it is overdue (`CRM_STATUS_LIMITS`,
    /// `STATUS=SECONDS,...`; unnamed statuses keep the production defaults
    /// `NEW=300,ACCEPTED=1800,PRINTING=172800,POST_PROCESSING=7200,QUALITY_CHECK=3600,READY=86400`;
    /// see [`crate::status_limits`]). Exposed as metrics for the overstay alerts.
    pub status_limits: StatusLimits,
    /// Whether an `admin` may arm the drill faults of [`crate::faults`] (`PRINTFLOW_FAULTS`,
    /// default off).
    pub faults: FaultSettings,
}

impl Config {
    /// Reads the configuration; unset variables take their defaults, unparseable ones are errors.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let query_timeout_ms: u64 = parse_or(src, "CRM_QUERY_TIMEOUT_MS", 2000)?;
        if query_timeout_ms == 0 {
            return Err(ConfigError {
                key: "CRM_QUERY_TIMEOUT_MS".into(),
                value: "0".into(),
                reason: "must be at least 1 (0 would disable the timeout)".into(),
            });
        }
        let status_limits = match src.get("CRM_STATUS_LIMITS") {
            None => StatusLimits::default(),
            Some(raw) => StatusLimits::parse(&raw).map_err(|reason| ConfigError {
                key: "CRM_STATUS_LIMITS".into(),
                value: raw.clone(),
                reason,
            })?,
        };
        Ok(Config {
            auth: AuthSettings::from_source(src, "CRM", "crm-api")?,
            http: HttpSettings::from_source(src, "CRM", 8081)?,
            database: DatabaseSettings::from_source(src, "CRM", "printflow_crm", 10)?,
            broker: BrokerSettings::from_source(src, "CRM"),
            query_timeout: Duration::from_millis(query_timeout_ms),
            status_limits,
            faults: FaultSettings::from_source(src)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_overrides() {
        let empty: HashMap<&str, String> = HashMap::new();
        let config = Config::from_source(&empty).unwrap();
        assert_eq!(config.http.host, "127.0.0.1");
        assert_eq!(config.http.port, 8081);
        assert_eq!(config.database.max_connections, 10);
        assert_eq!(config.query_timeout, Duration::from_millis(2000));
        assert_eq!(config.status_limits, StatusLimits::default());

        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("CRM_HTTP_PORT", "0".into());
        map.insert("CRM_QUERY_TIMEOUT_MS", "250".into());
        map.insert("CRM_STATUS_LIMITS", "NEW=1".into());
        let config = Config::from_source(&map).unwrap();
        assert_eq!(config.http.port, 0);
        assert_eq!(config.query_timeout, Duration::from_millis(250));
        assert_eq!(
            config
                .status_limits
                .get(printflow_contracts::OrderStatus::New),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let mut map: HashMap<&str, String> = HashMap::new();
        map.insert("CRM_QUERY_TIMEOUT_MS", "0".into());
        assert!(Config::from_source(&map).is_err());
        map.insert("CRM_QUERY_TIMEOUT_MS", "soon".into());
        let err = Config::from_source(&map).unwrap_err();
        assert_eq!(err.key, "CRM_QUERY_TIMEOUT_MS");

        let mut map: HashMap<&str, String> = HashMap::new();
        for bad in ["NEW=0", "LOST=5", "SHIPPED=60", "NEW=5m"] {
            map.insert("CRM_STATUS_LIMITS", bad.into());
            let err = Config::from_source(&map).unwrap_err();
            assert_eq!(err.key, "CRM_STATUS_LIMITS", "{bad}");
            assert!(err.to_string().contains("CRM_STATUS_LIMITS"), "{err}");
        }
    }
}
