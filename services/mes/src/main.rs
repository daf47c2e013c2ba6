//! The `printflow-mes` binary: reads `MES_*` settings and runs the service until SIGTERM/Ctrl-C.

use printflow_mes::{Application, Config};
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // First, so every span from start-up on is exported; flushed at the end so a graceful stop
    // (SIGTERM) loses no span.
    let telemetry = printflow_telemetry::init("mes-api", env!("CARGO_PKG_VERSION"));
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "printflow-mes listening");
    let result = app.run(printflow_web::server::shutdown_signal()).await;
    telemetry.shutdown().await;
    result
}
