//! `printflow-traffic`: see the library documentation.

use clap::Parser;
use printflow_traffic::cli::Cli;
use printflow_traffic::runner;
use printflow_web::server::shutdown_signal;
use std::process::ExitCode;

#[tokio::main]
#[allow(
    clippy::print_stderr,
    reason = "the last word of a command-line tool, after its tracing output"
)]
async fn main() -> ExitCode {
    // Exits with 2 and the usage on a bad flag or variable, with 0 after `--help`.
    let cli = Cli::parse();
    printflow_web::logging::init_logging();
    let result = if cli.once {
        runner::run_once(cli.config, shutdown_signal()).await
    } else {
        runner::run_continuous(cli.config, shutdown_signal()).await
    };
    match result {
        // Only the smoke test judges the run; continuous traffic reports and carries on.
        Ok(totals) if cli.once && totals.failures_total() > 0 => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
