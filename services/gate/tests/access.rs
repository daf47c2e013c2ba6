//! Trace access by role through the gate, on one order-shaped trace written by the three
//! services with their own tokens (Shop → CRM → `order.created` → MES), read back through every
//! query endpoint as each dev-realm role: exactly which services, spans and attributes each one
//! gets, what is hidden and counted, and the audit trail of it all.

mod common;

use common::{attr, gate, hex, post, request, span, span_id, trace_id};
use printflow_runtime::Spawned;
use printflow_test_support::{eventually, identity, Jaeger};
use prost::Message;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// The trace's spans by name: (name, service, kind, parent name, attributes).
const SHOP_SERVER: &str = "POST /orders (shop)";
const SHOP_CLIENT: &str = "POST crm/orders";
const CRM_SERVER: &str = "POST /orders (crm)";
const CRM_DB: &str = "INSERT printflow_crm.orders";
const CRM_PUBLISH: &str = "publish order.created";
const MES_CONSUME: &str = "process mes.order-created";
const MES_SCHEDULE: &str = "schedule job";

/// Writes the order-shaped trace through `gate`, each service with its own token; returns its id.
async fn write_order_trace(gate: &Spawned, run: &str) -> [u8; 16] {
    let t = trace_id();
    let ids: Vec<[u8; 8]> = (0..7).map(|_| span_id()).collect();
    let internal = |extra: Vec<_>| {
        let mut v = vec![attr("server.address", "127.0.0.1"), attr("test.run", run)];
        v.extend(extra);
        v
    };
    let messaging = || vec![attr("messaging.system", "rabbitmq"), attr("test.run", run)];
    let writes = [
        (
            "shop-api",
            vec![
                span(
                    t,
                    ids[0],
                    None,
                    SHOP_SERVER,
                    2,
                    vec![attr("http.route", "/orders"), attr("test.run", run)],
                ),
                span(t, ids[1], Some(ids[0]), SHOP_CLIENT, 3, internal(vec![])),
            ],
        ),
        (
            "crm-api",
            vec![
                span(
                    t,
                    ids[2],
                    Some(ids[1]),
                    CRM_SERVER,
                    2,
                    vec![attr("test.run", run)],
                ),
                span(
                    t,
                    ids[3],
                    Some(ids[2]),
                    CRM_DB,
                    3,
                    internal(vec![attr("db.statement", "INSERT INTO orders VALUES ($1)")]),
                ),
                span(t, ids[4], Some(ids[2]), CRM_PUBLISH, 4, messaging()),
            ],
        ),
        (
            "mes-api",
            vec![
                span(t, ids[5], Some(ids[4]), MES_CONSUME, 5, messaging()),
                span(
                    t,
                    ids[6],
                    Some(ids[5]),
                    MES_SCHEDULE,
                    1,
                    internal(vec![attr("db.statement", "INSERT INTO jobs VALUES ($1)")]),
                ),
            ],
        ),
    ];
    for (service, spans) in writes {
        let token = identity::client_token(service).await;
        let body = request(vec![(service, spans)]).encode_to_vec();
        assert_eq!(
            post(&gate.base_url, Some(&token), "application/x-protobuf", body).await,
            200
        );
    }
    let jaeger = Jaeger::from_env();
    eventually(
        "the whole trace in Jaeger",
        Duration::from_secs(30),
        || async {
            jaeger
                .trace(&hex(&t))
                .await
                .filter(|tr| tr.spans.len() == 7)
        },
    )
    .await;
    t
}

/// GET `path` on the gate as the holder of `token`: status and JSON body.
async fn get(gate: &Spawned, token: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", gate.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The span names of a v1 trace, and the union of their tag keys plus the process tag keys.
fn v1_names_and_keys(trace: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for s in trace["spans"].as_array().unwrap() {
        names.insert(s["operationName"].as_str().unwrap().to_owned());
        for t in s["tags"].as_array().into_iter().flatten() {
            keys.insert(t["key"].as_str().unwrap().to_owned());
        }
    }
    for p in trace["processes"].as_object().unwrap().values() {
        for t in p["tags"].as_array().into_iter().flatten() {
            keys.insert(t["key"].as_str().unwrap().to_owned());
        }
    }
    (names, keys)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn services_of(trace: &Value) -> BTreeSet<String> {
    trace["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["serviceName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_role_sees_exactly_its_part_of_an_order_trace() {
    let audit = std::env::temp_dir().join(format!("gate-audit-{}.jsonl", uuid::Uuid::new_v4()));
    let gate = gate(&[("GATE_AUDIT_LOG", audit.display().to_string())]).await;
    let run = uuid::Uuid::new_v4().to_string();
    let id = hex(&write_order_trace(&gate, &run).await);
    let all = set(&[
        SHOP_SERVER,
        SHOP_CLIENT,
        CRM_SERVER,
        CRM_DB,
        CRM_PUBLISH,
        MES_CONSUME,
        MES_SCHEDULE,
    ]);
    let internal = ["db.statement", "server.address", "host.name"];

    // sre and admin: everything, unchanged.
    for user in ["riley", "ada"] {
        let token = identity::user_token(user).await;
        let (status, body) = get(&gate, &token, &format!("/api/traces/{id}")).await;
        assert_eq!(status, 200, "{user}");
        let (names, keys) = v1_names_and_keys(&body["data"][0]);
        assert_eq!(names, all, "{user}");
        assert!(
            internal.iter().all(|k| keys.contains(*k)),
            "{user}: {keys:?}"
        );
        assert_eq!(body["hiddenSpans"], 0, "{user}");
    }

    // support: every span, no internal attribute (service names stay).
    let sam = identity::user_token("sam").await;
    let (status, body) = get(&gate, &sam, &format!("/api/traces/{id}")).await;
    assert_eq!(status, 200);
    let (names, keys) = v1_names_and_keys(&body["data"][0]);
    assert_eq!(names, all);
    assert!(
        internal.iter().all(|k| !keys.contains(*k)),
        "support sees {keys:?}"
    );
    assert!(keys.contains("http.route") && keys.contains("messaging.system"));
    assert_eq!(
        services_of(&body["data"][0]),
        set(&["shop-api", "crm-api", "mes-api"])
    );

    // production: MES and the message that started its job, nothing else, no internals.
    let pat = identity::user_token("pat").await;
    let (status, body) = get(&gate, &pat, &format!("/api/traces/{id}")).await;
    assert_eq!(status, 200);
    let trace = &body["data"][0];
    let (names, keys) = v1_names_and_keys(trace);
    assert_eq!(names, set(&[CRM_PUBLISH, MES_CONSUME, MES_SCHEDULE]));
    assert!(
        internal.iter().all(|k| !keys.contains(*k)),
        "production sees {keys:?}"
    );
    assert_eq!(services_of(trace), set(&["crm-api", "mes-api"]));
    assert_eq!(trace["hiddenSpans"], 4);
    assert_eq!(body["hiddenSpans"], 4);

    // The same through the v3 API.
    let (status, body) = get(&gate, &pat, &format!("/api/v3/traces/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let mut v3_names = BTreeSet::new();
    for rs in body["result"]["resourceSpans"].as_array().unwrap() {
        for kv in rs["resource"]["attributes"].as_array().unwrap() {
            assert_ne!(kv["key"], "host.name", "v3 resource leaks host.name");
        }
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for s in ss["spans"].as_array().unwrap() {
                v3_names.insert(s["name"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(v3_names, set(&[CRM_PUBLISH, MES_CONSUME, MES_SCHEDULE]));
    assert_eq!(body["hiddenSpans"], 4);

    // Search: production finds the trace by MES, not by the Shop; service lists are cut.
    let tags = format!("%7B%22test.run%22%3A%22{run}%22%7D");
    let (_, found) = get(
        &gate,
        &pat,
        &format!("/api/traces?service=mes-api&tags={tags}&lookback=1h"),
    )
    .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["data"][0]["spans"].as_array().unwrap().len(), 3);
    let (_, none) = get(
        &gate,
        &pat,
        &format!("/api/traces?service=shop-api&tags={tags}&lookback=1h"),
    )
    .await;
    assert_eq!(none["data"], serde_json::json!([]));
    let (_, services) = get(&gate, &pat, "/api/services").await;
    assert_eq!(services["data"], serde_json::json!(["mes-api"]));
    let (_, services) = get(&gate, &pat, "/api/v3/services").await;
    assert_eq!(services["services"], serde_json::json!(["mes-api"]));
    let (_, services) = get(&gate, &sam, "/api/services").await;
    let listed: BTreeSet<String> = services["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    assert!(
        listed.is_superset(&set(&["shop-api", "crm-api", "mes-api"])),
        "{listed:?}"
    );
    let (_, ops) = get(&gate, &pat, "/api/services/shop-api/operations").await;
    assert_eq!(ops["data"], serde_json::json!([]));
    let (_, ops) = get(&gate, &pat, "/api/operations?service=mes-api").await;
    assert!(
        ops["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == MES_SCHEDULE),
        "{ops}"
    );
    let (status, metrics) = get(
        &gate,
        &pat,
        "/api/metrics/calls?service=shop-api&lookback=900000",
    )
    .await;
    assert_eq!((status, &metrics["metrics"]), (200, &serde_json::json!([])));
    let (_, deps) = get(&gate, &pat, "/api/dependencies?lookback=3600000").await;
    for link in deps["data"].as_array().unwrap() {
        assert_eq!(
            (&link["parent"], &link["child"]),
            (&"mes-api".into(), &"mes-api".into()),
            "{link}"
        );
    }

    // The whole matrix: every query endpoint (also under the UI's `/jaeger` prefix) for every
    // role. Customers and service clients get 403 on each; the others 200, and what each answer
    // holds stays inside the role's view: nothing of the Shop for production, no internal
    // attribute for support or production.
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let now = chrono::Utc::now();
    let (min, max) = (
        rfc3339(now - chrono::Duration::hours(1)),
        rfc3339(now + chrono::Duration::minutes(1)),
    );
    let endpoints = [
        "/api/services".to_owned(),
        "/api/services/mes-api/operations".to_owned(),
        "/api/services/shop-api/operations".to_owned(),
        "/api/operations?service=mes-api".to_owned(),
        format!("/api/traces?service=mes-api&tags={tags}&lookback=1h"),
        format!("/api/traces?service=shop-api&tags={tags}&lookback=1h"),
        format!("/api/traces/{id}"),
        format!("/api/traces?traceID={id}"),
        "/api/dependencies?lookback=3600000".to_owned(),
        "/api/metrics/calls?service=mes-api&service=shop-api&lookback=900000".to_owned(),
        "/api/metrics/minstep".to_owned(),
        "/api/v3/services".to_owned(),
        "/api/v3/operations?service=shop-api".to_owned(),
        format!("/api/v3/traces?query.service_name=mes-api&query.start_time_min={min}&query.start_time_max={max}"),
        format!("/api/v3/traces/{id}"),
    ];
    let alice = identity::user_token("alice").await;
    let shop = identity::client_token("shop-api").await;
    let riley = identity::user_token("riley").await;
    let ada = identity::user_token("ada").await;
    for path in endpoints
        .iter()
        .flat_map(|p| [p.clone(), format!("/jaeger{p}")])
    {
        for token in [&alice, &shop] {
            let (status, body) = get(&gate, token, &path).await;
            assert_eq!(
                (status, &body["code"]),
                (403, &"no_trace_access".into()),
                "{path}"
            );
        }
        for (who, token) in [
            ("sre", &riley),
            ("admin", &ada),
            ("support", &sam),
            ("production", &pat),
        ] {
            let (status, body) = get(&gate, token, &path).await;
            assert_eq!(status, 200, "{who} {path}: {body}");
            let text = body.to_string();
            if who == "production" {
                assert!(
                    !text.contains("shop-api"),
                    "production sees the Shop at {path}: {text}"
                );
            }
            if who == "support" || who == "production" {
                for key in internal {
                    assert!(!text.contains(key), "{who} sees {key} at {path}");
                }
                assert!(
                    !text.contains("printer-host"),
                    "{who} sees the host at {path}"
                );
            }
        }
    }

    // A trace production may not see answers exactly like one that does not exist.
    let shop_only = trace_id();
    let token = identity::client_token("shop-api").await;
    let body = request(vec![(
        "shop-api",
        vec![span(shop_only, span_id(), None, SHOP_SERVER, 2, vec![])],
    )]);
    assert_eq!(
        post(
            &gate.base_url,
            Some(&token),
            "application/x-protobuf",
            body.encode_to_vec()
        )
        .await,
        200
    );
    let jaeger = Jaeger::from_env();
    eventually("the Shop-only trace", Duration::from_secs(30), || async {
        jaeger.trace(&hex(&shop_only)).await
    })
    .await;
    let hidden = get(&gate, &pat, &format!("/api/traces/{}", hex(&shop_only))).await;
    let guessed_id = hex(&trace_id());
    let guessed = get(&gate, &pat, &format!("/api/traces/{guessed_id}")).await;
    assert_eq!(hidden.0, 404);
    assert_eq!(guessed.0, 404);
    assert_eq!(hidden.1["code"], guessed.1["code"]);
    assert_eq!(
        get(&gate, &pat, &format!("/api/v3/traces/{}", hex(&shop_only)))
            .await
            .0,
        404
    );

    // Jaeger's UI path is no way around the filter: a dot segment sent as is (a raw request,
    // since HTTP clients resolve them) does not reach Jaeger's API.
    for sneaky in [
        format!("/jaeger/../api/traces/{}", hex(&shop_only)),
        format!("/jaeger/%2e%2e/api/traces/{}", hex(&shop_only)),
        format!("/jaeger/static/..%2f..%2fapi/traces/{}", hex(&shop_only)),
        format!(
            "/api/services/%2e%2e/%2e%2e/api/traces/{}/operations",
            hex(&shop_only)
        ),
        format!("/api/traces/%2e%2e%2ftraces%2f{}", hex(&shop_only)),
    ] {
        let status = raw_get(&gate.base_url, &pat, &sneaky).await;
        assert_eq!(status, 404, "{sneaky}");
    }

    // The audit trail: one line per access, with who, which view and what was hidden.
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let production_trace = lines
        .iter()
        .find(|e| e["view"] == "production" && e["endpoint"] == "trace" && e["outcome"] == "ok")
        .expect("production's trace read audited");
    assert_eq!(production_trace["username"], "pat");
    assert_eq!(production_trace["spans"], 3);
    assert_eq!(production_trace["hidden_spans"], 4);
    assert_eq!(production_trace["request"], format!("/api/traces/{id}"));
    assert!(lines
        .iter()
        .any(|e| e["username"] == "alice" && e["outcome"] == "forbidden" && e["view"] == "none"));
    assert!(lines
        .iter()
        .any(|e| e["view"] == "production" && e["outcome"] == "not_found"));
    // Production read its trace by id three times: once above, twice in the matrix (with and
    // without the UI's prefix).
    let text = identity::metrics_text(&gate.base_url).await;
    let reads = printflow_metrics::scrape::Scrape::parse(&text)
        .unwrap()
        .value(
            "gate_trace_reads_total",
            &[
                ("view", "production"),
                ("endpoint", "trace"),
                ("outcome", "ok"),
            ],
        );
    assert_eq!(reads, Some(3.0), "{text}");
    let _ = std::fs::remove_file(&audit);
}

/// A GET of `path` exactly as written (no client-side normalisation); the status code.
async fn raw_get(base: &str, token: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let head = String::from_utf8_lossy(&response);
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}
