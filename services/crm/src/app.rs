//! Process wiring: pool, migrations, listener and router in [`Application::build`]; the HTTP
//! server, the outbox relay and the status-event consumer in [`Application::run`].

use crate::config::Config;
use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::routes::{router, AppState};
use crate::status_events::StatusEventHandler;
use anyhow::Context;
use axum::Router;
use printflow_messaging::topology::CRM_ORDER_STATUS_CHANGED;
use printflow_messaging::{
    run_consumer, Broker, MessagingMetrics, OutboxRelay, OutboxSignal, Publisher,
};
use printflow_metrics::Metrics;
use sqlx::postgres::PgPoolOptions;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A built, not yet running CRM.
pub struct Application {
    /// Bound listener (port 0 resolved).
    listener: TcpListener,
    /// Its port.
    port: u16,
    /// The full router.
    router: Router,
    /// Database handle for the background tasks.
    db: Db,
    /// RabbitMQ handle (connects lazily, reconnects after outages).
    broker: Arc<Broker>,
    /// Shared with the handlers; wakes the relay after commits.
    outbox: OutboxSignal,
    /// Order metrics, observed by the status-event consumer.
    metrics: CrmMetrics,
    /// Consumer and relay counters.
    messaging_metrics: MessagingMetrics,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database, migrates it and binds the HTTP port. The broker is not needed
    /// yet: orders are accepted while it is down (their events wait in the outbox).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let pool = PgPoolOptions::new()
            .max_connections(config.database_max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&config.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        crate::migrate(&pool)
            .await
            .context("migrating the CRM database")?;
        let db = Db {
            pool,
            query_timeout: config.query_timeout,
        };
        let broker = Broker::new(config.amqp_url.clone(), "printflow-crm");
        let outbox = OutboxSignal::default();
        let listener = TcpListener::bind((config.http_host.as_str(), config.http_port))
            .await
            .with_context(|| format!("binding {}:{}", config.http_host, config.http_port))?;
        let port = listener.local_addr()?.port();
        // One registry per application, served at `GET /metrics`.
        let registry = Metrics::new();
        let messaging_metrics = MessagingMetrics::register(&registry);
        messaging_metrics.watch_outbox(&registry, db.pool.clone());
        let metrics = CrmMetrics::register(&registry, db.pool.clone(), config.status_limits);
        let router = router(
            AppState {
                db: db.clone(),
                outbox: outbox.clone(),
                metrics: metrics.clone(),
            },
            broker.clone(),
            &registry,
        );
        Ok(Application {
            listener,
            port,
            router,
            db,
            broker,
            outbox,
            metrics,
            messaging_metrics,
        })
    }

    /// The bound HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves HTTP and runs the outbox relay and the status-event consumer until `shutdown`
    /// resolves; then stops the background tasks. A message being handled at that moment is not
    /// acked and is redelivered to the next instance.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let relay = OutboxRelay::new(
            self.db.pool.clone(),
            Publisher::new(self.broker.clone()),
            self.outbox.clone(),
            self.messaging_metrics.clone(),
        );
        let relay_task = tokio::spawn(relay.run(stop.clone().cancelled_owned()));
        let consumer_task = tokio::spawn(run_consumer(
            self.broker.clone(),
            CRM_ORDER_STATUS_CHANGED,
            Arc::new(StatusEventHandler::new(
                self.db.clone(),
                self.metrics.clone(),
            )),
            self.messaging_metrics.clone(),
            stop.clone().cancelled_owned(),
        ));
        let served = printflow_web::server::serve(self.listener, self.router, shutdown).await;
        stop.cancel();
        let _ = relay_task.await;
        let _ = consumer_task.await;
        served.context("HTTP server")
    }
}
