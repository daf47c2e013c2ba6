//! Settings: each one a flag with a `TRAFFIC_*` environment variable behind it (the flag wins),
//! parsed and range-checked by `clap` (see [`crate::cli`] for the command line as a whole).

use clap::Args;
use printflow_config::Secret;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

/// Everything the generator can be tuned with.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct Config {
    /// Base URL of the Shop API, http only (TLS is not built in); a trailing slash is dropped.
    #[arg(
        long = "shop-url",
        env = "TRAFFIC_SHOP_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        value_parser = shop_url
    )]
    pub shop_url: String,
    /// Journeys started per second on average (Poisson arrivals), above 0 and at most 1000.
    #[arg(
        long = "rate",
        env = "TRAFFIC_RATE",
        value_name = "PER_SECOND",
        default_value = "2.0",
        value_parser = rate
    )]
    pub rate_per_second: f64,
    /// Journeys in flight at most (1-1000). When Shop slows down the generator waits for a
    /// free slot instead of piling up requests, so it never turns a slow Shop into an
    /// overloaded one.
    #[arg(
        long,
        env = "TRAFFIC_CONCURRENCY",
        value_name = "N",
        default_value = "4",
        value_parser = concurrency
    )]
    pub concurrency: usize,
    /// Fraction of journeys that end in an order (0-1). Orders become print jobs, so this
    /// (times the rate) is what keeps the simulated printers from drowning: 2.0/s x 0.1 is one
    /// order every 5 s.
    #[arg(
        long,
        env = "TRAFFIC_ORDER_SHARE",
        value_name = "FRACTION",
        default_value = "0.1",
        value_parser = fraction
    )]
    pub order_share: f64,
    /// Stop after this many seconds; 0 runs until Ctrl-C / SIGTERM (see [`Config::duration`]).
    #[arg(
        long = "duration-seconds",
        env = "TRAFFIC_DURATION_SECONDS",
        value_name = "SECONDS",
        default_value = "0",
        value_parser = trimmed::<u64>
    )]
    pub duration_seconds: u64,
    /// Seed of every random choice, to repeat a run (logged at start); random when unset.
    #[arg(long, env = "TRAFFIC_SEED", value_name = "SEED", value_parser = trimmed::<u64>)]
    pub seed: Option<u64>,
    /// Deadline of one HTTP request, seconds (at least 1). Longer than Shop's own 15 s request
    /// timeout, so a slow Shop is reported by Shop's 503 and only a Shop that does not answer
    /// at all shows up as our timeout.
    #[arg(
        long = "request-timeout-seconds",
        env = "TRAFFIC_REQUEST_TIMEOUT_SECONDS",
        value_name = "SECONDS",
        default_value = "20",
        value_parser = positive_seconds
    )]
    pub request_timeout: Duration,
    /// How long to wait for Shop's `/readyz` before giving up, seconds (at least 1).
    #[arg(
        long = "ready-timeout-seconds",
        env = "TRAFFIC_READY_TIMEOUT_SECONDS",
        value_name = "SECONDS",
        default_value = "60",
        value_parser = positive_seconds
    )]
    pub ready_timeout: Duration,
    /// The OAuth 2 token endpoint the generator gets its token from (client credentials).
    #[arg(
        long = "token-url",
        env = "TRAFFIC_TOKEN_URL",
        value_name = "URL",
        default_value = "http://127.0.0.1:8180/realms/printflow/protocol/openid-connect/token"
    )]
    pub token_url: String,
    /// The generator's client id: a synthetic customer of the Shop (role `customer`).
    #[arg(
        long = "client-id",
        env = "TRAFFIC_CLIENT_ID",
        value_name = "ID",
        default_value = "traffic"
    )]
    pub client_id: String,
    /// The client's secret. Only from the environment (a flag would show in `ps`); without it
    /// the generator is anonymous and only catalog journeys succeed.
    #[arg(skip = std::env::var("TRAFFIC_CLIENT_SECRET").ok().filter(|s| !s.is_empty()).map(Secret::new))]
    pub client_secret: Option<Secret>,
}

impl Config {
    /// The client credentials, when a secret is set.
    pub fn client(&self) -> Option<printflow_auth::ClientSettings> {
        self.client_secret
            .as_ref()
            .map(|secret| printflow_auth::ClientSettings {
                token_url: self.token_url.clone(),
                client_id: self.client_id.clone(),
                client_secret: secret.clone(),
            })
    }

    /// How long to run; `None` until stopped.
    pub fn duration(&self) -> Option<Duration> {
        (self.duration_seconds > 0).then(|| Duration::from_secs(self.duration_seconds))
    }
}

/// Parses `raw` as `T`, ignoring surrounding whitespace (values often come from shell files).
fn trimmed<T>(raw: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    raw.trim().parse().map_err(|e: T::Err| e.to_string())
}

fn shop_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    // The workspace builds reqwest without TLS, so an https URL could only fail later with a
    // confusing transport error.
    if !url.starts_with("http://") || url.len() <= "http://".len() {
        return Err("must be an http:// URL (TLS is not built in)".to_owned());
    }
    Ok(url.to_owned())
}

fn rate(raw: &str) -> Result<f64, String> {
    let rate: f64 = trimmed(raw)?;
    if !rate.is_finite() || rate <= 0.0 || rate > 1000.0 {
        return Err("must be above 0 and at most 1000 journeys per second".to_owned());
    }
    Ok(rate)
}

fn concurrency(raw: &str) -> Result<usize, String> {
    let n: usize = trimmed(raw)?;
    if !(1..=1000).contains(&n) {
        return Err("must be between 1 and 1000".to_owned());
    }
    Ok(n)
}

fn fraction(raw: &str) -> Result<f64, String> {
    let share: f64 = trimmed(raw)?;
    if !(0.0..=1.0).contains(&share) {
        return Err("must be a fraction between 0 and 1".to_owned());
    }
    Ok(share)
}

fn positive_seconds(raw: &str) -> Result<Duration, String> {
    let secs: u64 = trimmed(raw)?;
    if secs == 0 {
        return Err("must be at least 1 second".to_owned());
    }
    Ok(Duration::from_secs(secs))
}
