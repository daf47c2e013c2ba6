//! Start-up: what the gate adds to the shared runtime — its OTLP receivers (HTTP on the main
//! router and port 4318, gRPC on port 4317, one router), the forwarding task, the query side
//! and its metrics. It has no database and no broker.

use crate::audit::Audit;
use crate::config::Config;
use crate::console::{self, sources::Sources, ConsoleState};
use crate::forward::Forwarder;
use crate::grpc::GrpcIngest;
use crate::ingest::{export_traces, Ingest};
use crate::login::{bearer_from_session, Oidc};
use crate::metrics::GateMetrics;
use crate::query::{self, QueryState};
use anyhow::Context;
use axum::routing::post;
use axum::Router;
use printflow_auth::{RequireExt, Role};
use printflow_runtime::{Runtime, Service};
use printflow_web::config::{ConfigError, ConfigSource};
use printflow_web::server::Limits;
use std::sync::Arc;

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
        let runtime = Runtime::new(&config.http, &config.auth, Self::NAME)
            .await?
            .also_listen("otlp-grpc", &config.http.host, config.otlp_grpc_port)
            .await?
            .also_listen("otlp-http", &config.http.host, config.otlp_http_port)
            .await?;
        let metrics = GateMetrics::register(runtime.metrics());
        let http = printflow_web::client::http_client(config.forward_timeout);
        let forwarder = Forwarder::new(
            http.clone(),
            config.jaeger_otlp_url,
            config.buffer_spans,
            metrics.clone(),
        );
        let ingest = Ingest {
            redactor: Arc::new(config.redactor),
            forwarder: forwarder.clone(),
            metrics: metrics.clone(),
        };
        let grpc = GrpcIngest {
            auth: runtime.auth().clone(),
            ingest: ingest.clone(),
            max_message_bytes: config.max_body_bytes,
        };
        let otlp_http = Router::new()
            .route("/v1/traces", post(export_traces))
            .require(runtime.auth(), &[Role::TelemetryWriter])
            .with_state(ingest);
        let audit = Audit::open(config.audit_log.as_deref(), metrics.clone())
            .context("opening the audit log (GATE_AUDIT_LOG)")?;
        let oidc = Oidc::new(config.oidc, http.clone(), runtime.auth().clone());
        // The session layer is outside the token guard: it turns a browser's session cookie
        // into the bearer token the guard checks (routes() would put the guard outside).
        let state = QueryState {
            http: http.clone(),
            jaeger: config.jaeger_query_url,
            policy: Arc::new(config.policy),
            audit,
        };
        let sources = Sources {
            http,
            prometheus: config.prometheus_url,
            alertmanager: config.alertmanager_url,
            crm: config.crm_url,
        };
        let query = query::routes(state.clone())
            .merge(console::routes(ConsoleState {
                query: state,
                sources,
            }))
            .require(runtime.auth(), &[])
            .layer(axum::middleware::from_fn_with_state(
                oidc.clone(),
                bearer_from_session,
            ));
        let workers = config.forward_workers;
        Ok(runtime
            .limits(Limits {
                max_body_bytes: config.max_body_bytes,
                ..Limits::default()
            })
            .routes(otlp_http)
            .public_routes(query)
            .public_routes(oidc.routes())
            .public_routes(grpc.routes())
            .task("trace forwarding", move |stop| forwarder.run(workers, stop))
            .openapi(OPENAPI_JSON))
    }
}
