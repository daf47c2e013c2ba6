//! `printflow-traffic`: see the library documentation.

use printflow_traffic::cli::{self, Mode};
use printflow_traffic::config::Config;
use printflow_traffic::runner;
use printflow_web::config::ProcessEnv;
use printflow_web::server::shutdown_signal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mode = match cli::parse(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if mode == Mode::Help {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    printflow_web::logging::init_logging();
    let config = match Config::from_source(&ProcessEnv) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Once => runner::run_once(config, shutdown_signal()).await,
        _ => runner::run_continuous(config, shutdown_signal()).await,
    };
    match result {
        // Only the smoke test judges the run; continuous traffic reports and carries on.
        Ok(totals) if mode == Mode::Once && totals.failures_total() > 0 => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
