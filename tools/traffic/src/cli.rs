//! Command-line flags. Everything tunable lives in the environment (see [`crate::config`]);
//! the command line only chooses what kind of run this is.

/// How the generator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep producing journeys at the configured rate until stopped.
    Continuous,
    /// Run one of each journey, print a summary and exit non-zero on any unexpected outcome.
    Once,
    /// Print usage and exit.
    Help,
}

/// Usage text printed by `--help` and after a bad flag.
pub const USAGE: &str = "\
usage: printflow-traffic [--once]

Produces customer journeys against the Shop API until Ctrl-C / SIGTERM.

  --once    run one journey of each kind, print a summary, exit 1 on any
            unexpected outcome (5xx, transport error, contract violation)
  --help    show this text

Environment: TRAFFIC_SHOP_URL (http://127.0.0.1:8080), TRAFFIC_RATE (2.0 journeys/s),
TRAFFIC_CONCURRENCY (4), TRAFFIC_ORDER_SHARE (0.1), TRAFFIC_DURATION_SECONDS (0 = until
stopped), TRAFFIC_SEED (random), TRAFFIC_REQUEST_TIMEOUT_SECONDS (20),
TRAFFIC_READY_TIMEOUT_SECONDS (60), RUST_LOG, LOG_FORMAT=json.";

/// Reads the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<Mode, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut mode = Mode::Continuous;
    for arg in args {
        match arg.as_ref() {
            "--once" => mode = Mode::Once,
            "-h" | "--help" => return Ok(Mode::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_run_continuously_and_once_is_recognised() {
        assert_eq!(parse(Vec::<String>::new()), Ok(Mode::Continuous));
        assert_eq!(parse(["--once"]), Ok(Mode::Once));
        assert_eq!(parse(["--once", "--help"]), Ok(Mode::Help));
    }

    #[test]
    fn unknown_flags_are_named() {
        let err = parse(["--onse"]).unwrap_err();
        assert!(err.contains("--onse"), "{err}");
    }
}
