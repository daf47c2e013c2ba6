//! One AMQP connection per process, re-established on demand after the broker went away.

use crate::error::MessagingError;
use crate::topology::{self, QueueSpec, ALL_QUEUES};
use lapin::{Channel, Connection, ConnectionProperties};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A handle to RabbitMQ shared by the publisher and the consumers of a service.
pub struct Broker {
    /// `amqp://user:pass@host:port/vhost`.
    url: String,
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
    /// connects lazily. Events for a queue nobody declared yet are not lost: publishes are
    /// `mandatory`, so they stay in the outbox until the consuming service has declared it.
    pub fn owning(
        url: impl Into<String>,
        connection_name: impl Into<String>,
        queues: &[QueueSpec],
    ) -> Arc<Self> {
        Arc::new(Broker {
            url: url.into(),
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
        let props = ConnectionProperties::default()
            .with_connection_name(self.connection_name.clone().into());
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            Connection::connect(&self.url, props),
        )
        .await
        .map_err(|_| MessagingError::Timeout("connect"))??;
        let channel = conn.create_channel().await?;
        topology::declare(&channel, &self.queues).await?;
        let _ = channel.close(200, "topology declared".into()).await;
        tracing::info!(name = %self.connection_name, "connected to RabbitMQ");
        let conn = Arc::new(conn);
        *guard = Some(conn.clone());
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
