//! [`Runtime`]: what a service's `app.rs` fills in — its routes, readiness checks and background
//! tasks — on top of the parts every service shares (listener, metrics registry, pool, broker).

use crate::application::{Application, Task};
use crate::health::{check_fn, database_check, health_routes, Check};
use crate::schema::Schema;
use crate::settings::{BrokerSettings, DatabaseSettings, HttpSettings, OutboxSettings};
use anyhow::Context;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use printflow_auth::{Auth, AuthSettings, RequireExt, Role};
use printflow_faults::{FaultSettings, FaultSpec, Faults};
use printflow_messaging::topology::QueueSpec;
use printflow_messaging::{
    run_consumer, Broker, Handler, MessagingMetrics, OutboxRelay, OutboxSignal, Publisher,
};
use printflow_metrics::Metrics;
use printflow_web::metrics::metrics_route;
use printflow_web::server::{with_common_layers, Limits};
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The RabbitMQ side of a service: one reconnecting broker handle and the messaging metrics,
/// registered once in the application's registry. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Messaging {
    /// The broker (connects lazily, reconnects after outages).
    pub broker: Arc<Broker>,
    /// Consumer and relay counters.
    pub metrics: MessagingMetrics,
}

/// A service being assembled. Start with [`Runtime::new`] (listener and metrics registry), add
/// the optional pieces a service needs ([`Runtime::database`], [`Runtime::messaging`]), list its
/// routes, checks and background tasks, then [`Runtime::finish`] into an [`Application`].
pub struct Runtime {
    /// The bound listener (port 0 resolved).
    listener: TcpListener,
    /// Further listeners serving the same router, by name ([`Runtime::also_listen`]).
    also: Vec<(&'static str, TcpListener)>,
    /// The application's registry, served at `GET /metrics`.
    metrics: Metrics,
    /// Verifies callers: every route added with [`Runtime::routes`] and `/metrics` need a token.
    auth: Auth,
    /// The database pool, closed last on shutdown; `None` for a service without a database.
    pool: Option<PgPool>,
    /// The broker handle ([`Runtime::messaging`]), closed on shutdown after the background tasks.
    broker: Option<Arc<Broker>>,
    /// Readiness checks, in the order they were added.
    checks: Vec<(&'static str, Check)>,
    /// The service's routes (state already applied), authenticated ones already guarded.
    routes: Router,
    /// Background tasks, started by [`Application::run`].
    tasks: Vec<Task>,
    /// Body size and request time limits of the common layers.
    limits: Limits,
    /// The service's drill faults ([`Runtime::faults`]); none until declared.
    faults: Option<Faults>,
    /// The service's OpenAPI document ([`Runtime::openapi`]), served with the fault routes
    /// added when the service declared faults.
    openapi: Option<&'static str>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("listener", &self.listener)
            .field(
                "checks",
                &self.checks.iter().map(|c| c.0).collect::<Vec<_>>(),
            )
            .field(
                "tasks",
                &self.tasks.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Binds the HTTP listener and creates the application's metrics registry and its
    /// authentication (`service` names it in `auth_failures_total`). Nothing is served until
    /// [`Application::run`].
    pub async fn new(
        http: &HttpSettings,
        auth: &AuthSettings,
        service: &'static str,
    ) -> anyhow::Result<Runtime> {
        let listener = TcpListener::bind((http.host.as_str(), http.port))
            .await
            .with_context(|| format!("binding {}:{}", http.host, http.port))?;
        let metrics = Metrics::new();
        let spans = printflow_telemetry::accounting::span_accounting();
        metrics.register(
            "otel_sdk_span_ended",
            "Sampled spans this process ended and handed to the batch processor",
            spans.ended.clone(),
        );
        metrics.register(
            "otel_sdk_exporter_span_exported",
            "Spans given to the OTLP exporter, by whether the export succeeded; ended minus exported is what the SDK dropped",
            spans.exported.clone(),
        );
        Ok(Runtime {
            listener,
            also: Vec::new(),
            auth: Auth::new(auth, service, &metrics),
            metrics,
            pool: None,
            broker: None,
            checks: Vec::new(),
            routes: Router::new(),
            tasks: Vec::new(),
            limits: Limits::default(),
            faults: None,
            openapi: None,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The application's registry: register the service's own metrics here.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Connects the pool, brings the schema up to date and adds the `database` readiness check.
    /// The pool is closed on shutdown after every background task stopped.
    pub async fn database(
        &mut self,
        settings: &DatabaseSettings,
        schema: &Schema,
    ) -> anyhow::Result<PgPool> {
        let pool = settings
            .pool_options(crate::settings::PING_IF_IDLE_FOR)
            .connect(&settings.url)
            .await
            .context("connecting to PostgreSQL")?;
        schema
            .migrate(&pool)
            .await
            .context("migrating the database")?;
        self.checks.push(("database", database_check(pool.clone())));
        self.pool = Some(pool.clone());
        Ok(pool)
    }

    /// Creates the broker handle (named `connection_name` in the broker's UI, declaring the
    /// exchanges and the work queues the service consumes, `queues`), registers the messaging
    /// metrics and adds the `broker` readiness check. Nothing connects yet: the service starts,
    /// and accepts work, while the broker is down.
    pub fn messaging(
        &mut self,
        settings: &BrokerSettings,
        connection_name: &str,
        queues: &[QueueSpec],
    ) -> Messaging {
        let broker = Broker::owning(settings.url.clone(), connection_name, queues);
        let metrics = MessagingMetrics::register(&self.metrics);
        let probe = broker.clone();
        self.broker = Some(broker.clone());
        self.checks.push((
            "broker",
            check_fn(move || {
                let broker = probe.clone();
                async move { broker.check().await }
            }),
        ));
        Messaging { broker, metrics }
    }

    /// Adds a named readiness check to `GET /readyz`.
    pub fn check(mut self, name: &'static str, check: Check) -> Runtime {
        self.checks.push((name, check));
        self
    }

    /// Binds `host:port` as a further listener named `name`, serving the same router: for a
    /// service reached on more than one well-known port (the telemetry gate's OTLP ports). Port
    /// 0 picks a free one ([`Application::port_of`]).
    pub async fn also_listen(
        mut self,
        name: &'static str,
        host: &str,
        port: u16,
    ) -> anyhow::Result<Runtime> {
        let listener = TcpListener::bind((host, port))
            .await
            .with_context(|| format!("binding {host}:{port} ({name})"))?;
        self.also.push((name, listener));
        Ok(self)
    }

    /// Replaces the default request limits (256 KiB bodies, 15 s): for a service whose clients
    /// send larger bodies by design (OTLP batches to the telemetry gate).
    pub fn limits(mut self, limits: Limits) -> Runtime {
        self.limits = limits;
        self
    }

    /// The service's authentication, for role checks on route groups
    /// ([`printflow_auth::RequireExt::require`]).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Adds the service's routes (with their state applied). Deny by default: each of them needs
    /// a verified caller, whatever role checks the service added inside.
    pub fn routes(mut self, routes: Router) -> Runtime {
        self.routes = self.routes.merge(routes.require(&self.auth, &[]));
        self
    }

    /// Adds routes anyone may call without a token (the Shop's catalog). Say why at the call.
    pub fn public_routes(mut self, routes: Router) -> Runtime {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Serves `document` (the service's hand-written OpenAPI) at `GET /openapi.json`, with the
    /// fault routes' operations added if the service declared faults.
    pub fn openapi(mut self, document: &'static str) -> Runtime {
        self.openapi = Some(document);
        self
    }

    /// Declares the drill faults the service can simulate (`specs`), armable by `admin` at
    /// `/admin/faults` when `settings` enable them; the outbox relay added afterwards drops rows
    /// for the `outbox.drop.<routing key>` faults among them. Returns the handle the service's
    /// failing hops ask ([`Faults::hit`]).
    pub fn faults(&mut self, settings: &FaultSettings, specs: &'static [FaultSpec]) -> Faults {
        let faults = Faults::new(settings.enabled, specs, &self.metrics);
        let routes = std::mem::take(&mut self.routes);
        self.routes = routes.merge(
            printflow_faults::routes::router(faults.clone()).require(&self.auth, &[Role::Admin]),
        );
        self.faults = Some(faults.clone());
        faults
    }

    /// Runs the outbox relay of `pool` as a background task (woken by `signal` after commits),
    /// exports its backlog as metrics, and purges rows sent longer ago than `outbox`'s retention
    /// (`printflow_messaging::outbox::run_purge`).
    pub fn outbox_relay(
        self,
        messaging: &Messaging,
        pool: &PgPool,
        signal: OutboxSignal,
        outbox: &OutboxSettings,
    ) -> Runtime {
        messaging.metrics.watch_outbox(&self.metrics, pool.clone());
        let relay = OutboxRelay::new(
            pool.clone(),
            Publisher::new(messaging.broker.clone()),
            signal,
            messaging.metrics.clone(),
        )
        .with_faults(self.faults.clone().unwrap_or_else(Faults::none));
        let (purge_pool, retention) = (pool.clone(), outbox.retention);
        self.task("outbox relay", move |stop| {
            relay.run(stop.cancelled_owned())
        })
        .task("outbox purge", move |stop| {
            printflow_messaging::outbox::run_purge(purge_pool, retention, stop.cancelled_owned())
        })
    }

    /// Consumes `queue` with `handler` as a background task.
    pub fn consumer<H: Handler>(
        self,
        messaging: &Messaging,
        queue: QueueSpec,
        handler: Arc<H>,
    ) -> Runtime {
        let (broker, metrics) = (messaging.broker.clone(), messaging.metrics.clone());
        self.task(queue.name, move |stop| {
            run_consumer(broker, queue, handler, metrics, stop.cancelled_owned())
        })
    }

    /// Adds a background task. `start` receives the shutdown token when [`Application::run`]
    /// begins; the task must return soon after the token is cancelled (finishing its current
    /// step: a transaction commits or rolls back, nothing is cut half-way).
    pub fn task<F, Fut>(mut self, name: &'static str, start: F) -> Runtime
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.push(Task {
            name,
            start: Box::new(move |token| Box::pin(start(token))),
        });
        self
    }

    /// The finished application: the routes with `/healthz`, `/readyz` (public), `GET /metrics`
    /// (`metrics-reader` only) and the common layers. `S` names the service (`()` for one
    /// assembled by hand).
    pub fn finish<S>(self) -> Application<S> {
        let metrics = metrics_route(&self.metrics).require(&self.auth, &[Role::MetricsReader]);
        let mut routes = self.routes;
        if let Some(document) = self.openapi {
            let document = match self.faults {
                Some(_) => Bytes::from(printflow_faults::routes::merge_openapi(document)),
                None => Bytes::from_static(document.as_bytes()),
            };
            routes = routes.route(
                "/openapi.json",
                get(
                    move || async move { ([(header::CONTENT_TYPE, "application/json")], document) },
                ),
            );
        }
        let router = with_common_layers(
            routes.merge(health_routes(self.checks)).merge(metrics),
            self.limits,
            &self.metrics,
        );
        Application::new(
            self.listener,
            self.also,
            router,
            self.pool,
            self.broker,
            self.tasks,
        )
    }
}
