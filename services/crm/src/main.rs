//! `printflow-crm`: serves the CRM API, relays the outbox and consumes MES status events.

use printflow_crm::{Application, Config};
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = printflow_telemetry::init("crm-api", env!("CARGO_PKG_VERSION"));
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "printflow-crm listening");
    let result = app.run(printflow_web::server::shutdown_signal()).await;
    // After the server and the background tasks stopped: export every span still queued.
    telemetry.shutdown().await;
    result
}
