//! `printflow-shop`: the Shop API binary. Settings come from `SHOP_*` environment variables
//! (see `printflow_shop::config::Config`); telemetry from the standard `OTEL_*` ones (see
//! `printflow_telemetry::init`).

use printflow_shop::app::Application;
use printflow_shop::config::Config;
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, so start-up failures are logged (and traced) too.
    let telemetry = printflow_telemetry::init("shop-api", env!("CARGO_PKG_VERSION"));
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "shop listening");
    let result = app.run(printflow_web::server::shutdown_signal()).await;
    // A graceful stop (SIGTERM) exports every span still queued before the process exits.
    telemetry.shutdown().await;
    result
}
