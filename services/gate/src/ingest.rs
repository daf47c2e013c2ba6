//! `POST /v1/traces`: OTLP/HTTP (protobuf) trace ingestion from authenticated writers.

use crate::state::GateState;
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

/// OTLP/HTTP's binary encoding.
pub const PROTOBUF: &str = "application/x-protobuf";

/// Why a batch is refused (the client's fault; nothing of it is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
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
    /// The outcome label and the error answer.
    fn reason(&self) -> &'static str {
        match self {
            BatchError::Malformed(_) => "malformed",
            BatchError::MissingServiceName | BatchError::ServiceNameNotAllowed { .. } => {
                "service_name_not_allowed"
            }
        }
    }

    fn into_api_error(self, client: &str) -> ApiError {
        match self {
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

/// The rules for a batch from `client`, on its encoded `body`: it decodes, and every resource's
/// `service.name` is `client` (a service writes only its own spans). Returns the span count.
pub fn check_batch(body: &[u8], client: &str) -> Result<u64, BatchError> {
    let request = ExportTraceServiceRequest::decode(body)
        .map_err(|e| BatchError::Malformed(e.to_string()))?;
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

/// `POST /v1/traces`: checks the batch and forwards it to Jaeger unchanged.
pub async fn export_traces(
    State(state): State<GateState>,
    caller: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let client = caller.client.clone().unwrap_or_default();
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
            let outcome = if too_large { "too_large" } else { "malformed" };
            state.metrics.batch(&client, outcome, 0);
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
        state.metrics.batch(&client, "unsupported_media_type", 0);
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send OTLP/HTTP as {PROTOBUF}"),
        )
        .into_response();
    }
    let spans = match check_batch(&body, &client) {
        Ok(spans) => spans,
        Err(err) => {
            tracing::info!(%client, reason = err.reason(), "trace batch refused");
            state.metrics.batch(&client, err.reason(), 0);
            return err.into_api_error(&client).into_response();
        }
    };
    match forward(&state, body).await {
        Ok(()) => {
            state.metrics.batch(&client, "accepted", spans);
            (
                [(header::CONTENT_TYPE, PROTOBUF)],
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
                .into_response()
        }
        Err(detail) => {
            tracing::warn!(%client, %detail, "Jaeger did not take a trace batch");
            state.metrics.batch(&client, "jaeger_unavailable", spans);
            // 503 is retryable in OTLP: the exporter sends the batch again.
            ApiError::unavailable(
                "jaeger_unavailable",
                "the trace store is unavailable; retry",
            )
            .into_response()
        }
    }
}

/// Sends the accepted batch to Jaeger as it came (no span of its own: forwarding traces must not
/// make traces).
async fn forward(state: &GateState, body: Bytes) -> Result<(), String> {
    let resp = state
        .http
        .post(&state.jaeger_otlp_url)
        .header(header::CONTENT_TYPE, PROTOBUF)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("Jaeger answered {}", resp.status()))
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
        assert_eq!(check_batch(&own, "shop-api"), Ok(5));
        let mixed = encode(vec![
            resource(Some("shop-api"), 1),
            resource(Some("crm-api"), 1),
        ]);
        assert_eq!(
            check_batch(&mixed, "shop-api"),
            Err(BatchError::ServiceNameNotAllowed {
                found: "crm-api".into()
            })
        );
        let anonymous = encode(vec![resource(None, 1)]);
        assert_eq!(
            check_batch(&anonymous, "shop-api"),
            Err(BatchError::MissingServiceName)
        );
        assert!(matches!(
            check_batch(b"\xff\xff not protobuf", "shop-api"),
            Err(BatchError::Malformed(_))
        ));
        assert_eq!(check_batch(&encode(vec![]), "shop-api"), Ok(0));
    }
}
