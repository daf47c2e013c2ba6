//! Writes one OTLP `ExportTraceServiceRequest` (protobuf) to stdout, for load tests of the gate
//! (`scripts/bench-gate.sh` posts it with wrk): `SPANS` spans of one trace, resource
//! `service.name` = `SERVICE`, each span with the attributes a printflow HTTP server span
//! carries, so decoding, checking and redaction cost what they cost on real batches.
//!
//! usage: cargo run --release -p printflow-gate --example otlp_batch -- SERVICE SPANS > batch.pb

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::io::Write;

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(service), Some(spans)) = (
        args.next(),
        args.next().and_then(|n| n.parse::<usize>().ok()),
    ) else {
        return Err(std::io::Error::other("usage: otlp_batch SERVICE SPANS"));
    };
    let trace_id = *uuid::Uuid::new_v4().as_bytes();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(std::io::Error::other)?
        .as_nanos() as u64;
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: trace_id.to_vec(),
            span_id: uuid::Uuid::new_v4().as_bytes()[..8].to_vec(),
            name: "GET /catalog/products".into(),
            kind: 2,
            start_time_unix_nano: now - 5_000_000,
            end_time_unix_nano: now,
            attributes: vec![
                attr("http.request.method", "GET"),
                attr("http.route", "/catalog/products"),
                attr("url.path", "/catalog/products"),
                attr(
                    "url.query",
                    "q=organizer&category=office&sort=price_asc&per_page=20",
                ),
                attr("server.address", "127.0.0.1"),
                attr("user_agent.original", "wrk"),
                attr("enduser.id", &uuid::Uuid::new_v4().to_string()),
                attr("order.id", &format!("{}", uuid::Uuid::now_v7())),
                attr("printflow.attempt", &i.to_string()),
            ],
            ..Default::default()
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attr("service.name", &service), attr("host.name", "bench")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    std::io::stdout().write_all(&request.encode_to_vec())
}
