//! OpenTelemetry for printflow, written once for every service.
//!
//! - [`init`] builds the tracer provider (OTLP exporter, batching with a bounded queue, the
//!   standard `OTEL_*` variables read through `printflow_config::ConfigSource`, see [`settings`]),
//!   installs the W3C TraceContext + Baggage propagators and the
//!   `tracing` subscriber whose log lines carry `trace_id` / `span_id`; the returned
//!   [`TelemetryGuard`] flushes and shuts down on exit.
//! - [`http_server::layer`] gives every request a SERVER span named by route template, continuing
//!   an incoming `traceparent`.
//! - [`http_client::send`] wraps an outgoing reqwest call in a CLIENT span and injects
//!   `traceparent`.
//! - [`accounting`] counts the spans ended and exported, so spans the SDK dropped show up in
//!   the service's metrics.
//! - [`propagation`] moves a context into and out of string header maps (AMQP headers, outbox
//!   rows).
//!
//! Instrumentation uses the `tracing` API everywhere (`#[tracing::instrument]`, `info_span!`);
//! this crate is the only one that names OpenTelemetry types, apart from span kinds and links in
//! the messaging crate.

pub mod accounting;
mod export_token;
pub mod http_client;
pub mod http_server;
mod init;
pub mod log_format;
pub mod propagation;
pub mod settings;

pub use init::{init, TelemetryGuard};
pub use settings::TelemetrySettings;

/// Marks the current span as failed: status ERROR with `message`, and an `exception` event
/// carrying it (`exception.message`, `exception.type`), as the semantic conventions describe.
pub fn record_error(span: &tracing::Span, error_type: &str, message: &str) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    span.set_status(opentelemetry::trace::Status::error(message.to_owned()));
    span.record("error.type", error_type);
    span.add_event(
        "exception",
        vec![
            opentelemetry::KeyValue::new("exception.type", error_type.to_owned()),
            opentelemetry::KeyValue::new("exception.message", message.to_owned()),
        ],
    );
}

/// The trace id of the current span as 32 hex digits, if it has a valid one.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The trace id of the current span as 32 hex digits, only if the span is sampled (its trace is
/// being recorded). What a metric exemplar links to: an id of a trace that was dropped by the
/// sampler would lead nowhere.
pub fn current_sampled_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    (sc.is_valid() && sc.is_sampled()).then(|| sc.trace_id().to_string())
}
