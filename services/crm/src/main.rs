//! `printflow-crm`: serves the CRM API, relays the outbox and consumes MES status events.

use printflow_crm::{Application, Config};
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_web::logging::init_logging();
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "printflow-crm listening");
    app.run(printflow_web::server::shutdown_signal()).await
}
