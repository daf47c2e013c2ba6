//! Settings, read from `MES_*` variables through [`ConfigSource`] (tests pass a map).
//!
//! Every value is validated here, at start-up: a negative time scale or a failure rate of 1.5
//! is a configuration error that stops the process, not a surprise in the middle of production.

use crate::production::{Production, QcMode};
use printflow_auth::{AuthSettings, ClientSettings};
use printflow_faults::FaultSettings;
use printflow_runtime::{BrokerSettings, DatabaseSettings, HttpSettings, OutboxSettings};
use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::time::Duration;

/// Everything MES needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (`MES_HTTP_HOST`, default `127.0.0.1`; `MES_HTTP_PORT`, default 8082, 0
    /// picks a free port).
    pub http: HttpSettings,
    /// How callers' tokens are verified (`MES_AUTH_*`; audience `mes-api`).
    pub auth: AuthSettings,
    /// MES's own client credentials for fetching model files from the Shop
    /// (`MES_AUTH_CLIENT_ID`, default `mes-api`; `MES_AUTH_CLIENT_SECRET`, required).
    pub client: ClientSettings,
    /// The pool (`MES_DATABASE_URL`; `MES_DATABASE_MAX_CONNECTIONS`, default 24;
    /// `MES_DATABASE_ACQUIRE_TIMEOUT_MS`, default 3000).
    pub database: DatabaseSettings,
    /// RabbitMQ (`MES_AMQP_URL`).
    pub broker: BrokerSettings,
    /// How long sent outbox rows are kept (`MES_OUTBOX_RETENTION_HOURS`, default 168).
    pub outbox: OutboxSettings,
    /// Base URL of the Shop API the model files are fetched from (`MES_SHOP_URL`).
    pub shop_url: String,
    /// Deadline of one call to Shop (`MES_SHOP_TIMEOUT_MS`, default 3000).
    pub shop_timeout: Duration,
    /// Printers to have at start-up, named `printer-1..N` (`MES_PRINTERS`, default 4).
    pub printers: u32,
    /// Scheduler period (`MES_TICK_MS`, default 200).
    pub tick: Duration,
    /// Phase durations, failure rates and QC mode of the simulated farm.
    pub production: Production,
    /// Whether an `admin` may arm the drill faults of [`crate::faults`] (`PRINTFLOW_FAULTS`,
    /// default off).
    pub faults: FaultSettings,
}

const MAX_PRINTERS: u32 = 1_000;

impl Config {
    /// Reads and validates every setting.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let shop_url = string_or(src, "MES_SHOP_URL", "http://127.0.0.1:8080");
        check_http_url("MES_SHOP_URL", &shop_url)?;
        let shop_timeout_ms: u64 = parse_or(src, "MES_SHOP_TIMEOUT_MS", 3_000)?;
        check(
            "MES_SHOP_TIMEOUT_MS",
            shop_timeout_ms,
            (1..=600_000).contains(&shop_timeout_ms),
            "must be between 1 and 600000",
        )?;
        let printers: u32 = parse_or(src, "MES_PRINTERS", 4)?;
        check(
            "MES_PRINTERS",
            printers,
            (1..=MAX_PRINTERS).contains(&printers),
            "must be between 1 and 1000",
        )?;
        let tick_ms: u64 = parse_or(src, "MES_TICK_MS", 200)?;
        check(
            "MES_TICK_MS",
            tick_ms,
            (1..=60_000).contains(&tick_ms),
            "must be between 1 and 60000",
        )?;
        let time_scale: f64 = parse_or(src, "MES_TIME_SCALE", 0.0001)?;
        check(
            "MES_TIME_SCALE",
            time_scale,
            time_scale.is_finite() && time_scale >= 0.0,
            "must be a finite number >= 0",
        )?;
        let production = Production {
            time_scale,
            post_processing_seconds: seconds(src, "MES_POST_PROCESSING_SECONDS", 1_800)?,
            quality_check_seconds: seconds(src, "MES_QUALITY_CHECK_SECONDS", 600)?,
            shipping_prep_seconds: seconds(src, "MES_SHIPPING_PREP_SECONDS", 1_800)?,
            print_failure_rate: probability(src, "MES_PRINT_FAILURE_RATE")?,
            qc_reject_rate: probability(src, "MES_QC_REJECT_RATE")?,
            qc_mode: parse_or(src, "MES_QC_MODE", QcMode::Auto)?,
        };
        Ok(Config {
            faults: FaultSettings::from_source(src)?,
            auth: AuthSettings::from_source(src, "MES", "mes-api")?,
            client: ClientSettings::from_source(src, "MES", "mes-api")?,
            http: HttpSettings::from_source(src, "MES", 8082)?,
            database: DatabaseSettings::from_source(src, "MES", "printflow_mes", 24)?,
            broker: BrokerSettings::from_source(src, "MES"),
            outbox: OutboxSettings::from_source(src, "MES")?,
            shop_url: shop_url.trim_end_matches('/').to_owned(),
            shop_timeout: Duration::from_millis(shop_timeout_ms),
            printers,
            tick: Duration::from_millis(tick_ms),
            production,
        })
    }
}

fn check(key: &str, value: impl ToString, ok: bool, reason: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            key: key.to_owned(),
            value: value.to_string(),
            reason: reason.to_owned(),
        })
    }
}

/// A simulated duration in whole seconds, at most 30 days (longer is surely a typo).
fn seconds(src: &dyn ConfigSource, key: &str, default: u64) -> Result<u64, ConfigError> {
    let v: u64 = parse_or(src, key, default)?;
    check(key, v, v <= 30 * 24 * 3600, "must be between 0 and 2592000")?;
    Ok(v)
}

fn probability(src: &dyn ConfigSource, key: &str) -> Result<f64, ConfigError> {
    let v: f64 = parse_or(src, key, 0.0)?;
    check(
        key,
        v,
        (0.0..=1.0).contains(&v),
        "must be a probability between 0 and 1",
    )?;
    Ok(v)
}

fn check_http_url(key: &str, raw: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        Ok(_) => check(
            key,
            raw,
            false,
            "must be an http:// or https:// URL with a host",
        ),
        Err(e) => check(key, raw, false, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `pairs` plus the one setting without a default, the client secret.
    fn with(pairs: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<&str, String> =
            pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        map.entry("MES_AUTH_CLIENT_SECRET")
            .or_insert_with(|| "test-only".to_owned());
        Config::from_source(&map)
    }

    #[test]
    fn defaults_are_valid() {
        let c = with(&[]).unwrap();
        assert_eq!(c.http.host, "127.0.0.1");
        assert_eq!(c.http.port, 8082);
        assert_eq!(c.database.max_connections, 24);
        assert_eq!(c.printers, 4);
        assert_eq!(c.tick, Duration::from_millis(200));
        assert_eq!(c.shop_timeout, Duration::from_millis(3_000));
        assert_eq!(c.production.time_scale, 0.0001);
        assert_eq!(c.production.post_processing_seconds, 1_800);
        assert_eq!(c.production.quality_check_seconds, 600);
        assert_eq!(c.production.shipping_prep_seconds, 1_800);
        assert_eq!(c.production.qc_mode, QcMode::Auto);
        assert_eq!(c.production.print_failure_rate, 0.0);
        assert_eq!(c.auth.audience, "mes-api");
        assert_eq!(c.client.client_id, "mes-api");
    }

    #[test]
    fn overrides_are_read() {
        let c = with(&[
            ("MES_QC_MODE", "manual"),
            ("MES_PRINTERS", "1"),
            ("MES_TIME_SCALE", "0.5"),
            ("MES_QC_REJECT_RATE", "1"),
            ("MES_SHOP_URL", "http://shop.local:9000/"),
        ])
        .unwrap();
        assert_eq!(c.production.qc_mode, QcMode::Manual);
        assert_eq!(c.printers, 1);
        assert_eq!(c.production.time_scale, 0.5);
        assert_eq!(c.production.qc_reject_rate, 1.0);
        assert_eq!(c.shop_url, "http://shop.local:9000");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&'static str, &str)] = &[
            ("MES_TIME_SCALE", "-1"),
            ("MES_TIME_SCALE", "NaN"),
            ("MES_TIME_SCALE", "inf"),
            ("MES_PRINT_FAILURE_RATE", "1.5"),
            ("MES_QC_REJECT_RATE", "-0.1"),
            ("MES_QC_MODE", "sometimes"),
            ("MES_PRINTERS", "0"),
            ("MES_TICK_MS", "0"),
            ("MES_SHOP_TIMEOUT_MS", "x"),
            ("MES_HTTP_PORT", "70000"),
            ("MES_SHOP_URL", "not a url"),
            ("MES_SHOP_URL", "ftp://shop"),
            ("MES_POST_PROCESSING_SECONDS", "-5"),
        ];
        for (key, value) in cases {
            let err = with(&[(key, value)]).expect_err(&format!("{key}={value} must be refused"));
            assert_eq!(err.key, *key);
        }
    }
}
