//! RabbitMQ plumbing shared by CRM and MES, written once so the delivery guarantees are the same
//! everywhere:
//!
//! - [`topology`]: exchanges, quorum work queues with bounded redelivery, and a dead-letter queue
//!   per work queue; declared idempotently by every service at connect time.
//! - [`broker::Broker`]: one reconnecting connection per process.
//! - [`publisher::Publisher`]: persistent messages, publisher confirms, `mandatory` routing.
//! - [`outbox`]: rows written in the caller's transaction, relayed after commit and marked sent
//!   only once the broker confirmed them.
//! - [`consumer`]: the consume loop; a handler answers ok / poison / transient, and the loop
//!   acks, dead-letters with the reason in a header, or requeues.
//! - [`metrics`]: what the consume loop and the relay count, and the outbox backlog gauges read
//!   at scrape time; the service registers them once ([`MessagingMetrics::register`]) and passes
//!   the handle to [`run_consumer`] and [`OutboxRelay::new`].
//!
//! Errors: [`MessagingError`] for anything that talks to the broker; handlers return
//! [`consumer::HandleError`].

pub mod broker;
pub mod consumer;
pub mod context;
pub mod metrics;
pub mod outbox;
pub mod publisher;
pub mod topology;

pub use broker::Broker;
pub use consumer::{run_consumer, HandleError, Handler, IncomingMessage};
pub use metrics::MessagingMetrics;
pub use outbox::{OutboxRelay, OutboxSignal};
pub use publisher::{OutgoingMessage, Publisher};

/// A failure talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// The AMQP client reported an error (connection lost, channel closed, refused declare).
    #[error("amqp: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not confirm in time.
    #[error("timed out waiting for the broker: {0}")]
    Timeout(&'static str),
    /// The broker negatively acknowledged a publish.
    #[error("broker refused the message (nack)")]
    Nacked,
    /// `mandatory` publish with no queue bound to the routing key.
    #[error("message to `{0}` was unroutable")]
    Unroutable(String),
}
