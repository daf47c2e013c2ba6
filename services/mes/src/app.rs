//! Start-up and the run loop: HTTP server, `order.created` consumer, outbox relay, scheduler.

use crate::config::Config;
use crate::jobs::intake::OrderIntake;
use crate::jobs::verify::ModelVerifier;
use crate::metrics::MesMetrics;
use crate::routes::{self, AppState};
use crate::scheduler::Scheduler;
use crate::shop_client::ShopClient;
use anyhow::Context;
use printflow_messaging::topology::MES_ORDER_CREATED;
use printflow_messaging::{
    run_consumer, Broker, MessagingMetrics, OutboxRelay, OutboxSignal, Publisher,
};
use printflow_metrics::Metrics;
use printflow_web::server::{database_check, health_routes, with_common_layers, Check, Limits};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A built, not yet running MES.
#[derive(Debug)]
pub struct Application {
    /// The bound port (the real one when the config asked for 0).
    port: u16,
    /// The bound listener.
    listener: TcpListener,
    /// The full router.
    router: axum::Router,
    /// MES database.
    pool: PgPool,
    /// RabbitMQ handle.
    broker: Arc<Broker>,
    /// Shared with the handlers, the consumer, the scheduler and the relay.
    signal: OutboxSignal,
    /// The configuration it was built from.
    config: Config,
    /// Consumer and relay counters (registered in the application's registry).
    messaging_metrics: MessagingMetrics,
}

impl Application {
    /// Connects to the database, migrates it, creates the printers and binds the HTTP port.
    /// Nothing runs in the background until [`Application::run`].
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&config.database_url)
            .await
            .context("connect to the MES database")?;
        crate::migrate(&pool)
            .await
            .context("migrate the MES database")?;
        crate::printers::ensure_printers(&pool, config.printers)
            .await
            .context("create printers")?;
        let listener = TcpListener::bind((config.http_host.as_str(), config.http_port))
            .await
            .with_context(|| format!("bind {}:{}", config.http_host, config.http_port))?;
        let port = listener.local_addr()?.port();
        let broker = Broker::new(config.amqp_url.clone(), "printflow-mes");
        let signal = OutboxSignal::default();
        let state = AppState {
            pool: pool.clone(),
            production: Arc::new(config.production.clone()),
            signal: signal.clone(),
        };
        let broker_check: Check = {
            let broker = broker.clone();
            Arc::new(move || {
                let broker = broker.clone();
                Box::pin(async move { broker.check().await })
            })
        };
        let router = routes::router(state).merge(health_routes(vec![
            ("database", database_check(pool.clone())),
            ("broker", broker_check),
        ]));
        // One registry per application, served at `GET /metrics`.
        let metrics = Metrics::new();
        let messaging_metrics = MessagingMetrics::register(&metrics);
        messaging_metrics.watch_outbox(&metrics, pool.clone());
        MesMetrics::register(&metrics, pool.clone());
        let router = with_common_layers(router, Limits::default(), &metrics);
        Ok(Application {
            port,
            listener,
            router,
            pool,
            broker,
            signal,
            config,
            messaging_metrics,
        })
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves HTTP and runs the consumer, relay and scheduler until `shutdown` resolves, then
    /// stops them all and waits for them.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        {
            let token = token.clone();
            tokio::spawn(async move {
                shutdown.await;
                token.cancel();
            });
        }
        let production = Arc::new(self.config.production.clone());

        let intake = Arc::new(OrderIntake {
            pool: self.pool.clone(),
            production: production.clone(),
            signal: self.signal.clone(),
        });
        let consumer = tokio::spawn(run_consumer(
            self.broker.clone(),
            MES_ORDER_CREATED,
            intake,
            self.messaging_metrics.clone(),
            token.clone().cancelled_owned(),
        ));

        let relay = OutboxRelay::new(
            self.pool.clone(),
            Publisher::new(self.broker.clone()),
            self.signal.clone(),
            self.messaging_metrics.clone(),
        );
        let relay = tokio::spawn(relay.run(token.clone().cancelled_owned()));

        let scheduler = Scheduler {
            pool: self.pool.clone(),
            production: production.clone(),
            signal: self.signal.clone(),
            verifier: ModelVerifier {
                pool: self.pool.clone(),
                shop: ShopClient::new(self.config.shop_url.clone(), self.config.shop_timeout),
                production,
                signal: self.signal.clone(),
                lease: self.config.shop_timeout + Duration::from_secs(10),
            },
            tick: self.config.tick,
        };
        let scheduler = tokio::spawn(scheduler.run(token.clone()));

        let served = printflow_web::server::serve(
            self.listener,
            self.router,
            token.clone().cancelled_owned(),
        )
        .await;
        // However the server ended, stop the background tasks and wait for them to finish
        // their current step (transactions commit or roll back, nothing is cut half-way).
        token.cancel();
        for task in [consumer, relay, scheduler] {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "background task panicked");
            }
        }
        self.pool.close().await;
        served.context("HTTP server failed")
    }
}
