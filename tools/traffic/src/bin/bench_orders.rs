//! `printflow-bench-orders`: the closed-loop order benchmark (see
//! `printflow_traffic::bench`); prints its figures as one JSON object.

use clap::Parser;
use printflow_auth::ClientSettings;
use printflow_traffic::bench::{self, BenchSettings};
use printflow_traffic::shop::ShopClient;
use std::process::ExitCode;
use std::time::Duration;

/// `printflow-bench-orders [settings]`.
#[derive(Debug, Parser)]
#[command(
    name = "printflow-bench-orders",
    about = "Places orders back to back through the Shop and reads statuses; prints the figures as JSON."
)]
struct Cli {
    /// The Shops' base URLs, separated by commas (taken in turn).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    shop_url: String,
    /// Customers placing orders back to back.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Orders per second all customers aim at together (each paces its share); unset: back to
    /// back.
    #[arg(long)]
    rate: Option<f64>,
    /// Status reads per second all readers aim at together; unset: back to back.
    #[arg(long)]
    status_rate: Option<f64>,
    /// Customers reading order statuses back to back.
    #[arg(long, default_value_t = 2)]
    status_connections: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 10)]
    warmup_seconds: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 30)]
    duration_seconds: u64,
    /// The token endpoint of the client the customers act as.
    #[arg(
        long,
        env = "TRAFFIC_TOKEN_URL",
        default_value = "http://127.0.0.1:8180/realms/printflow/protocol/openid-connect/token"
    )]
    token_url: String,
    /// The client id (its secret only from `TRAFFIC_CLIENT_SECRET`).
    #[arg(long, env = "TRAFFIC_CLIENT_ID", default_value = "traffic")]
    client_id: String,
}

#[tokio::main]
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool whose output is its report"
)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Ok(secret) = std::env::var("TRAFFIC_CLIENT_SECRET") else {
        eprintln!("error: TRAFFIC_CLIENT_SECRET is not set");
        return ExitCode::from(2);
    };
    let client = ClientSettings {
        token_url: cli.token_url,
        client_id: cli.client_id,
        client_secret: printflow_config::Secret::new(secret),
    };
    let shops = cli
        .shop_url
        .split(',')
        .map(|url| ShopClient::new(url.trim(), Duration::from_secs(20), Some(client.clone())))
        .collect();
    let settings = BenchSettings {
        shops,
        connections: cli.connections.max(1),
        rate: cli.rate,
        status_rate: cli.status_rate,
        status_connections: cli.status_connections,
        warmup: Duration::from_secs(cli.warmup_seconds),
        duration: Duration::from_secs(cli.duration_seconds.max(1)),
    };
    match bench::run(settings).await {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
