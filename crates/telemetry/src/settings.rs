//! Telemetry settings, read through [`ConfigSource`] like every other setting (binaries pass the
//! process environment, tests a map). The variable names are the standard OpenTelemetry ones.
//!
//! Read here and passed to the SDK explicitly: `OTEL_SDK_DISABLED`, `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` / `_ARG`, `OTEL_BSP_MAX_QUEUE_SIZE`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, the exporter's protocol, endpoint, timeout and (over HTTP) headers (`OTEL_EXPORTER_OTLP_*`, the
//! `_TRACES_` variant first), and the log settings `RUST_LOG` and `LOG_FORMAT`.
//!
//! Still read by the SDK from the process environment, because its builders offer no way to
//! switch that off: `OTEL_EXPORTER_OTLP_*HEADERS` (merged with the ones passed here; over gRPC
//! they are the only source, as passing metadata would need a direct `tonic` dependency),
//! `OTEL_EXPORTER_OTLP_*COMPRESSION`, `OTEL_BSP_MAX_CONCURRENT_EXPORTS` and the span limits
//! (`OTEL_SPAN_*_LIMIT`). `OTEL_BSP_EXPORT_TIMEOUT` is not read: the thread-based batch
//! processor in use ignores it (one export is bounded by the exporter's timeout instead). In a binary the process environment is the source, so this only
//! matters to a test that passes a map.

use printflow_config::{parse_or, string_or, ConfigError, ConfigSource, Secret};
use std::time::Duration;

/// The default `RUST_LOG`: our own crates at info, chatty dependencies at warn.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,lapin=warn,opentelemetry=warn";

/// Everything [`crate::init`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    /// `OTEL_SDK_DISABLED=true`: no tracer provider, no export (propagation still works).
    pub sdk_disabled: bool,
    /// `OTEL_SERVICE_NAME`, when set.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`), in order.
    pub resource_attributes: Vec<(String, String)>,
    /// How spans leave the process.
    pub exporter: ExporterSettings,
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`).
    pub sampler: SamplerSetting,
    /// The batch span processor (`OTEL_BSP_*`).
    pub batch: BatchSettings,
    /// `RUST_LOG` (default [`DEFAULT_LOG_FILTER`]).
    pub log_filter: String,
    /// `LOG_FORMAT=json`: JSON log lines instead of text.
    pub log_json: bool,
}

/// The OTLP exporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterSettings {
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`
    /// (default) or `grpc`.
    pub protocol: OtlpProtocol,
    /// The full traces endpoint: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/traces` over HTTP), else the protocol's local
    /// default (`http://localhost:4318/v1/traces`, `http://localhost:4317`).
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, ms (default 10000).
    pub timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` or `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,...`).
    pub headers: Vec<(String, String)>,
    /// The service's own token on every export (to the telemetry gate), when
    /// `TELEMETRY_TOKEN_URL`, `TELEMETRY_CLIENT_ID` and `TELEMETRY_CLIENT_SECRET` are all set
    /// (printflow's own variables: OpenTelemetry has no standard for OAuth 2). Over HTTP only.
    pub auth: Option<ExportAuth>,
}

/// Client credentials for the exporter's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportAuth {
    /// The token endpoint.
    pub token_url: String,
    /// The service's client id (its spans' `service.name` at the gate).
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
}

/// The OTLP transports this build supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`.
    HttpProtobuf,
    /// `grpc`.
    Grpc,
}

/// Which spans are recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSetting {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with the ratio in `OTEL_TRACES_SAMPLER_ARG` (default 1.0).
    Ratio(f64),
    /// `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`: follow the
    /// caller's decision, apply the inner sampler to root spans.
    ParentBased(ParentBasedRoot),
}

/// The root sampler of [`SamplerSetting::ParentBased`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParentBasedRoot {
    /// Record every root span.
    AlwaysOn,
    /// Record no root span.
    AlwaysOff,
    /// Record this share of root spans.
    Ratio(f64),
}

/// The batch span processor: a bounded queue, so a slow or absent collector costs memory up to
/// a limit and then drops spans, never blocks a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048).
    pub max_queue_size: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY`, ms (default 5000).
    pub scheduled_delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512).
    pub max_export_batch_size: usize,
}

impl TelemetrySettings {
    /// Reads the settings; unset ones take the OpenTelemetry defaults, unparseable ones are
    /// errors naming the variable.
    pub fn from_source(src: &dyn ConfigSource) -> Result<TelemetrySettings, ConfigError> {
        Ok(TelemetrySettings {
            sdk_disabled: src
                .get("OTEL_SDK_DISABLED")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            service_name: src.get("OTEL_SERVICE_NAME"),
            resource_attributes: key_values(
                &src.get("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default(),
            ),
            exporter: ExporterSettings::from_source(src)?,
            sampler: sampler(src)?,
            batch: BatchSettings {
                max_queue_size: parse_or(src, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)?,
                scheduled_delay: millis(src, "OTEL_BSP_SCHEDULE_DELAY", 5_000)?,
                max_export_batch_size: parse_or(src, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?,
            },
            log_filter: string_or(src, "RUST_LOG", DEFAULT_LOG_FILTER),
            log_json: src.get("LOG_FORMAT").as_deref() == Some("json"),
        })
    }

    /// The `service.name` of the resource: `OTEL_SERVICE_NAME`, else a `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, else `default`.
    pub fn service_name_or(&self, default: &str) -> String {
        self.service_name
            .clone()
            .or_else(|| {
                self.resource_attributes
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| default.to_owned())
    }
}

impl ExporterSettings {
    fn from_source(src: &dyn ConfigSource) -> Result<ExporterSettings, ConfigError> {
        let (protocol_key, raw) = first_set(
            src,
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        );
        let protocol = match raw.as_deref().map(str::trim) {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => {
                return Err(ConfigError {
                    key: protocol_key.to_owned(),
                    value: other.to_owned(),
                    reason: "must be `http/protobuf` or `grpc`".to_owned(),
                })
            }
        };
        let endpoint = match (
            src.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            src.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            protocol,
        ) {
            (Some(traces), _, _) => traces,
            (None, Some(base), OtlpProtocol::HttpProtobuf) => {
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
            (None, Some(base), OtlpProtocol::Grpc) => base,
            (None, None, OtlpProtocol::HttpProtobuf) => {
                "http://localhost:4318/v1/traces".to_owned()
            }
            (None, None, OtlpProtocol::Grpc) => "http://localhost:4317".to_owned(),
        };
        let (timeout_key, _) = first_set(
            src,
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        );
        let (_, headers) = first_set(
            src,
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        );
        let auth = match (
            src.get("TELEMETRY_TOKEN_URL"),
            src.get("TELEMETRY_CLIENT_ID"),
            src.get("TELEMETRY_CLIENT_SECRET"),
        ) {
            (Some(token_url), Some(client_id), Some(client_secret)) => Some(ExportAuth {
                token_url,
                client_id,
                client_secret: Secret::new(client_secret),
            }),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError {
                    key: "TELEMETRY_CLIENT_SECRET".to_owned(),
                    value: String::new(),
                    reason: "TELEMETRY_TOKEN_URL, TELEMETRY_CLIENT_ID and TELEMETRY_CLIENT_SECRET go together".to_owned(),
                })
            }
        };
        Ok(ExporterSettings {
            protocol,
            endpoint,
            timeout: millis(src, timeout_key, 10_000)?,
            headers: key_values(&headers.unwrap_or_default()),
            auth,
        })
    }
}

/// The signal-specific variable if set, else the generic one (and which of them it was).
fn first_set(
    src: &dyn ConfigSource,
    specific: &'static str,
    generic: &'static str,
) -> (&'static str, Option<String>) {
    match src.get(specific) {
        Some(v) => (specific, Some(v)),
        None => (generic, src.get(generic)),
    }
}

fn millis(src: &dyn ConfigSource, key: &str, default: u64) -> Result<Duration, ConfigError> {
    parse_or(src, key, default).map(Duration::from_millis)
}

/// `key=value,key=value` as OpenTelemetry writes lists in variables; entries without `=` are
/// skipped, as the SDK does.
fn key_values(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn sampler(src: &dyn ConfigSource) -> Result<SamplerSetting, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        let r: f64 = parse_or(src, "OTEL_TRACES_SAMPLER_ARG", 1.0)?;
        if !(0.0..=1.0).contains(&r) {
            return Err(ConfigError {
                key: "OTEL_TRACES_SAMPLER_ARG".to_owned(),
                value: r.to_string(),
                reason: "must be a ratio between 0 and 1".to_owned(),
            });
        }
        Ok(r)
    };
    let name = src
        .get("OTEL_TRACES_SAMPLER")
        .map(|s| s.trim().to_ascii_lowercase());
    Ok(match name.as_deref() {
        None | Some("parentbased_always_on") => SamplerSetting::ParentBased(ParentBasedRoot::AlwaysOn),
        Some("always_on") => SamplerSetting::AlwaysOn,
        Some("always_off") => SamplerSetting::AlwaysOff,
        Some("traceidratio") => SamplerSetting::Ratio(ratio()?),
        Some("parentbased_always_off") => SamplerSetting::ParentBased(ParentBasedRoot::AlwaysOff),
        Some("parentbased_traceidratio") => {
            SamplerSetting::ParentBased(ParentBasedRoot::Ratio(ratio()?))
        }
        Some(other) => {
            return Err(ConfigError {
                key: "OTEL_TRACES_SAMPLER".to_owned(),
                value: other.to_owned(),
                reason: "must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio".to_owned(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&'static str, &str)]) -> Result<TelemetrySettings, ConfigError> {
        let map: HashMap<&str, String> = pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        TelemetrySettings::from_source(&map)
    }

    #[test]
    fn defaults_are_the_opentelemetry_ones() {
        let s = settings(&[]).unwrap();
        assert!(!s.sdk_disabled);
        assert_eq!(s.service_name_or("crm-api"), "crm-api");
        assert_eq!(s.exporter.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(s.exporter.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.exporter.timeout, Duration::from_secs(10));
        assert_eq!(
            s.sampler,
            SamplerSetting::ParentBased(ParentBasedRoot::AlwaysOn)
        );
        assert_eq!(s.batch.max_queue_size, 2048);
        assert_eq!(s.batch.scheduled_delay, Duration::from_secs(5));
        assert_eq!(s.log_filter, DEFAULT_LOG_FILTER);
        assert!(!s.log_json);
    }

    #[test]
    fn values_are_read_from_the_source() {
        let s = settings(&[
            ("OTEL_SDK_DISABLED", "TRUE"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs, deployment.environment.name=ci,broken",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("RUST_LOG", "debug"),
            ("LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert!(s.sdk_disabled);
        assert_eq!(s.service_name_or("crm-api"), "from-attrs");
        assert_eq!(
            s.resource_attributes,
            [
                ("service.name".to_owned(), "from-attrs".to_owned()),
                ("deployment.environment.name".to_owned(), "ci".to_owned())
            ]
        );
        assert_eq!(s.exporter.endpoint, "http://collector:4318/v1/traces");
        assert_eq!(s.exporter.timeout, Duration::from_millis(1500));
        assert_eq!(
            s.exporter.headers,
            [("api-key".to_owned(), "secret".to_owned())]
        );
        assert_eq!(
            s.sampler,
            SamplerSetting::ParentBased(ParentBasedRoot::Ratio(0.25))
        );
        assert_eq!(s.batch.scheduled_delay, Duration::from_millis(200));
        assert_eq!(s.log_filter, "debug");
        assert!(s.log_json);
    }

    #[test]
    fn signal_specific_variables_win() {
        let s = settings(&[
            ("OTEL_SERVICE_NAME", "named"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ])
        .unwrap();
        assert_eq!(s.service_name_or("crm-api"), "named");
        assert_eq!(s.exporter.protocol, OtlpProtocol::Grpc);
        assert_eq!(s.exporter.endpoint, "http://traces:4317");
        let grpc = settings(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
        ])
        .unwrap();
        assert_eq!(
            grpc.exporter.endpoint, "http://generic:4317",
            "no path over gRPC"
        );
    }

    #[test]
    fn nonsense_names_its_variable() {
        for (key, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "soon"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ] {
            let err = settings(&[(key, value)]).expect_err(value);
            assert_eq!(err.key, key);
        }
        let err = settings(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ])
        .unwrap_err();
        assert_eq!(err.key, "OTEL_TRACES_SAMPLER_ARG");
    }
}
