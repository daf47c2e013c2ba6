//! Counts of what the SDK did with the spans this process ended, so spans lost before they
//! left the process show up in its own metrics (the OTel Rust SDK keeps its queue-full drop
//! count to itself until shutdown).
//!
//! - `otel_sdk_span_ended_total`: sampled spans ended and handed to the batch processor;
//! - `otel_sdk_exporter_span_exported_total{outcome}`: spans the exporter was given, by whether
//!   the export succeeded (`success`) or not (`failure`).
//!
//! Once the queue is empty, ended − exported (both outcomes) is what the batch processor
//! dropped because its queue was full; `failure` is what the receiver refused or never got.
//! The counters are per process: the runtime registers them in every service's registry.

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::LazyLock;
use std::time::Duration;

/// The label of `otel_sdk_exporter_span_exported_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ExportLabels {
    /// `success` or `failure`.
    pub outcome: &'static str,
}

/// This process's span counters.
#[derive(Debug, Default)]
pub struct SpanAccounting {
    /// Sampled spans ended (`otel_sdk_span_ended_total`).
    pub ended: Counter,
    /// Spans given to the exporter, by outcome (`otel_sdk_exporter_span_exported_total`).
    pub exported: Family<ExportLabels, Counter>,
}

static ACCOUNTING: LazyLock<SpanAccounting> = LazyLock::new(|| {
    let accounting = SpanAccounting::default();
    // Both outcomes exist from the start, so a rate over them is never "no data".
    for outcome in ["success", "failure"] {
        accounting
            .exported
            .get_or_create(&ExportLabels { outcome })
            .inc_by(0);
    }
    accounting
});

/// The process-wide counters (clones share the values; register them in a registry).
pub fn span_accounting() -> &'static SpanAccounting {
    &ACCOUNTING
}

/// A span processor that counts every sampled span it is handed before passing it on.
#[derive(Debug)]
pub(crate) struct CountingProcessor<P>(pub(crate) P);

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            ACCOUNTING.ended.inc();
        }
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// An exporter that counts the spans of every batch by the export's outcome.
#[derive(Debug)]
pub(crate) struct CountingExporter<E>(pub(crate) E);

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let result = self.0.export(batch).await;
        let outcome = if result.is_ok() { "success" } else { "failure" };
        ACCOUNTING
            .exported
            .get_or_create(&ExportLabels { outcome })
            .inc_by(spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider as _};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};

    /// Accepts every batch.
    #[derive(Debug)]
    struct Sink;

    impl SpanExporter for Sink {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn ended_and_exported_spans_are_counted() {
        let before = (
            ACCOUNTING.ended.get(),
            ACCOUNTING
                .exported
                .get_or_create(&ExportLabels { outcome: "success" })
                .get(),
        );
        let exporter = CountingExporter(Sink);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor(SimpleSpanProcessor::new(exporter)))
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..3 {
            tracer.in_span("work", |_| {});
        }
        provider.force_flush().unwrap();
        let after = (
            ACCOUNTING.ended.get(),
            ACCOUNTING
                .exported
                .get_or_create(&ExportLabels { outcome: "success" })
                .get(),
        );
        // Other tests of this binary may end spans too: at least ours are counted.
        assert!(after.0 >= before.0 + 3, "{before:?} -> {after:?}");
        assert!(after.1 >= before.1 + 3, "{before:?} -> {after:?}");
    }
}
