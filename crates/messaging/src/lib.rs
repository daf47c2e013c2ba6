//! RabbitMQ plumbing shared by CRM and MES, written once so the delivery guarantees are the same
//! everywhere:
//!
//! - [`topology`]: exchanges, quorum work queues with bounded redelivery, and a dead-letter queue
//!   per work queue; declared idempotently at connect time, each service declaring the exchanges
//!   and the queue it consumes ([`Broker::owning`]); tools and tests may declare all of it.
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
//! - [`backoff`]: the one back-off policy; the consume loop, the relay and MES's model fetch each
//!   configure one.
//!
//! Errors: [`MessagingError`] ([`error`]) for anything that talks to the broker; handlers return
//! [`consumer::HandleError`].
//!
//! # Layering
//!
//! Modules only import modules listed above them here, never a sibling that imports them back
//! (checked for every workspace crate by `tools/layering`):
//!
//! 1. [`error`], [`backoff`], [`context`], [`topology`], [`outbox_backlog`]: depend on no sibling.
//! 2. [`metrics`]: reads [`outbox_backlog`] at scrape time.
//! 3. [`broker`]: [`topology`], [`error`].
//! 4. [`publisher`]: [`broker`], [`context`], [`error`].
//! 5. [`consumer`], [`outbox`]: [`publisher`], [`metrics`], [`backoff`] and the ones below.

pub mod backoff;
pub mod broker;
pub mod consumer;
pub mod context;
pub mod error;
pub mod metrics;
pub mod outbox;
pub mod outbox_backlog;
pub mod publisher;
pub mod topology;

pub use backoff::Backoff;
pub use broker::Broker;
pub use consumer::{run_consumer, HandleError, Handler, IncomingMessage};
pub use error::MessagingError;
pub use metrics::MessagingMetrics;
pub use outbox::{OutboxRelay, OutboxSignal};
pub use publisher::{OutgoingMessage, Publisher};
