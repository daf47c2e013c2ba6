//! A real order through the real Shop, CRM and MES binaries, each exporting its spans through
//! the telemetry gate with its own token; the order's trace read back through the gate (v1 and
//! v3) as each dev-realm role: who sees which services, spans and attributes, and who nothing.

mod common;

use common::processes::{export_through_gate, telemetry_gate, Processes};
use printflow_test_support::{eventually, identity, Jaeger};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// Attribute keys of the policy's `internal` class that printflow's spans carry.
const INTERNAL: [&str; 3] = ["server.address", "server.port", "url.full"];

async fn get(gate: &str, user: &str, path: &str) -> (u16, Value) {
    let resp = identity::client_as_user(user)
        .await
        .get(format!("{gate}{path}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// (services, tag and process-tag keys, span count) of a v1 trace.
fn shape(trace: &Value) -> (BTreeSet<String>, BTreeSet<String>, usize) {
    let processes = trace["processes"].as_object().unwrap();
    let services = processes
        .values()
        .map(|p| p["serviceName"].as_str().unwrap().to_owned())
        .collect();
    let mut keys = BTreeSet::new();
    let spans = trace["spans"].as_array().unwrap();
    for s in spans {
        for t in s["tags"].as_array().into_iter().flatten() {
            keys.insert(t["key"].as_str().unwrap().to_owned());
        }
    }
    for p in processes.values() {
        for t in p["tags"].as_array().into_iter().flatten() {
            keys.insert(t["key"].as_str().unwrap().to_owned());
        }
    }
    (services, keys, spans.len())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_orders_trace_is_cut_to_each_roles_view() {
    let gate = telemetry_gate().await;
    let base = gate.base_url.clone();
    let p = Processes::start(&[], |name| export_through_gate(&base, name)).await;
    let resp = p.place_order("Ada Tracer", "ada.tracer@example.test").await;
    assert_eq!(resp.status(), 201);
    let trace_id = resp.headers()["x-trace-id"].to_str().unwrap().to_owned();

    // Stored, unfiltered: the whole journey, up to CRM applying the sixth status event. The
    // views below are read one after another and compared, so the trace must not grow between
    // them (waiting for the first event only, later events could land between two reads).
    let jaeger = Jaeger::from_env();
    let stored = eventually(
        "the order's whole trace across the three services",
        Duration::from_secs(60),
        || async {
            jaeger.trace(&trace_id).await.filter(|t| {
                t.named("process crm.order_status_changed", Some("crm-api"))
                    .len()
                    >= 6
                    && t.named("publish order.status_changed", Some("mes-api"))
                        .len()
                        >= 6
                    && t.services().len() == 3
            })
        },
    )
    .await;
    let path = format!("/api/traces/{trace_id}");

    // sre: the trace as stored, internals included.
    let (status, sre) = get(&base, "riley", &path).await;
    assert_eq!(status, 200);
    let (services, keys, spans) = shape(&sre["data"][0]);
    assert_eq!(services, set(&["shop-api", "crm-api", "mes-api"]));
    assert!(
        INTERNAL.iter().all(|k| keys.contains(*k)),
        "sre sees {keys:?}"
    );
    assert!(spans >= stored.spans.len());

    // support: every service, no internal attribute.
    let (status, support) = get(&base, "sam", &path).await;
    assert_eq!(status, 200);
    let (services, keys, support_spans) = shape(&support["data"][0]);
    assert_eq!(services, set(&["shop-api", "crm-api", "mes-api"]));
    assert!(
        INTERNAL.iter().all(|k| !keys.contains(*k)),
        "support sees {keys:?}"
    );
    assert_eq!(support["hiddenSpans"], 0);

    // production: MES, and from CRM only the messages that lead to MES.
    let (status, production) = get(&base, "pat", &path).await;
    assert_eq!(status, 200);
    let trace = &production["data"][0];
    let (services, keys, production_spans) = shape(trace);
    assert_eq!(services, set(&["crm-api", "mes-api"]));
    assert!(
        INTERNAL.iter().all(|k| !keys.contains(*k)),
        "production sees {keys:?}"
    );
    let processes = trace["processes"].as_object().unwrap();
    for span in trace["spans"].as_array().unwrap() {
        let service = processes[span["processID"].as_str().unwrap()]["serviceName"]
            .as_str()
            .unwrap();
        if service == "crm-api" {
            let kind = span["tags"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == "span.kind")
                .map(|t| t["value"].clone());
            assert_eq!(
                kind,
                Some("producer".into()),
                "production sees {}",
                span["operationName"]
            );
        }
    }
    // Every Shop span is hidden and counted (the trace may still grow between reads, so the
    // count is compared with what was stored before them).
    let hidden = production["hiddenSpans"].as_u64().unwrap() as usize;
    let shop_spans = stored
        .spans
        .iter()
        .filter(|s| s.service == "shop-api")
        .count();
    assert!(
        shop_spans > 0 && hidden >= shop_spans,
        "{hidden} hidden, {shop_spans} Shop spans"
    );
    assert!(production_spans < support_spans);

    // The same view through the v3 API.
    let (status, v3) = get(&base, "pat", &format!("/api/v3/traces/{trace_id}")).await;
    assert_eq!(status, 200);
    let v3_services: BTreeSet<String> = v3["result"]["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["resource"]["attributes"].as_array().unwrap().iter())
        .filter(|kv| kv["key"] == "service.name")
        .map(|kv| kv["value"]["stringValue"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(v3_services, set(&["crm-api", "mes-api"]));
    assert_eq!(v3["hiddenSpans"], production["hiddenSpans"]);

    // Customers see no trace, not even their own order's.
    let (status, body) = get(&base, "alice", &path).await;
    assert_eq!((status, &body["code"]), (403, &"no_trace_access".into()));
    p.stop().await;
}
