//! The body of every service binary's `main`.

use crate::application::Application;
use crate::service::Service;
use printflow_config::ProcessEnv;

/// Runs service `S` as a process: telemetry first (so start-up failures are logged and traced
/// too), settings from the environment, build, serve until SIGTERM / Ctrl-C, then — after the
/// server and the background tasks stopped — export every span still queued.
pub async fn main<S: Service>() -> anyhow::Result<()> {
    let telemetry = printflow_telemetry::init(&ProcessEnv, S::NAME, S::VERSION)?;
    let result = async {
        let config = S::config(&ProcessEnv)?;
        let app = Application::<S>::build(config).await?;
        tracing::info!(port = app.port(), "{} listening", S::NAME);
        app.run(printflow_web::server::shutdown_signal()).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(
            error = format!("{e:#}"),
            "{} stopped with an error",
            S::NAME
        );
    }
    telemetry.shutdown().await;
    result
}
