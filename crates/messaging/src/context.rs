//! Message header context: the one place that decides what trace context a message carries from
//! the code that produced it. Publishers, the outbox and consumers call these, so the W3C
//! `traceparent` / `tracestate` / `baggage` headers travel with every message.

use std::collections::BTreeMap;

/// Propagation headers of the current span (stored with an outbox row, so the relay's publish
/// continues the trace of the request that created the row, not one of its poll loop).
pub fn capture() -> BTreeMap<String, String> {
    printflow_telemetry::propagation::inject_current()
}

/// Messaging semantic-convention values shared by producer and consumer spans.
pub(crate) const SYSTEM: &str = "rabbitmq";
