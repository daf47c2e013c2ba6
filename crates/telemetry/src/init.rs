//! Process-wide set-up: propagators, tracer provider, `tracing` subscriber.

use crate::log_format::WithTraceIds;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Flushes and shuts the tracer provider down. Call [`TelemetryGuard::shutdown`] at the end of
/// `main`; dropping it does the same as a fallback. Without it the spans still queued in the
/// batch processor are lost when the process exits.
#[derive(Debug)]
pub struct TelemetryGuard {
    /// `None` when the SDK is disabled or already shut down.
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are being exported.
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is queued and stops the exporter. Runs on a blocking thread: the batch
    /// processor's shutdown blocks until its worker thread has exported.
    pub async fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = tokio::task::spawn_blocking(move || shutdown_provider(provider)).await;
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            shutdown_provider(provider);
        }
    }
}

fn shutdown_provider(provider: SdkTracerProvider) {
    if let Err(e) = provider.force_flush() {
        eprintln!("telemetry: flushing spans failed: {e}");
    }
    if let Err(e) = provider.shutdown() {
        eprintln!("telemetry: shutting the tracer provider down failed: {e}");
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .map(|v| v.trim().eq_ignore_ascii_case("true"))
        .unwrap_or(false)
}

/// The resource: `service.name` (from `OTEL_SERVICE_NAME`, else `default_service_name`),
/// `service.version`, a fresh `service.instance.id` per process, `deployment.environment.name`
/// (default `local`) and anything in `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(default_service_name: &'static str, version: &'static str) -> Resource {
    let mut builder = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.is_empty()) {
        builder = builder.with_service_name(default_service_name);
    }
    let from_env = std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
    let mut attrs = vec![
        KeyValue::new("service.version", version),
        KeyValue::new("service.instance.id", uuid::Uuid::new_v4().to_string()),
    ];
    if !from_env.contains("deployment.environment.name") {
        attrs.push(KeyValue::new("deployment.environment.name", "local"));
    }
    builder.with_attributes(attrs).build()
}

/// Sets up telemetry for a service binary:
///
/// - W3C TraceContext + Baggage as the global propagator (always, so context passes through a
///   service even when its own SDK is disabled);
/// - unless `OTEL_SDK_DISABLED=true`: a tracer provider exporting over OTLP (`grpc` or
///   `http/protobuf` per `OTEL_EXPORTER_OTLP_PROTOCOL`, endpoint per
///   `OTEL_EXPORTER_OTLP_ENDPOINT`), batching with a bounded queue (`OTEL_BSP_*`), sampling per
///   `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`;
/// - the `tracing` subscriber: `RUST_LOG` filter (default `info`), text or JSON (`LOG_FORMAT=json`)
///   log lines with `trace_id` / `span_id`, and the OpenTelemetry layer.
pub fn init(default_service_name: &'static str, version: &'static str) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn,opentelemetry=warn"));
    let json = std::env::var("LOG_FORMAT").as_deref() == Ok("json");
    let fmt_layer = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .event_format(WithTraceIds(tracing_subscriber::fmt::format()))
            .with_writer(std::io::stderr)
            .boxed()
    };

    let provider = if env_flag("OTEL_SDK_DISABLED") {
        None
    } else {
        match opentelemetry_otlp::SpanExporter::builder().build() {
            Ok(exporter) => {
                let batch = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(BatchConfigBuilder::default().build())
                    .build();
                Some(
                    SdkTracerProvider::builder()
                        .with_span_processor(batch)
                        .with_resource(resource(default_service_name, version))
                        .build(),
                )
            }
            Err(e) => {
                eprintln!("telemetry: cannot build the OTLP exporter, tracing is off: {e}");
                None
            }
        }
    };

    let registry = tracing_subscriber::registry().with(filter).with(fmt_layer);
    match &provider {
        Some(provider) => {
            opentelemetry::global::set_tracer_provider(provider.clone());
            let tracer = provider.tracer(default_service_name);
            let otel = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false);
            let _ = registry.with(otel).try_init();
        }
        None => {
            let _ = registry.try_init();
        }
    }
    TelemetryGuard { provider }
}

use tracing_subscriber::Layer as _;
