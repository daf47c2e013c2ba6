//! Process-wide set-up: propagators, tracer provider, `tracing` subscriber.

use crate::accounting::{CountingExporter, CountingProcessor};
use crate::export_token::{AuthenticatedClient, ExportToken};
use crate::settings::{
    ExporterSettings, OtlpProtocol, ParentBasedRoot, SamplerSetting, TelemetrySettings,
};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{
    ExporterBuildError, Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use printflow_config::{ConfigError, ConfigSource};
use std::collections::HashMap;
use std::io::IsTerminal as _;
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

#[allow(
    clippy::print_stderr,
    reason = "runs while the subscriber is being torn down, so a tracing event may go nowhere"
)]
fn shutdown_provider(provider: SdkTracerProvider) {
    if let Err(e) = provider.force_flush() {
        eprintln!("telemetry: flushing spans failed: {e}");
    }
    if let Err(e) = provider.shutdown() {
        eprintln!("telemetry: shutting the tracer provider down failed: {e}");
    }
}

/// The resource: `service.name` (see [`TelemetrySettings::service_name_or`]), `service.version`,
/// a fresh `service.instance.id` per process, `deployment.environment.name` (default `local`),
/// the SDK's `telemetry.sdk.*` and everything in `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(
    settings: &TelemetrySettings,
    default_service_name: &str,
    version: &'static str,
) -> Resource {
    let mut attrs: Vec<KeyValue> = settings
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    attrs.push(KeyValue::new("service.version", version));
    attrs.push(KeyValue::new(
        "service.instance.id",
        uuid::Uuid::new_v4().to_string(),
    ));
    if !settings
        .resource_attributes
        .iter()
        .any(|(k, _)| k == "deployment.environment.name")
    {
        attrs.push(KeyValue::new("deployment.environment.name", "local"));
    }
    // `builder_empty`: the default builder would read OTEL_SERVICE_NAME and
    // OTEL_RESOURCE_ATTRIBUTES from the process environment behind the source's back.
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attrs)
        .with_service_name(settings.service_name_or(default_service_name))
        .build()
}

fn sampler(setting: SamplerSetting) -> Sampler {
    let root = |root: ParentBasedRoot| match root {
        ParentBasedRoot::AlwaysOn => Sampler::AlwaysOn,
        ParentBasedRoot::AlwaysOff => Sampler::AlwaysOff,
        ParentBasedRoot::Ratio(r) => Sampler::TraceIdRatioBased(r),
    };
    match setting {
        SamplerSetting::AlwaysOn => Sampler::AlwaysOn,
        SamplerSetting::AlwaysOff => Sampler::AlwaysOff,
        SamplerSetting::Ratio(r) => Sampler::TraceIdRatioBased(r),
        SamplerSetting::ParentBased(r) => Sampler::ParentBased(Box::new(root(r))),
    }
}

/// The OTLP exporter with protocol, endpoint, timeout and (over HTTP) headers passed explicitly
/// (see [`crate::settings`] for what the SDK still reads from the process environment).
fn exporter(settings: &ExporterSettings) -> Result<SpanExporter, ExporterBuildError> {
    match settings.protocol {
        OtlpProtocol::HttpProtobuf => {
            let builder = SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout)
                .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>());
            match &settings.auth {
                None => builder.build(),
                Some(auth) => {
                    // Built on a thread of its own: a blocking reqwest client must not be
                    // created (or dropped) inside the async runtime that calls `init`.
                    let timeout = settings.timeout;
                    let inner = std::thread::spawn(move || {
                        reqwest::blocking::Client::builder()
                            .timeout(timeout)
                            .build()
                    })
                    .join()
                    .map_err(|_| ExporterBuildError::InternalFailure("client thread".into()))?
                    .map_err(|e| ExporterBuildError::InternalFailure(e.to_string()))?;
                    builder
                        .with_http_client(AuthenticatedClient {
                            inner,
                            token: ExportToken::start(auth.clone()),
                        })
                        .build()
                }
            }
        }
        OtlpProtocol::Grpc => {
            let builder = SpanExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout);
            match &settings.auth {
                None => builder.build(),
                Some(auth) => {
                    let token = ExportToken::start(auth.clone());
                    builder
                        .with_interceptor(move |req| token.authorise_grpc(req))
                        .build()
                }
            }
        }
    }
}

/// Sets up telemetry for a service binary, reading its settings from `src` (see
/// [`TelemetrySettings`]):
///
/// - W3C TraceContext + Baggage as the global propagator (always, so context passes through a
///   service even when its own SDK is disabled);
/// - unless `OTEL_SDK_DISABLED=true`: a tracer provider exporting over OTLP (`grpc` or
///   `http/protobuf`), batching with a bounded queue, sampling per `OTEL_TRACES_SAMPLER`;
/// - the `tracing` subscriber: `RUST_LOG` filter (default `info`), text or JSON (`LOG_FORMAT=json`)
///   log lines with `trace_id` / `span_id`, and the OpenTelemetry layer.
///
/// A setting that does not parse is an error naming the variable, as for every other setting.
#[allow(
    clippy::print_stderr,
    reason = "an exporter that cannot be built is reported before the subscriber is installed, \
              so a tracing event would be lost"
)]
pub fn init(
    src: &dyn ConfigSource,
    default_service_name: &'static str,
    version: &'static str,
) -> Result<TelemetryGuard, ConfigError> {
    let settings = TelemetrySettings::from_source(src)?;
    let filter = EnvFilter::try_new(&settings.log_filter).map_err(|e| ConfigError {
        key: "RUST_LOG".to_owned(),
        value: settings.log_filter.clone(),
        reason: e.to_string(),
    })?;
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));

    let fmt_layer = if settings.log_json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        crate::log_format::text_layer(std::io::stderr, std::io::stderr().is_terminal()).boxed()
    };

    let provider = if settings.sdk_disabled {
        None
    } else {
        match exporter(&settings.exporter) {
            Ok(exporter) => {
                let batch = BatchSpanProcessor::builder(CountingExporter(exporter))
                    .with_batch_config(
                        BatchConfigBuilder::default()
                            .with_max_queue_size(settings.batch.max_queue_size)
                            .with_scheduled_delay(settings.batch.scheduled_delay)
                            .with_max_export_batch_size(settings.batch.max_export_batch_size)
                            .build(),
                    )
                    .build();
                Some(
                    SdkTracerProvider::builder()
                        .with_span_processor(CountingProcessor(batch))
                        .with_sampler(sampler(settings.sampler))
                        .with_resource(resource(&settings, default_service_name, version))
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
    Ok(TelemetryGuard { provider })
}

use tracing_subscriber::Layer as _;
