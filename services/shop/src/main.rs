//! `printflow-shop`: the Shop API binary. Settings come from `SHOP_*` environment variables
//! (see `printflow_shop::config::Config`).

use printflow_shop::app::Application;
use printflow_shop::config::Config;
use printflow_web::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_web::logging::init_logging();
    let config = Config::from_source(&ProcessEnv)?;
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "shop listening");
    app.run(printflow_web::server::shutdown_signal()).await
}
