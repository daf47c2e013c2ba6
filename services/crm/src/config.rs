//! Settings, read from `CRM_*` environment variables (tests pass a map instead).

use crate::reconcile::ReconcileSettings;
use crate::status_limits::StatusLimits;
use printflow_auth::{AuthSettings, ClientSettings};
use printflow_faults::FaultSettings;
use printflow_runtime::{BrokerSettings, DatabaseSettings, HttpSettings, OutboxSettings};
use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::time::Duration;

/// Everything the CRM process needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`CRM_HTTP_HOST`, default `127.0.0.1`; `CRM_HTTP_PORT`, default `8081`,
    /// `0` picks a free port, as tests do).
    pub http: HttpSettings,
    /// How callers' tokens are verified (`CRM_AUTH_*`; audience `crm-api`).
    pub auth: AuthSettings,
    /// The pool (`CRM_DATABASE_URL`; `CRM_DATABASE_MAX_CONNECTIONS`, default `24`;
    /// `CRM_DATABASE_ACQUIRE_TIMEOUT_MS`, default `3000`).
    pub database: DatabaseSettings,
    /// RabbitMQ (`CRM_AMQP_URL`).
    pub broker: BrokerSettings,
    /// How long sent outbox rows are kept (`CRM_OUTBOX_RETENTION_HOURS`, default 168); at
    /// least the reconcile window, since a repair republishes an order's `order.created` row.
    pub outbox: OutboxSettings,
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
    /// CRM's own client credentials for reading MES (`CRM_AUTH_CLIENT_ID`, default `crm-api`;
    /// `CRM_AUTH_CLIENT_SECRET`, required).
    pub client: ClientSettings,
    /// Base URL of the MES API the reconciler reads jobs from (`CRM_MES_URL`, default
    /// `http://127.0.0.1:8082`).
    pub mes_url: String,
    /// Deadline of one call to MES (`CRM_MES_TIMEOUT_MS`, default 5000).
    pub mes_timeout: Duration,
    /// The reconciler's interval, grace period and window (`CRM_RECONCILE_INTERVAL_SECONDS`,
    /// default 15; `CRM_RECONCILE_GRACE_SECONDS`, default 60; `CRM_RECONCILE_WINDOW_SECONDS`,
    /// default 3600; each at least 1).
    pub reconcile: ReconcileSettings,
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
        let reconcile = ReconcileSettings {
            interval: Duration::from_secs(positive(src, "CRM_RECONCILE_INTERVAL_SECONDS", 15)?),
            grace: Duration::from_secs(positive(src, "CRM_RECONCILE_GRACE_SECONDS", 60)?),
            window: Duration::from_secs(positive(src, "CRM_RECONCILE_WINDOW_SECONDS", 3600)?),
        };
        let outbox = OutboxSettings::from_source(src, "CRM")?;
        if outbox.retention < reconcile.window {
            return Err(ConfigError {
                key: "CRM_OUTBOX_RETENTION_HOURS".into(),
                value: (outbox.retention.as_secs() / 3600).to_string(),
                reason: format!(
                    "must cover CRM_RECONCILE_WINDOW_SECONDS ({} s): the reconciler republishes \
                     order.created rows of orders that old",
                    reconcile.window.as_secs()
                ),
            });
        }
        Ok(Config {
            auth: AuthSettings::from_source(src, "CRM", "crm-api")?,
            http: HttpSettings::from_source(src, "CRM", 8081)?,
            database: DatabaseSettings::from_source(src, "CRM", "printflow_crm", 24)?,
            broker: BrokerSettings::from_source(src, "CRM"),
            query_timeout: Duration::from_millis(query_timeout_ms),
            status_limits,
            faults: FaultSettings::from_source(src)?,
            client: ClientSettings::from_source(src, "CRM", "crm-api")?,
            mes_url: string_or(src, "CRM_MES_URL", "http://127.0.0.1:8082"),
            mes_timeout: Duration::from_millis(positive(src, "CRM_MES_TIMEOUT_MS", 5000)?),
            reconcile,
            outbox,
        })
    }
}

/// `key` as a whole number of at least 1 (0 would disable what it times).
fn positive(src: &dyn ConfigSource, key: &str, default: u64) -> Result<u64, ConfigError> {
    let value: u64 = parse_or(src, key, default)?;
    if value == 0 {
        return Err(ConfigError {
            key: key.into(),
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Only the client secret, which has no default.
    fn minimal() -> HashMap<&'static str, String> {
        HashMap::from([("CRM_AUTH_CLIENT_SECRET", "s3cret".to_owned())])
    }

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_source(&minimal()).unwrap();
        assert_eq!(config.http.host, "127.0.0.1");
        assert_eq!(config.http.port, 8081);
        assert_eq!(config.database.max_connections, 24);
        assert_eq!(config.query_timeout, Duration::from_millis(2000));
        assert_eq!(config.status_limits, StatusLimits::default());
        assert_eq!(config.mes_url, "http://127.0.0.1:8082");
        assert_eq!(config.reconcile.interval, Duration::from_secs(15));
        assert_eq!(config.reconcile.grace, Duration::from_secs(60));
        assert_eq!(config.reconcile.window, Duration::from_secs(3600));
        assert!(!config.faults.enabled);

        let mut map = minimal();
        map.insert("CRM_HTTP_PORT", "0".into());
        map.insert("CRM_RECONCILE_GRACE_SECONDS", "5".into());
        map.insert("CRM_QUERY_TIMEOUT_MS", "250".into());
        map.insert("CRM_STATUS_LIMITS", "NEW=1".into());
        let config = Config::from_source(&map).unwrap();
        assert_eq!(config.http.port, 0);
        assert_eq!(config.query_timeout, Duration::from_millis(250));
        assert_eq!(config.reconcile.grace, Duration::from_secs(5));
        assert_eq!(
            config
                .status_limits
                .get(printflow_contracts::OrderStatus::New),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            Config::from_source(&HashMap::<&str, String>::new())
                .unwrap_err()
                .key,
            "CRM_AUTH_CLIENT_SECRET"
        );
        for key in [
            "CRM_RECONCILE_INTERVAL_SECONDS",
            "CRM_RECONCILE_GRACE_SECONDS",
            "CRM_RECONCILE_WINDOW_SECONDS",
            "CRM_MES_TIMEOUT_MS",
        ] {
            let mut map = minimal();
            map.insert(key, "0".into());
            assert_eq!(Config::from_source(&map).unwrap_err().key, key);
        }
        let mut map = minimal();
        map.insert("CRM_OUTBOX_RETENTION_HOURS", "0".into());
        assert_eq!(
            Config::from_source(&map).unwrap_err().key,
            "CRM_OUTBOX_RETENTION_HOURS"
        );
        // Shorter than the reconcile window: a repair could find its row purged.
        map.insert("CRM_OUTBOX_RETENTION_HOURS", "2".into());
        map.insert("CRM_RECONCILE_WINDOW_SECONDS", "10800".into());
        let err = Config::from_source(&map).unwrap_err();
        assert_eq!(err.key, "CRM_OUTBOX_RETENTION_HOURS");
        assert!(
            err.to_string().contains("CRM_RECONCILE_WINDOW_SECONDS"),
            "{err}"
        );
        map.insert("CRM_RECONCILE_WINDOW_SECONDS", "7200".into());
        assert_eq!(
            Config::from_source(&map).unwrap().outbox.retention,
            Duration::from_secs(7200)
        );

        let mut map = minimal();
        map.insert("CRM_QUERY_TIMEOUT_MS", "0".into());
        assert!(Config::from_source(&map).is_err());
        map.insert("CRM_QUERY_TIMEOUT_MS", "soon".into());
        let err = Config::from_source(&map).unwrap_err();
        assert_eq!(err.key, "CRM_QUERY_TIMEOUT_MS");

        let mut map = minimal();
        for bad in ["NEW=0", "LOST=5", "SHIPPED=60", "NEW=5m"] {
            map.insert("CRM_STATUS_LIMITS", bad.into());
            let err = Config::from_source(&map).unwrap_err();
            assert_eq!(err.key, "CRM_STATUS_LIMITS", "{bad}");
            assert!(err.to_string().contains("CRM_STATUS_LIMITS"), "{err}");
        }
    }
}
