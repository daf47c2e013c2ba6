//! OTLP/gRPC at the gate, with the real Keycloak's tokens and the real Jaeger: a service's own
//! spans are stored; no token, a bad token, a client without the writer role, another
//! service's name and a mixed batch get the gRPC status the OTLP specification gives them, and
//! nothing of them is stored.

mod common;

use common::{gate, hex, simple, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use printflow_test_support::{eventually, identity, Jaeger};
use std::time::Duration;
use tonic::Code;

/// Exports `request` over gRPC to `endpoint` with `token`; the status code.
async fn export(endpoint: &str, token: Option<&str>, request: ExportTraceServiceRequest) -> Code {
    let mut client = TraceServiceClient::connect(endpoint.to_owned())
        .await
        .unwrap();
    let mut req = tonic::Request::new(request);
    if let Some(token) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match client.export(req).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn grpc_exports_are_checked_like_http_ones() {
    let gate = gate(&[]).await;
    let endpoint = gate.url("otlp-grpc").unwrap().to_owned();
    let jaeger = Jaeger::from_env();
    let shop = identity::client_token("shop-api").await;
    let prometheus = identity::client_token("prometheus").await;

    let refused = [trace_id(), trace_id(), trace_id(), trace_id()];
    let cases = [
        (
            "no token",
            None,
            simple(&[("shop-api", refused[0])]),
            Code::Unauthenticated,
        ),
        (
            "garbage token",
            Some("garbage"),
            simple(&[("shop-api", refused[0])]),
            Code::Unauthenticated,
        ),
        (
            "no writer role",
            Some(prometheus.as_str()),
            simple(&[("prometheus", refused[1])]),
            Code::PermissionDenied,
        ),
        (
            "spoofing crm-api",
            Some(shop.as_str()),
            simple(&[("crm-api", refused[2])]),
            Code::PermissionDenied,
        ),
        (
            "a mixed batch",
            Some(shop.as_str()),
            simple(&[("shop-api", refused[3]), ("mes-api", refused[3])]),
            Code::PermissionDenied,
        ),
    ];
    for (name, token, request, code) in cases {
        assert_eq!(export(&endpoint, token, request).await, code, "{name}");
    }

    let accepted = trace_id();
    assert_eq!(
        export(&endpoint, Some(&shop), simple(&[("shop-api", accepted)])).await,
        Code::Ok
    );
    let stored = eventually(
        "the gRPC-exported span in Jaeger",
        Duration::from_secs(30),
        || async { jaeger.trace(&hex(&accepted)).await },
    )
    .await;
    assert_eq!(stored.services(), ["shop-api"]);
    for id in refused {
        assert!(
            jaeger.trace(&hex(&id)).await.is_none(),
            "refused trace {} stored",
            hex(&id)
        );
    }

    let metrics = identity::metrics_text(&gate.base_url).await;
    for line in [
        r#"gate_ingest_batches_total{client="shop-api",outcome="accepted"} 1"#,
        r#"gate_ingest_batches_total{client="shop-api",outcome="service_name_not_allowed"} 2"#,
        r#"gate_ingest_batches_total{client="",outcome="missing"} 1"#,
        r#"gate_ingest_batches_total{client="",outcome="malformed"} 1"#,
        r#"gate_ingest_batches_total{client="",outcome="forbidden"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="missing"} 1"#,
        r#"auth_failures_total{service="telemetry-gate",reason="forbidden"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}
