//! The consume loop. A handler decides; the loop does the acknowledging:
//!
//! | handler returns        | loop does                                                        |
//! |------------------------|------------------------------------------------------------------|
//! | `Ok(())`               | ack (the handler has committed its database work by then)         |
//! | `Err(Poison(reason))`  | publish to the dead-letter queue with the reason header, then ack |
//! | `Err(Transient(_))`    | short back-off ([`REQUEUE_BACKOFF`]), then nack with requeue; the |
//! |                        | queue's delivery limit dead-letters it if it keeps failing        |
//!
//! A lost connection is re-established with back-off ([`RECONNECT_BACKOFF`]); the loop only ends
//! at shutdown.
//!
//! Up to [`CONCURRENCY`] deliveries are handled at once. Handlers must therefore be safe against
//! themselves, as they must be anyway for several instances on one queue: CRM locks the order
//! row before applying a status event, MES serialises an order's intake and cancellation with
//! an advisory lock, and both key what they apply so a redelivery changes nothing.
//!
//! Every handled delivery counts in `printflow_messages_consumed_total{queue, outcome}`, every
//! message parked on the dead-letter queue in `printflow_messages_dead_lettered_total{queue}`.

use crate::backoff::Backoff;
use crate::broker::Broker;
use crate::metrics::{ConsumeOutcome, MessagingMetrics};
use crate::publisher::{OutgoingMessage, Publisher};
use crate::topology::{QueueSpec, DEAD_LETTER_EXCHANGE};
use futures::TryStreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Header naming why a message was dead-lettered by a consumer.
pub const REASON_HEADER: &str = "x-printflow-dead-letter-reason";
/// Header naming the queue a dead-lettered message came from.
pub const ORIGIN_QUEUE_HEADER: &str = "x-printflow-original-queue";

/// A delivered message, decoupled from the AMQP client's types.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// Raw body.
    pub body: Vec<u8>,
    /// String-valued headers (others are dropped).
    pub headers: BTreeMap<String, String>,
    /// AMQP `message-id`.
    pub message_id: Option<String>,
    /// Routing key it was published with.
    pub routing_key: String,
    /// Queue it was consumed from.
    pub queue: &'static str,
    /// The broker's redelivered flag.
    pub redelivered: bool,
    /// Earlier delivery attempts (quorum queues' `x-delivery-count`; 0 on first delivery).
    pub delivery_count: i64,
}

/// What went wrong handling a message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandleError {
    /// The message can never be processed (unparseable, unknown version, impossible content).
    #[error("poison message: {0}")]
    Poison(String),
    /// Processing failed for a reason that may pass (database down, dependency timeout).
    #[error("transient failure: {0}")]
    Transient(String),
}

/// Processes one message. Must commit its own work before returning `Ok`.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles `msg`.
    async fn handle(&self, msg: &IncomingMessage) -> Result<(), HandleError>;
}

/// How many unacknowledged messages the broker may push to one consumer.
const PREFETCH: u16 = 32;

/// How many deliveries one consumer handles at once. One at a time, CRM applied status events
/// at about 150/s on the 2-core benchmark machine, each waiting for its own commit's disk flush,
/// while MES produced them faster (docs/benchmarks.md); handled side by side, the commits share
/// flushes. At 8, CRM fell behind MES at about 45 orders/s (six events each), its lag growing
/// by seconds a minute; at 16 and more it kept up. Half the prefetch, so the next messages are
/// already there when one finishes; under the services' database pools (24 for CRM and MES),
/// which the relay, the scheduler and HTTP requests share.
pub const CONCURRENCY: usize = 16;

/// Wait before reconnecting after the channel was lost `n` times in a row: 200 ms doubling to
/// 5 s, so a restarting broker is not hammered but a short blip costs little.
pub const RECONNECT_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5));

/// Pause before requeueing a message whose handler failed transiently, by delivery attempt:
/// 100 ms doubling to 2 s. It keeps a failing message from spinning through the queue while the
/// dependency recovers; the queue's delivery limit bounds the attempts.
pub const REQUEUE_BACKOFF: Backoff =
    Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2));

/// Consumes `queue` until `shutdown` resolves, counting every handled delivery and every
/// dead-lettering in `metrics`.
pub async fn run_consumer<H: Handler>(
    broker: Arc<Broker>,
    queue: QueueSpec,
    handler: Arc<H>,
    metrics: MessagingMetrics,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    metrics.start_queue(queue.name);
    let dead_letters = Publisher::new(broker.clone());
    let mut failures: u32 = 0;
    loop {
        let session = consume_session(
            &broker,
            queue,
            &*handler,
            &dead_letters,
            &metrics,
            &mut failures,
        );
        tokio::select! {
            _ = &mut shutdown => return,
            result = session => {
                if let Err(e) = result {
                    failures = failures.saturating_add(1);
                    tracing::warn!(queue = queue.name, error = %e, "consumer lost its channel; reconnecting");
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(RECONNECT_BACKOFF.delay(failures)) => {}
        }
    }
}

async fn consume_session<H: Handler>(
    broker: &Broker,
    queue: QueueSpec,
    handler: &H,
    dead_letters: &Publisher,
    metrics: &MessagingMetrics,
    failures: &mut u32,
) -> Result<(), crate::error::MessagingError> {
    let channel = broker.channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let tag = format!("{}-{}", queue.name, uuid::Uuid::new_v4().simple());
    let consumer = channel
        .basic_consume(
            queue.name.into(),
            tag.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = queue.name, "consuming");
    *failures = 0;
    consumer
        .map_err(crate::error::MessagingError::from)
        .try_for_each_concurrent(CONCURRENCY, |delivery| {
            process(queue, handler, dead_letters, metrics, delivery)
        })
        .await?;
    Err(crate::error::MessagingError::Timeout(
        "consumer stream ended",
    ))
}

async fn process<H: Handler>(
    queue: QueueSpec,
    handler: &H,
    dead_letters: &Publisher,
    metrics: &MessagingMetrics,
    delivery: Delivery,
) -> Result<(), crate::error::MessagingError> {
    let msg = incoming(queue, &delivery);
    let span = consumer_span(&msg, delivery.exchange.as_str());
    let result = handler.handle(&msg).instrument(span.clone()).await;
    metrics.consumed(
        queue.name,
        match &result {
            Ok(()) => ConsumeOutcome::Ok,
            Err(HandleError::Poison(_)) => ConsumeOutcome::Poison,
            Err(HandleError::Transient(_)) => ConsumeOutcome::Transient,
        },
    );
    match result {
        Ok(()) => {
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Err(HandleError::Poison(reason)) => {
            let _entered = span.enter();
            tracing::warn!(queue = queue.name, message_id = ?msg.message_id, %reason, "dead-lettering poison message");
            // The dead-lettering is part of this message's trace: an event with the reason, and
            // the span fails. The message keeps its original headers, so its trace context too.
            span.record("messaging.rabbitmq.dead_lettered", true);
            tracing::info!(
                messaging.rabbitmq.dead_letter.reason = %reason,
                messaging.rabbitmq.dead_letter.queue = %queue.dead_letter_queue(),
                "message dead-lettered"
            );
            printflow_telemetry::record_error(&span, "poison_message", &reason);
            drop(_entered);
            let mut headers = msg.headers.clone();
            headers.insert(REASON_HEADER.to_owned(), reason);
            headers.insert(ORIGIN_QUEUE_HEADER.to_owned(), queue.name.to_owned());
            let out = OutgoingMessage {
                exchange: DEAD_LETTER_EXCHANGE.to_owned(),
                routing_key: queue.name.to_owned(),
                message_id: msg.message_id.clone().unwrap_or_default(),
                body: msg.body.clone(),
                headers,
            };
            match dead_letters.publish(out).await {
                Ok(()) => {
                    metrics.dead_lettered(queue.name);
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Err(e) => {
                    // Never drop a message we could not park: give it back to the queue.
                    tracing::warn!(error = %e, "could not dead-letter; requeueing");
                    delivery.nack(requeue()).await?;
                }
            }
        }
        Err(HandleError::Transient(reason)) => {
            tracing::warn!(queue = queue.name, message_id = ?msg.message_id, %reason, attempt = msg.delivery_count + 1, "transient failure; requeueing");
            printflow_telemetry::record_error(&span, "transient_failure", &reason);
            let attempt = u32::try_from(msg.delivery_count.saturating_add(1)).unwrap_or(u32::MAX);
            tokio::time::sleep(REQUEUE_BACKOFF.delay(attempt)).await;
            delivery.nack(requeue()).await?;
        }
    }
    Ok(())
}

/// A CONSUMER span for one delivery, child of the producer's context carried in the headers.
/// A redelivery is processed in the same trace, and says so in `messaging.rabbitmq.delivery_count`.
fn consumer_span(msg: &IncomingMessage, exchange: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "messaging.process",
        otel.name = %format!("process {}", msg.queue),
        otel.kind = "consumer",
        messaging.system = crate::context::SYSTEM,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %exchange,
        messaging.destination.subscription.name = %msg.queue,
        messaging.rabbitmq.destination.routing_key = %msg.routing_key,
        messaging.message.id = msg.message_id.as_deref().unwrap_or_default(),
        messaging.message.body.size = msg.body.len() as i64,
        messaging.rabbitmq.delivery_count = msg.delivery_count,
        messaging.rabbitmq.dead_lettered = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    printflow_telemetry::propagation::set_parent_from(&span, &msg.headers);
    span
}

fn requeue() -> BasicNackOptions {
    BasicNackOptions {
        requeue: true,
        ..Default::default()
    }
}

fn incoming(queue: QueueSpec, d: &Delivery) -> IncomingMessage {
    let mut headers = BTreeMap::new();
    let mut delivery_count = 0;
    if let Some(table) = d.properties.headers() {
        for (k, v) in table.inner() {
            match v {
                AMQPValue::LongString(s) => {
                    headers.insert(k.to_string(), s.to_string());
                }
                AMQPValue::ShortString(s) => {
                    headers.insert(k.to_string(), s.to_string());
                }
                AMQPValue::LongLongInt(n) if k.as_str() == "x-delivery-count" => {
                    delivery_count = *n
                }
                AMQPValue::LongInt(n) if k.as_str() == "x-delivery-count" => {
                    delivery_count = i64::from(*n)
                }
                _ => {}
            }
        }
    }
    IncomingMessage {
        body: d.data.clone(),
        headers,
        message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
        routing_key: d.routing_key.to_string(),
        queue: queue.name,
        redelivered: d.redelivered,
        delivery_count,
    }
}
