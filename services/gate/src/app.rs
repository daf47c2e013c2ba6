//! Start-up: what the gate adds to the shared runtime — its ingestion route and metrics. It has
//! no database, no broker and no background tasks.

use crate::config::Config;
use crate::ingest::export_traces;
use crate::metrics::GateMetrics;
use crate::state::GateState;
use axum::routing::post;
use axum::Router;
use printflow_auth::{RequireExt, Role};
use printflow_runtime::{Runtime, Service};
use printflow_web::config::{ConfigError, ConfigSource};
use printflow_web::server::Limits;

/// The hand-written OpenAPI document, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The gate service (see [`Service`]).
#[derive(Debug)]
pub struct Gate;

/// A built, not yet running gate.
pub type Application = printflow_runtime::Application<Gate>;

impl Service for Gate {
    const NAME: &'static str = "telemetry-gate";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Config = Config;

    fn config(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        Config::from_source(src)
    }

    async fn runtime(config: Config) -> anyhow::Result<Runtime> {
        let runtime = Runtime::new(&config.http, &config.auth, Self::NAME).await?;
        let state = GateState {
            http: printflow_web::client::http_client(config.forward_timeout),
            jaeger_otlp_url: config.jaeger_otlp_url,
            metrics: GateMetrics::register(runtime.metrics()),
        };
        let routes = Router::new()
            .route("/v1/traces", post(export_traces))
            .require(runtime.auth(), &[Role::TelemetryWriter])
            .with_state(state);
        Ok(runtime
            .limits(Limits {
                max_body_bytes: config.max_body_bytes,
                ..Limits::default()
            })
            .routes(routes)
            .openapi(OPENAPI_JSON))
    }
}
