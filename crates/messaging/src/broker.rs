//! One AMQP connection per process, re-established on demand after the broker went away, to
//! whichever node of a cluster answers.

use crate::error::MessagingError;
use crate::topology::{self, QueueSpec, ALL_QUEUES};
use lapin::{Channel, Connection, ConnectionProperties};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A handle to RabbitMQ shared by the publisher and the consumers of a service.
pub struct Broker {
    /// `amqp://user:pass@host:port/vhost`, one per node of a cluster (at least one).
    endpoints: Vec<String>,
    /// The endpoint tried first on the next connect: the last one that worked, so a client
    /// stays on a live node and moves on only when it fails.
    preferred: AtomicUsize,
    /// Shown in the management UI's connection list.
    connection_name: String,
    /// The work queues this handle declares (with their dead-letter queues) besides the
    /// exchanges: a service declares the queues it consumes, so its broker user needs no rights
    /// on the others' (config/rabbitmq/permissions).
    queues: Vec<QueueSpec>,
    /// The live connection, if any. A mutex (not a lock-free cell) so that concurrent callers
    /// after an outage trigger one reconnect, not one each.
    conn: Mutex<Option<Arc<Connection>>>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("connection_name", &self.connection_name)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// A broker handle declaring the whole topology (tools and tests); connects lazily.
    pub fn new(url: impl Into<String>, connection_name: impl Into<String>) -> Arc<Self> {
        Broker::owning(url, connection_name, &ALL_QUEUES)
    }

    /// A broker handle declaring the exchanges and `queues` (the ones its service consumes);
    /// connects lazily. `url` may list several nodes of one cluster separated by commas
    /// (`amqp://u:p@127.0.0.1:5701/v,amqp://u:p@127.0.0.1:5702/v`): a connect tries them in
    /// turn, starting with the one that worked last. Events for a queue nobody declared yet are not lost: publishes are
    /// `mandatory`, so they stay in the outbox until the consuming service has declared it.
    pub fn owning(
        url: impl Into<String>,
        connection_name: impl Into<String>,
        queues: &[QueueSpec],
    ) -> Arc<Self> {
        let url = url.into();
        let mut endpoints: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        if endpoints.is_empty() {
            // Connecting then fails with lapin's own message about the empty URL.
            endpoints.push(url);
        }
        Arc::new(Broker {
            endpoints,
            preferred: AtomicUsize::new(0),
            connection_name: connection_name.into(),
            queues: queues.to_vec(),
            conn: Mutex::new(None),
        })
    }

    /// The current connection, connecting (and declaring the topology) if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, MessagingError> {
        let mut guard = self.conn.lock().await;
        if let Some(conn) = guard.as_ref() {
            if conn.status().connected() {
                return Ok(conn.clone());
            }
        }
        *guard = None;
        let first = self.preferred.load(Ordering::Relaxed);
        let mut last_error = None;
        for i in 0..self.endpoints.len() {
            let index = (first + i) % self.endpoints.len();
            match self.connect_to(&self.endpoints[index]).await {
                Ok(conn) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    tracing::info!(
                        name = %self.connection_name,
                        endpoint = %redacted(&self.endpoints[index]),
                        "connected to RabbitMQ"
                    );
                    let conn = Arc::new(conn);
                    *guard = Some(conn.clone());
                    return Ok(conn);
                }
                Err(e) => {
                    if self.endpoints.len() > 1 {
                        tracing::warn!(endpoint = %redacted(&self.endpoints[index]), error = %e, "RabbitMQ node unreachable; trying the next");
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or(MessagingError::Timeout("connect")))
    }

    /// Connects to one node and declares the topology there.
    async fn connect_to(&self, url: &str) -> Result<Connection, MessagingError> {
        let props = ConnectionProperties::default()
            .with_connection_name(self.connection_name.clone().into());
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, props))
            .await
            .map_err(|_| MessagingError::Timeout("connect"))??;
        let channel = conn.create_channel().await?;
        topology::declare(&channel, &self.queues).await?;
        let _ = channel.close(200, "topology declared".into()).await;
        Ok(conn)
    }

    /// A new channel on the current connection.
    pub async fn channel(&self) -> Result<Channel, MessagingError> {
        let conn = self.connection().await?;
        match conn.create_channel().await {
            Ok(ch) => Ok(ch),
            Err(e) => {
                // The connection object said "connected" but cannot open channels: drop it so
                // the next call reconnects.
                self.conn.lock().await.take();
                Err(e.into())
            }
        }
    }

    /// Closes the connection, if any, and waits (at most 5 s) for the broker to confirm. Called on
    /// shutdown once the consumers stopped: a consumer dropped mid-session is cancelled in the
    /// background, and messages already pushed to it would otherwise wait, unacked, for the
    /// connection to die. Closing returns them to their queues now. Later calls reconnect.
    pub async fn close(&self) {
        let conn = self.conn.lock().await.take();
        if let Some(conn) = conn {
            if conn.status().connected() {
                let closing = conn.close(200, "shutting down".into());
                match tokio::time::timeout(Duration::from_secs(5), closing).await {
                    Ok(Ok(())) => {
                        tracing::info!(name = %self.connection_name, "closed the RabbitMQ connection")
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "closing the RabbitMQ connection failed")
                    }
                    Err(_) => tracing::warn!("closing the RabbitMQ connection timed out"),
                }
            }
        }
    }

    /// Whether a connection is up right now (connects if needed); used by `/readyz`.
    pub async fn check(&self) -> Result<(), String> {
        self.connection()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// `url` without its user information, for logs: `amqp://127.0.0.1:5672/vhost`.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_separated_url_lists_the_nodes_of_a_cluster() {
        let broker = Broker::new(
            "amqp://u:p@127.0.0.1:5701/v, amqp://u:p@127.0.0.1:5702/v,,",
            "test",
        );
        assert_eq!(
            broker.endpoints,
            ["amqp://u:p@127.0.0.1:5701/v", "amqp://u:p@127.0.0.1:5702/v"]
        );
        assert_eq!(
            Broker::new("amqp://127.0.0.1", "t").endpoints,
            ["amqp://127.0.0.1"]
        );
    }

    #[test]
    fn logged_endpoints_carry_no_credentials() {
        assert_eq!(
            redacted("amqp://user:secret@127.0.0.1:5672/%2f"),
            "amqp://127.0.0.1:5672/%2f"
        );
        assert_eq!(redacted("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
    }
}
