//! Start-up: what the CRM adds to the shared runtime — its database and broker, its routes, the
//! outbox relay and the `order.status_changed` consumer.

use crate::config::Config;
use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::reconcile::mes_client::MesClient;
use crate::reconcile::Reconciler;
use crate::routes::{self, openapi::OPENAPI_JSON};
use crate::state::AppState;
use crate::status_events::StatusEventHandler;
use anyhow::Context;
use printflow_auth::ServiceToken;
use printflow_messaging::topology::CRM_ORDER_STATUS_CHANGED;
use printflow_messaging::OutboxSignal;
use printflow_runtime::{Runtime, Service};
use printflow_web::config::{ConfigError, ConfigSource};
use std::sync::Arc;

/// The CRM service (see [`Service`]).
#[derive(Debug)]
pub struct Crm;

/// A built, not yet running CRM: `Application::build(config)`, `port()`, `run(shutdown)`. The
/// broker is not needed to build it: orders are accepted while it is down (their events wait in
/// the outbox).
pub type Application = printflow_runtime::Application<Crm>;

impl Service for Crm {
    const NAME: &'static str = "crm-api";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Config = Config;

    fn config(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        Config::from_source(src)
    }

    async fn runtime(config: Config) -> anyhow::Result<Runtime> {
        let mut runtime = Runtime::new(&config.http, &config.auth, Self::NAME).await?;
        let pool = runtime.database(&config.database, &crate::SCHEMA).await?;
        let messaging =
            runtime.messaging(&config.broker, "printflow-crm", &[CRM_ORDER_STATUS_CHANGED]);
        let db = Db::new(pool.clone(), &config.database, config.query_timeout)
            .context("the read pool's connection options")?;
        let faults = runtime.faults(&config.faults, crate::faults::FAULTS);
        let outbox = OutboxSignal::default();
        let metrics = CrmMetrics::register(runtime.metrics(), pool.clone(), config.status_limits);
        let mes = MesClient::new(
            &config.mes_url,
            config.mes_timeout,
            Arc::new(ServiceToken::new(config.client.clone())),
        );
        let reconciler = Reconciler::new(db.clone(), mes, config.reconcile, runtime.metrics());
        let state = AppState {
            db: db.clone(),
            outbox: outbox.clone(),
            metrics: metrics.clone(),
            faults: faults.clone(),
            reconciler: reconciler.clone(),
        };
        let routes = routes::router(state, runtime.auth());
        Ok(runtime
            .routes(routes)
            .openapi(OPENAPI_JSON)
            .outbox_relay(&messaging, &pool, outbox, &config.outbox)
            .task("reconciler", move |stop| {
                reconciler.run(stop.cancelled_owned())
            })
            .consumer(
                &messaging,
                CRM_ORDER_STATUS_CHANGED,
                Arc::new(StatusEventHandler::new(db, metrics, faults)),
            ))
    }
}
