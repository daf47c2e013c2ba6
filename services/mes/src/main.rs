//! The `printflow-mes` binary: reads `MES_*` settings and runs the service until SIGTERM/Ctrl-C.

use printflow_mes::{Application, Config};
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_web::logging::init_logging();
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "printflow-mes listening");
    app.run(printflow_web::server::shutdown_signal()).await
}
