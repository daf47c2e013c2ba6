//! Start-up: what MES adds to the shared runtime — its database (with the printers created) and
//! broker, its routes, and four background tasks: the `order.created` and `order.cancelled`
//! consumers, the outbox relay and the scheduler.

use crate::config::Config;
use crate::jobs::cancel::OrderCancellation;
use crate::jobs::intake::OrderIntake;
use crate::jobs::verify::ModelVerifier;
use crate::metrics::MesMetrics;
use crate::routes::{self, OPENAPI};
use crate::scheduler::Scheduler;
use crate::shop_client::ShopClient;
use crate::state::AppState;
use anyhow::Context;
use printflow_auth::ServiceToken;
use printflow_messaging::topology::{MES_ORDER_CANCELLED, MES_ORDER_CREATED};
use printflow_messaging::OutboxSignal;
use printflow_runtime::{Runtime, Service};
use printflow_web::config::{ConfigError, ConfigSource};
use std::sync::Arc;
use std::time::Duration;

/// The MES service (see [`Service`]).
#[derive(Debug)]
pub struct Mes;

/// A built, not yet running MES: `Application::build(config)`, `port()`, `run(shutdown)`.
pub type Application = printflow_runtime::Application<Mes>;

impl Service for Mes {
    const NAME: &'static str = "mes-api";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Config = Config;

    fn config(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        Config::from_source(src)
    }

    async fn runtime(config: Config) -> anyhow::Result<Runtime> {
        let mut runtime = Runtime::new(&config.http, &config.auth, Self::NAME).await?;
        let pool = runtime.database(&config.database, &crate::SCHEMA).await?;
        crate::printers::ensure_printers(&pool, config.printers)
            .await
            .context("create printers")?;
        let messaging = runtime.messaging(
            &config.broker,
            "printflow-mes",
            &[MES_ORDER_CREATED, MES_ORDER_CANCELLED],
        );
        MesMetrics::register(runtime.metrics(), pool.clone());
        // One signal, shared by the handlers, the consumer and the scheduler: whoever commits an
        // event wakes the relay.
        let signal = OutboxSignal::default();
        let production = Arc::new(config.production.clone());
        let state = AppState {
            pool: pool.clone(),
            production: production.clone(),
            signal: signal.clone(),
        };
        let intake = Arc::new(OrderIntake {
            pool: pool.clone(),
            production: production.clone(),
            signal: signal.clone(),
        });
        let cancellation = Arc::new(OrderCancellation {
            pool: pool.clone(),
            production: production.clone(),
            signal: signal.clone(),
        });
        let scheduler = Scheduler {
            pool: pool.clone(),
            production: production.clone(),
            signal: signal.clone(),
            verifier: ModelVerifier {
                pool: pool.clone(),
                shop: ShopClient::new(
                    config.shop_url.clone(),
                    config.shop_timeout,
                    Arc::new(ServiceToken::new(config.client.clone())),
                ),
                production,
                signal: signal.clone(),
                lease: config.shop_timeout + Duration::from_secs(10),
            },
            tick: config.tick,
        };
        runtime.faults(&config.faults, crate::faults::FAULTS);
        let routes = routes::router(state, runtime.auth());
        Ok(runtime
            .routes(routes)
            .openapi(OPENAPI)
            .consumer(&messaging, MES_ORDER_CREATED, intake)
            .consumer(&messaging, MES_ORDER_CANCELLED, cancellation)
            .outbox_relay(&messaging, &pool, signal, &config.outbox)
            .task("scheduler", move |stop| scheduler.run(stop)))
    }
}
