//! OTLP/gRPC trace ingestion: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, with
//! the same token and batch rules as OTLP/HTTP ([`Ingest`]), answered with gRPC status codes:
//! `UNAUTHENTICATED` (no or bad token), `PERMISSION_DENIED` (no `telemetry-writer` role, or
//! another service's name), `INVALID_ARGUMENT` (not an OTLP message, or larger than the limit),
//! `UNAVAILABLE` (the realm's keys cannot be fetched; retryable). The token is checked before
//! the message is decoded.
//!
//! Served by the same router as everything else (tonic's routes as an axum router, HTTP/2
//! without TLS), so it shares the listener machinery and the request layers.

use crate::ingest::{BatchError, Ingest};
use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::middleware::Next;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use printflow_auth::{Auth, Principal, Rejection, Role};
use tonic::{Response, Status};

/// The method's path, for logs.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The gRPC trace service.
#[derive(Debug, Clone)]
pub struct GrpcIngest {
    /// Verifies the writers' tokens.
    pub auth: Auth,
    /// What is done with an accepted batch.
    pub ingest: Ingest,
    /// Largest accepted message, as for OTLP/HTTP.
    pub max_message_bytes: usize,
}

impl GrpcIngest {
    /// The service as routes to merge into the gate's router (they check tokens themselves, so
    /// they go in as public routes).
    pub fn routes(self) -> Router {
        let max = self.max_message_bytes;
        let guard = (self.auth.clone(), self.ingest.clone());
        tonic::service::Routes::new(TraceServiceServer::new(self).max_decoding_message_size(max))
            .into_axum_router()
            .layer(axum::middleware::from_fn_with_state(guard, authenticate))
    }
}

#[tonic::async_trait]
impl TraceService for GrpcIngest {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        // Put there by `authenticate`, which runs before the message is even decoded.
        let Some(caller) = request.extensions().get::<Principal>() else {
            return Err(status_of(Rejection::Missing));
        };
        let client = caller.client.clone().unwrap_or_default();
        match self.ingest.accept(&client, request.into_inner()) {
            Ok(_) => Ok(Response::new(ExportTraceServiceResponse::default())),
            Err(err) => Err(match &err {
                BatchError::BufferFull => {
                    Status::unavailable("the trace store is not keeping up; retry later")
                }
                BatchError::Malformed(detail) => Status::invalid_argument(detail.clone()),
                BatchError::MissingServiceName | BatchError::ServiceNameNotAllowed { .. } => {
                    let message = err.into_api_error(&client).message;
                    Status::permission_denied(message)
                }
            }),
        }
    }
}

/// Checks the caller's token before tonic reads the message: an unauthenticated client cannot
/// make the gate decode anything. The caller goes into the request's extensions.
async fn authenticate(
    State((auth, ingest)): State<(Auth, Ingest)>,
    mut req: Request<Body>,
    next: Next,
) -> axum::response::Response {
    match auth
        .authorise(req.headers(), &[Role::TelemetryWriter])
        .await
    {
        Ok(caller) => {
            let client = caller.client.clone().unwrap_or_default();
            req.extensions_mut().insert(caller);
            let mut resp = next.run(req).await;
            final_for_bad_input(&mut resp, &ingest, &client);
            resp
        }
        Err(rejection) => {
            auth.refused(rejection, "POST", EXPORT);
            ingest.refused("", rejection.reason());
            status_of(rejection).into_http()
        }
    }
}

/// tonic answers a message it cannot decode with `INTERNAL` and one over the size limit with
/// `OUT_OF_RANGE`, which OTLP exporters retry; both are the client's fault, so they become
/// `INVALID_ARGUMENT` (final), counted like their OTLP/HTTP equivalents.
fn final_for_bad_input(resp: &mut axum::response::Response, ingest: &Ingest, client: &str) {
    let outcome = match resp.headers().get("grpc-status").map(|v| v.as_bytes()) {
        Some(b"13") => "malformed",
        Some(b"11") => "too_large",
        _ => return,
    };
    ingest.refused(client, outcome);
    resp.headers_mut().insert(
        "grpc-status",
        axum::http::HeaderValue::from(tonic::Code::InvalidArgument as i32),
    );
}

/// The gRPC status for a token refusal (the OTLP specification: `UNAUTHENTICATED` and
/// `PERMISSION_DENIED` are final, `UNAVAILABLE` is retried).
fn status_of(rejection: Rejection) -> Status {
    match rejection {
        Rejection::Forbidden => Status::permission_denied(rejection.description()),
        Rejection::KeysUnavailable => Status::unavailable(rejection.description()),
        _ => Status::unauthenticated(rejection.description()),
    }
}
