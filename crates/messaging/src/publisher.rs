//! Confirmed, persistent publishing.

use crate::broker::Broker;
use crate::error::MessagingError;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use lapin::{Confirmation, PublisherConfirm};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long a publish may wait for the broker's confirm before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// One message to publish.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Target exchange.
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// AMQP `message-id` property (the envelope's id).
    pub message_id: String,
    /// JSON body.
    pub body: Vec<u8>,
    /// Extra string headers (trace context, dead-letter reason).
    pub headers: BTreeMap<String, String>,
}

/// Publishes on a confirm-mode channel that is re-opened after failures.
pub struct Publisher {
    /// The shared connection.
    broker: Arc<Broker>,
    /// The confirm channel, opened lazily; `None` after an error so the next publish reopens it.
    channel: Mutex<Option<Channel>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher over `broker`.
    pub fn new(broker: Arc<Broker>) -> Arc<Self> {
        Arc::new(Publisher {
            broker,
            channel: Mutex::new(None),
        })
    }

    async fn confirm_channel(&self) -> Result<Channel, MessagingError> {
        let mut guard = self.channel.lock().await;
        if let Some(ch) = guard.as_ref() {
            if ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let ch = self.broker.channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *guard = Some(ch.clone());
        Ok(ch)
    }

    /// Sends the messages in order and waits until the broker confirmed each one. Returns how
    /// many leading messages were confirmed before the first failure, with that failure.
    ///
    /// All messages are sent before waiting, so a batch costs about one round trip.
    pub async fn publish_all(
        &self,
        messages: &[OutgoingMessage],
    ) -> (usize, Option<MessagingError>) {
        let channel = match self.confirm_channel().await {
            Ok(ch) => ch,
            Err(e) => return (0, Some(e)),
        };
        let mut pending: Vec<PublisherConfirm> = Vec::with_capacity(messages.len());
        let mut send_error = None;
        for msg in messages {
            match channel
                .basic_publish(
                    msg.exchange.as_str().into(),
                    msg.routing_key.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &msg.body,
                    properties(msg),
                )
                .await
            {
                Ok(confirm) => pending.push(confirm),
                Err(e) => {
                    send_error = Some(MessagingError::from(e));
                    break;
                }
            }
        }
        let mut confirmed = 0;
        for (msg, confirm) in messages.iter().zip(pending) {
            match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => confirmed += 1,
                Ok(Ok(Confirmation::Ack(Some(_returned)))) => {
                    return (
                        confirmed,
                        Some(MessagingError::Unroutable(msg.routing_key.clone())),
                    )
                }
                Ok(Ok(Confirmation::Nack(_))) => {
                    // A fresh channel for the retry: after a quorum queue's leader died, a
                    // channel of RabbitMQ 3.10 can keep refusing that queue's messages while
                    // a new one delivers them (seen in tests/e2e/tests/rabbitmq_cluster.rs).
                    self.channel.lock().await.take();
                    return (confirmed, Some(MessagingError::Nacked));
                }
                Ok(Ok(Confirmation::NotRequested)) => confirmed += 1,
                Ok(Err(e)) => {
                    self.channel.lock().await.take();
                    return (confirmed, Some(e.into()));
                }
                Err(_) => {
                    self.channel.lock().await.take();
                    return (
                        confirmed,
                        Some(MessagingError::Timeout("publisher confirm")),
                    );
                }
            }
        }
        if send_error.is_some() {
            self.channel.lock().await.take();
        }
        (confirmed, send_error)
    }

    /// Publishes one message and waits for its confirm.
    pub async fn publish(&self, message: OutgoingMessage) -> Result<(), MessagingError> {
        match self.publish_all(std::slice::from_ref(&message)).await {
            (1, None) => Ok(()),
            (_, Some(e)) => Err(e),
            (_, None) => Err(MessagingError::Nacked),
        }
    }
}

/// A PRODUCER span for `msg`, with the messaging semantic-convention attributes.
pub(crate) fn producer_span(msg: &OutgoingMessage) -> tracing::Span {
    tracing::info_span!(
        "messaging.publish",
        otel.name = %format!("publish {}", msg.routing_key),
        otel.kind = "producer",
        messaging.system = crate::context::SYSTEM,
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %msg.exchange,
        messaging.rabbitmq.destination.routing_key = %msg.routing_key,
        messaging.message.id = %msg.message_id,
        messaging.message.body.size = msg.body.len() as i64,
        error.type = tracing::field::Empty,
    )
}

fn properties(msg: &OutgoingMessage) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (k, v) in &msg.headers {
        headers.insert(k.clone().into(), AMQPValue::LongString(v.clone().into()));
    }
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(msg.message_id.clone().into())
        // A clock before 1970 is a broken clock; 0 says "unknown" rather than a far-future time.
        .with_timestamp(u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0))
        .with_headers(headers)
}
