//! Settings, read from `TRAFFIC_*` variables through [`ConfigSource`] so tests hand in a map.

use printflow_web::config::{parse_or, string_or, ConfigError, ConfigSource};
use std::time::Duration;

/// Everything the generator can be tuned with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base URL of the Shop API, without a trailing slash (`TRAFFIC_SHOP_URL`).
    pub shop_url: String,
    /// Journeys started per second on average (`TRAFFIC_RATE`).
    pub rate_per_second: f64,
    /// Journeys allowed in flight at once (`TRAFFIC_CONCURRENCY`). When Shop slows down the
    /// generator waits for a free slot instead of piling up requests, so it never turns a slow
    /// Shop into an overloaded one.
    pub concurrency: usize,
    /// Fraction of journeys that end in an order (`TRAFFIC_ORDER_SHARE`). Orders become print
    /// jobs, so this (times the rate) is what keeps the simulated printers from drowning:
    /// 2.0/s x 0.1 is one order every 5 s.
    pub order_share: f64,
    /// Stop after this long; `None` runs until Ctrl-C / SIGTERM (`TRAFFIC_DURATION_SECONDS`,
    /// 0 meaning unlimited).
    pub duration: Option<Duration>,
    /// Seed for every random choice, to repeat a run (`TRAFFIC_SEED`); random when unset.
    pub seed: Option<u64>,
    /// Deadline of one HTTP request (`TRAFFIC_REQUEST_TIMEOUT_SECONDS`). Longer than Shop's own
    /// 15 s request timeout, so a slow Shop is reported by Shop's 503 and only a Shop that does
    /// not answer at all shows up as our timeout.
    pub request_timeout: Duration,
    /// How long to wait for Shop's `/readyz` before giving up (`TRAFFIC_READY_TIMEOUT_SECONDS`).
    pub ready_timeout: Duration,
}

impl Config {
    /// Reads and validates the settings; defaults suit the local stack.
    pub fn from_source(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        let shop_url = string_or(src, "TRAFFIC_SHOP_URL", "http://127.0.0.1:8080")
            .trim()
            .trim_end_matches('/')
            .to_owned();
        // The workspace builds reqwest without TLS, so an https URL could only fail later
        // with a confusing transport error.
        if !shop_url.starts_with("http://") || shop_url.len() <= "http://".len() {
            return Err(invalid(
                "TRAFFIC_SHOP_URL",
                &shop_url,
                "must be an http:// URL (TLS is not built in)",
            ));
        }

        let rate_per_second: f64 = parse_or(src, "TRAFFIC_RATE", 2.0)?;
        if !rate_per_second.is_finite() || rate_per_second <= 0.0 || rate_per_second > 1000.0 {
            return Err(invalid(
                "TRAFFIC_RATE",
                &rate_per_second.to_string(),
                "must be above 0 and at most 1000 journeys per second",
            ));
        }

        let concurrency: usize = parse_or(src, "TRAFFIC_CONCURRENCY", 4)?;
        if !(1..=1000).contains(&concurrency) {
            return Err(invalid(
                "TRAFFIC_CONCURRENCY",
                &concurrency.to_string(),
                "must be between 1 and 1000",
            ));
        }

        let order_share: f64 = parse_or(src, "TRAFFIC_ORDER_SHARE", 0.1)?;
        if !(0.0..=1.0).contains(&order_share) {
            return Err(invalid(
                "TRAFFIC_ORDER_SHARE",
                &order_share.to_string(),
                "must be a fraction between 0 and 1",
            ));
        }

        let duration_seconds: u64 = parse_or(src, "TRAFFIC_DURATION_SECONDS", 0)?;
        let seed = match src.get("TRAFFIC_SEED") {
            None => None,
            Some(_) => Some(parse_or(src, "TRAFFIC_SEED", 0u64)?),
        };

        let request_timeout = positive_seconds(src, "TRAFFIC_REQUEST_TIMEOUT_SECONDS", 20)?;
        let ready_timeout = positive_seconds(src, "TRAFFIC_READY_TIMEOUT_SECONDS", 60)?;

        Ok(Config {
            shop_url,
            rate_per_second,
            concurrency,
            order_share,
            duration: (duration_seconds > 0).then(|| Duration::from_secs(duration_seconds)),
            seed,
            request_timeout,
            ready_timeout,
        })
    }
}

fn positive_seconds(
    src: &dyn ConfigSource,
    key: &str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let secs: u64 = parse_or(src, key, default)?;
    if secs == 0 {
        return Err(invalid(key, "0", "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_give_one_order_every_five_seconds() {
        let config = Config::from_source(&source(&[])).unwrap();
        assert_eq!(config.shop_url, "http://127.0.0.1:8080");
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.duration, None);
        assert_eq!(config.seed, None);
        let seconds_per_order = 1.0 / (config.rate_per_second * config.order_share);
        assert!(
            (seconds_per_order - 5.0).abs() < 1e-9,
            "{seconds_per_order}"
        );
    }

    #[test]
    fn values_are_read_and_the_url_loses_its_trailing_slash() {
        let config = Config::from_source(&source(&[
            ("TRAFFIC_SHOP_URL", "http://shop.local:9000/"),
            ("TRAFFIC_RATE", "0.5"),
            ("TRAFFIC_CONCURRENCY", "2"),
            ("TRAFFIC_ORDER_SHARE", "0"),
            ("TRAFFIC_DURATION_SECONDS", "30"),
            ("TRAFFIC_SEED", "42"),
        ]))
        .unwrap();
        assert_eq!(config.shop_url, "http://shop.local:9000");
        assert_eq!(config.rate_per_second, 0.5);
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.order_share, 0.0);
        assert_eq!(config.duration, Some(Duration::from_secs(30)));
        assert_eq!(config.seed, Some(42));
    }

    #[test]
    fn out_of_range_values_name_the_variable() {
        for (key, value) in [
            ("TRAFFIC_RATE", "0"),
            ("TRAFFIC_RATE", "NaN"),
            ("TRAFFIC_RATE", "fast"),
            ("TRAFFIC_CONCURRENCY", "0"),
            ("TRAFFIC_ORDER_SHARE", "1.5"),
            ("TRAFFIC_SEED", "-1"),
            ("TRAFFIC_SHOP_URL", "https://shop"),
            ("TRAFFIC_SHOP_URL", "shop:8080"),
            ("TRAFFIC_REQUEST_TIMEOUT_SECONDS", "0"),
        ] {
            let err = Config::from_source(&source(&[(key, value)])).unwrap_err();
            assert_eq!(err.key, key, "{value}: {err}");
        }
    }
}
