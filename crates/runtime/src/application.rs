//! [`Application`]: a built service, and its one shutdown.

use anyhow::Context;
use axum::Router;
use futures::future::BoxFuture;
use printflow_messaging::Broker;
use sqlx::PgPool;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A background task waiting to be started with the shutdown token.
pub(crate) struct Task {
    /// Its name in logs.
    pub(crate) name: &'static str,
    /// Starts it.
    pub(crate) start: Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>,
}

/// A built, not yet running service: listener bound, database migrated, routes assembled.
/// `S` is the [`crate::Service`] it was built for (`()` when assembled by hand with
/// [`crate::Runtime::finish`]).
pub struct Application<S = ()> {
    /// The bound listener.
    listener: TcpListener,
    /// Its port (the real one when the settings asked for 0).
    port: u16,
    /// Further named listeners serving the same router (the gate's OTLP ports).
    also: Vec<(&'static str, TcpListener)>,
    /// The full router.
    router: Router,
    /// Closed after the background tasks stopped.
    pool: Option<PgPool>,
    /// Closed after the background tasks stopped, before the pool: closing the connection
    /// hands every message delivered but not acked back to the queue at once, instead of when
    /// the broker notices the process is gone.
    broker: Option<Arc<Broker>>,
    /// Started by [`Application::run`].
    tasks: Vec<Task>,
    /// Which service this is.
    service: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for Application<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field(
                "tasks",
                &self.tasks.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<S> Application<S> {
    /// Assembled by [`crate::Runtime::finish`].
    pub(crate) fn new(
        listener: TcpListener,
        also: Vec<(&'static str, TcpListener)>,
        router: Router,
        pool: Option<PgPool>,
        broker: Option<Arc<Broker>>,
        tasks: Vec<Task>,
    ) -> Application<S> {
        let port = listener.local_addr().map_or(0, |a| a.port());
        Application {
            listener,
            port,
            also,
            router,
            pool,
            broker,
            tasks,
            service: PhantomData,
        }
    }

    /// The bound HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the further listener `name` (see [`crate::Runtime::also_listen`]).
    pub fn port_of(&self, name: &str) -> Option<u16> {
        self.also
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, l)| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// Runs the application on a task of its own until the returned handle is dropped: what a
    /// test that only needs the service answering on its port calls.
    pub fn spawn(self) -> Spawned
    where
        S: Send + 'static,
    {
        let base_url = format!("http://127.0.0.1:{}", self.port);
        let also = self
            .also
            .iter()
            .filter_map(|(name, l)| Some((*name, format!("http://{}", l.local_addr().ok()?))))
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(self.run(async move {
            // Resolves when the sender is dropped as well as when it sends.
            let _ = stopped.await;
        }));
        Spawned {
            base_url,
            also,
            _stop: stop,
        }
    }

    /// Serves HTTP and runs the background tasks until `shutdown` resolves. Then, in order:
    /// the server stops accepting and finishes in-flight requests while every background task
    /// is told to stop (one cancellation token); both are waited for; the pool is closed last,
    /// so no task loses its connection half-way through a transaction. A message being handled
    /// at that moment is not acked and is redelivered to the next instance.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        let running: Vec<_> = self
            .tasks
            .into_iter()
            .map(|task| (task.name, tokio::spawn((task.start)(token.clone()))))
            .collect();
        let stop = token.clone();
        let signal = async move {
            shutdown.await;
            stop.cancel();
        };
        // The further listeners serve the same router and stop with the main one.
        let others: Vec<_> = self
            .also
            .into_iter()
            .map(|(name, listener)| {
                let stop = token.clone();
                let served = axum::serve(listener, self.router.clone())
                    .with_graceful_shutdown(stop.cancelled_owned());
                (name, tokio::spawn(async move { served.await }))
            })
            .collect();
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await;
        // However the server ended (asked to, or failed), stop the background tasks and wait for
        // them to finish their current step.
        token.cancel();
        for (name, handle) in others {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(listener = name, error = %e, "listener failed"),
                Err(e) => tracing::error!(listener = name, error = %e, "listener panicked"),
            }
        }
        for (name, handle) in running {
            if let Err(e) = handle.await {
                tracing::error!(task = name, error = %e, "background task panicked");
            }
        }
        if let Some(broker) = self.broker {
            broker.close().await;
        }
        if let Some(pool) = self.pool {
            pool.close().await;
        }
        served.context("HTTP server")
    }
}

/// An application running on a task of its own ([`Application::spawn`]); dropping it shuts the
/// application down.
#[derive(Debug)]
pub struct Spawned {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The base URLs of the further listeners, by name.
    pub also: Vec<(&'static str, String)>,
    /// Dropped with the handle, which resolves the application's shutdown future.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Spawned {
    /// The base URL of the further listener `name`.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.also
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, url)| url.as_str())
    }
}
