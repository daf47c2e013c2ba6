//! Trace ingestion from authenticated writers: the rules a batch must pass ([`check_batch`]),
//! what happens to an accepted one ([`Ingest`]), and `POST /v1/traces` (OTLP/HTTP, protobuf).
//! The gRPC receiver (`crate::grpc`) shares [`Ingest`].

use crate::forward::{Batch, Forwarder};
use crate::metrics::GateMetrics;
use crate::redact::Redactor;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use printflow_auth::Principal;
use printflow_web::ApiError;
use prost::Message;
use std::sync::Arc;

pub use crate::forward::PROTOBUF;

/// Why a batch is refused (nothing of it is stored): the client's fault, except
/// [`BatchError::BufferFull`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// The buffer to Jaeger is full (Jaeger slow or down): send it again later.
    BufferFull,
    /// Not an OTLP `ExportTraceServiceRequest`.
    Malformed(String),
    /// A resource without a `service.name` string attribute.
    MissingServiceName,
    /// A resource names a service the writing client may not write as.
    ServiceNameNotAllowed {
        /// The `service.name` found.
        found: String,
    },
}

impl BatchError {
    /// The outcome label.
    pub fn reason(&self) -> &'static str {
        match self {
            BatchError::BufferFull => "buffer_full",
            BatchError::Malformed(_) => "malformed",
            BatchError::MissingServiceName | BatchError::ServiceNameNotAllowed { .. } => {
                "service_name_not_allowed"
            }
        }
    }

    /// The OTLP/HTTP answer: 400, 403 or 503 with a JSON body.
    pub fn into_api_error(self, client: &str) -> ApiError {
        match self {
            BatchError::BufferFull => ApiError::unavailable(
                "buffer_full",
                "the trace store is not keeping up; send this batch again later",
            ),
            BatchError::Malformed(detail) => ApiError::bad_request(
                "malformed_otlp",
                format!("the body is not an OTLP ExportTraceServiceRequest: {detail}"),
            ),
            BatchError::MissingServiceName => ApiError::new(
                StatusCode::FORBIDDEN,
                "service_name_not_allowed",
                "every resource must name its service (service.name)",
            ),
            BatchError::ServiceNameNotAllowed { found } => ApiError::new(
                StatusCode::FORBIDDEN,
                "service_name_not_allowed",
                format!(
                    "client {client} may write spans as service.name {client} only, not {found}"
                ),
            ),
        }
    }
}

/// The rules for a decoded batch from `client`: every resource's `service.name` is `client` (a
/// service writes only its own spans). Returns the span count.
pub fn check_batch(request: &ExportTraceServiceRequest, client: &str) -> Result<u64, BatchError> {
    let mut spans = 0u64;
    for resource_spans in &request.resource_spans {
        let name = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| match &v.value {
                Some(AnyValue::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .ok_or(BatchError::MissingServiceName)?;
        if name != client {
            return Err(BatchError::ServiceNameNotAllowed {
                found: name.to_owned(),
            });
        }
        spans += resource_spans
            .scope_spans
            .iter()
            .map(|s| s.spans.len() as u64)
            .sum::<u64>();
    }
    Ok(spans)
}

/// What both OTLP receivers (HTTP and gRPC) do with a batch from an authenticated writer:
/// check it, mask what must not be stored, buffer it for Jaeger, count it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// Masks attribute values before storage.
    pub redactor: Arc<Redactor>,
    /// The buffer to Jaeger.
    pub forwarder: Forwarder,
    /// Ingestion counters.
    pub metrics: GateMetrics,
}

impl Ingest {
    /// Accepts `request` from `client` (its token's `azp`), or says why not; returns the span
    /// count. Refusals are counted and logged here.
    pub fn accept(
        &self,
        client: &str,
        mut request: ExportTraceServiceRequest,
    ) -> Result<u64, BatchError> {
        let spans = match check_batch(&request, client) {
            Ok(spans) => spans,
            Err(err) => {
                tracing::info!(%client, reason = err.reason(), "trace batch refused");
                self.metrics.batch(client, err.reason(), 0);
                return Err(err);
            }
        };
        // Checked first so a batch sent again after "retry later" is not masked and counted twice.
        if !self.forwarder.has_room(spans) {
            return Err(self.full(client, spans));
        }
        let masked = self.redactor.redact(&mut request);
        let batch = Batch {
            body: request.encode_to_vec().into(),
            spans,
        };
        if self.forwarder.push(batch).is_err() {
            return Err(self.full(client, spans));
        }
        self.metrics.redacted(masked);
        self.metrics.batch(client, "accepted", spans);
        Ok(spans)
    }

    fn full(&self, client: &str, spans: u64) -> BatchError {
        tracing::debug!(%client, spans, "trace batch refused: the buffer to Jaeger is full");
        self.metrics.batch(client, "buffer_full", spans);
        BatchError::BufferFull
    }

    /// Counts a batch refused before it could be read (`outcome`: `malformed`, `too_large`,
    /// `unsupported_media_type`, or a token refusal reason).
    pub fn refused(&self, client: &str, outcome: &'static str) {
        self.metrics.batch(client, outcome, 0);
    }
}

/// `POST /v1/traces`: OTLP/HTTP (protobuf). Answers once the batch is buffered for Jaeger.
pub async fn export_traces(
    State(ingest): State<Ingest>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = caller.client.clone().unwrap_or_default();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
            ingest.refused(&client, if too_large { "too_large" } else { "malformed" });
            return if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the batch is larger than the gate accepts (GATE_MAX_BODY_BYTES); send smaller batches",
                )
            } else {
                ApiError::bad_request("unreadable_body", "the request body could not be read")
            }
            .into_response();
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with(PROTOBUF) {
        ingest.refused(&client, "unsupported_media_type");
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send OTLP/HTTP as {PROTOBUF}"),
        )
        .into_response();
    }
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(e) => {
            ingest.refused(&client, "malformed");
            return BatchError::Malformed(e.to_string())
                .into_api_error(&client)
                .into_response();
        }
    };
    match ingest.accept(&client, request) {
        Ok(_) => (
            [(header::CONTENT_TYPE, PROTOBUF)],
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
            .into_response(),
        Err(err) => {
            let full = err == BatchError::BufferFull;
            let mut resp = err.into_api_error(&client).into_response();
            if full {
                // OTLP exporters wait at least this long before sending the batch again.
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    axum::http::HeaderValue::from_static("1"),
                );
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue as Any, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn resource(service: Option<&str>, spans: usize) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: service
                    .map(|s| KeyValue {
                        key: "service.name".into(),
                        value: Some(Any {
                            value: Some(AnyValue::StringValue(s.into())),
                        }),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); spans],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn decode(body: &[u8]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest::decode(body).unwrap()
    }

    fn encode(resources: Vec<ResourceSpans>) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: resources,
        }
        .encode_to_vec()
    }

    #[test]
    fn a_client_writes_only_as_itself() {
        let own = encode(vec![
            resource(Some("shop-api"), 3),
            resource(Some("shop-api"), 2),
        ]);
        assert_eq!(check_batch(&decode(&own), "shop-api"), Ok(5));
        let mixed = encode(vec![
            resource(Some("shop-api"), 1),
            resource(Some("crm-api"), 1),
        ]);
        assert_eq!(
            check_batch(&decode(&mixed), "shop-api"),
            Err(BatchError::ServiceNameNotAllowed {
                found: "crm-api".into()
            })
        );
        let anonymous = encode(vec![resource(None, 1)]);
        assert_eq!(
            check_batch(&decode(&anonymous), "shop-api"),
            Err(BatchError::MissingServiceName)
        );
        assert!(ExportTraceServiceRequest::decode(&b"\xff\xff not protobuf"[..]).is_err());
        assert_eq!(check_batch(&decode(&encode(vec![])), "shop-api"), Ok(0));
    }
}
