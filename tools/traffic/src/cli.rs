//! The command line, parsed by `clap`: the kind of run (`--once` or continuous) and the
//! settings of [`crate::config::Config`], each of which also reads a `TRAFFIC_*` variable.

use crate::config::Config;
use clap::Parser;

/// `printflow-traffic [--once] [settings]`.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "printflow-traffic",
    version,
    about = "Produces customer journeys against the Shop API until Ctrl-C / SIGTERM.",
    after_help = "Every setting can also be given as the environment variable shown; the flag \
                  wins. Logging: RUST_LOG, LOG_FORMAT=json."
)]
pub struct Cli {
    /// Run one journey of each kind, print a summary, exit 1 on any unexpected outcome (5xx,
    /// transport error, contract violation).
    #[arg(long)]
    pub once: bool,
    /// The settings.
    #[command(flatten)]
    pub config: Config,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use std::time::Duration;

    /// Parses `args` after the program name. These tests assume no `TRAFFIC_*` variable is
    /// set in the test process (the binary's own test checks the environment path).
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("printflow-traffic").chain(args.iter().copied()))
    }

    #[test]
    fn no_flags_run_continuously_with_one_order_every_five_seconds() {
        let cli = parse(&[]).unwrap();
        assert!(!cli.once);
        let config = cli.config;
        assert_eq!(config.shop_url, "http://127.0.0.1:8080");
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.duration(), None);
        assert_eq!(config.seed, None);
        assert_eq!(config.request_timeout, Duration::from_secs(20));
        assert_eq!(config.ready_timeout, Duration::from_secs(60));
        let seconds_per_order = 1.0 / (config.rate_per_second * config.order_share);
        assert!(
            (seconds_per_order - 5.0).abs() < 1e-9,
            "{seconds_per_order}"
        );
    }

    #[test]
    fn values_are_read_and_the_url_loses_its_trailing_slash() {
        let cli = parse(&[
            "--once",
            "--shop-url",
            "http://shop.local:9000/",
            "--rate",
            "0.5",
            "--concurrency",
            "2",
            "--order-share",
            "0",
            "--duration-seconds",
            "30",
            "--seed",
            " 42",
        ])
        .unwrap();
        assert!(cli.once);
        let config = cli.config;
        assert_eq!(config.shop_url, "http://shop.local:9000");
        assert_eq!(config.rate_per_second, 0.5);
        assert_eq!(config.concurrency, 2);
        assert_eq!(config.order_share, 0.0);
        assert_eq!(config.duration(), Some(Duration::from_secs(30)));
        assert_eq!(config.seed, Some(42));
    }

    #[test]
    fn out_of_range_values_name_the_flag() {
        for (flag, value) in [
            ("--rate", "0"),
            ("--rate", "NaN"),
            ("--rate", "fast"),
            ("--concurrency", "0"),
            ("--order-share", "1.5"),
            ("--seed", "-1"),
            ("--shop-url", "https://shop"),
            ("--shop-url", "shop:8080"),
            ("--request-timeout-seconds", "0"),
        ] {
            let err = parse(&[&format!("{flag}={value}")]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{flag}={value}");
            assert!(err.to_string().contains(flag), "{flag}={value}: {err}");
        }
    }

    #[test]
    fn unknown_flags_are_named_and_help_lists_every_variable() {
        let err = parse(&["--onse"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        assert!(err.to_string().contains("--onse"), "{err}");
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        for variable in [
            "TRAFFIC_SHOP_URL",
            "TRAFFIC_RATE",
            "TRAFFIC_CONCURRENCY",
            "TRAFFIC_ORDER_SHARE",
            "TRAFFIC_DURATION_SECONDS",
            "TRAFFIC_SEED",
            "TRAFFIC_REQUEST_TIMEOUT_SECONDS",
            "TRAFFIC_READY_TIMEOUT_SECONDS",
        ] {
            assert!(help.to_string().contains(variable), "{variable}: {help}");
        }
    }
}
