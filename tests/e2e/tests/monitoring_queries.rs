//! Every PromQL expression in the repo — each Grafana panel target and each alerting or
//! recording rule — against a real Prometheus scraping the real services after real traffic:
//! it must parse, a panel must return data, and a rule may only use metrics that exist.

mod common;

use common::{port_of, Stack};
use printflow_test_support::{eventually, identity, Monitoring, ScrapeTarget, TestVhost};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `expr` of every panel target in the dashboards, with its panel title.
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(v: &Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                let title = map
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or(title)
                    .to_owned();
                if let Some(Value::Array(targets)) = map.get("targets") {
                    for t in targets {
                        if let Some(expr) = t.get("expr").and_then(Value::as_str) {
                            if !expr.trim().is_empty() {
                                out.push((title.clone(), expr.to_owned()));
                            }
                        }
                    }
                }
                for (k, child) in map {
                    if k != "targets" {
                        walk(child, &title, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, title, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let dir = repo().join("config/grafana/dashboards");
    for entry in std::fs::read_dir(&dir).expect("config/grafana/dashboards") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            walk(&v, "", &mut out);
        }
    }
    out
}

/// Every rule `expr` (alerting and recording) in config/prometheus/rules, with its name.
fn rule_exprs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("config/prometheus/rules")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // Minimal YAML walk: `- alert:`/`- record:` names, then `expr:` as a scalar or a block.
        let lines: Vec<&str> = text.lines().collect();
        let mut name = String::new();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i].trim();
            if let Some(n) = l
                .strip_prefix("- alert:")
                .or_else(|| l.strip_prefix("- record:"))
            {
                name = n.trim().to_owned();
            } else if let Some(rest) = l.strip_prefix("expr:") {
                let rest = rest.trim();
                if rest == "|" || rest == ">" || rest == "|-" || rest == ">-" {
                    let indent = lines[i].len() - lines[i].trim_start().len();
                    let mut block = Vec::new();
                    i += 1;
                    while i < lines.len()
                        && (lines[i].trim().is_empty()
                            || lines[i].len() - lines[i].trim_start().len() > indent)
                    {
                        block.push(lines[i].trim());
                        i += 1;
                    }
                    out.push((name.clone(), block.join(" ")));
                    continue;
                }
                out.push((name.clone(), rest.trim_matches('\'').to_owned()));
            }
            i += 1;
        }
    }
    out
}

/// Grafana's variables, replaced by what a dashboard would use.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("${__rate_interval}", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("${job}", ".*")
        .replace("$job", ".*")
        .replace("${service}", ".*")
        .replace("$service", ".*")
        .replace("${status}", ".*")
        .replace("$status", ".*")
        .replace("${queue}", ".*")
        .replace("$queue", ".*")
}

const FUNCTIONS_AND_KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "histogram_quantile",
    "topk",
    "bottomk",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "vector",
    "scalar",
    "time",
    "timestamp",
    "abs",
    "clamp_min",
    "clamp_max",
    "label_replace",
    "absent",
    "offset",
    "bool",
    "sort_desc",
    "sort",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "quantile_over_time",
    "changes",
    "resets",
    "round",
    "ceil",
    "floor",
    "group",
    "count_values",
    "quantile",
    "stddev",
    "label_join",
    "absent_over_time",
    "present_over_time",
];

/// Metric names an expression reads (a heuristic good enough for our own rules).
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Drop strings, label matchers, ranges and the label lists of by/without/on/ignoring/group_*.
    let mut s = String::new();
    let mut depth_brace = 0;
    let mut in_str: Option<char> = None;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_str = Some(c),
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => {
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                }
                s.push(' ');
            }
            _ if depth_brace > 0 => {}
            _ => s.push(c),
        }
    }
    let re_lists = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let mut cleaned = s.clone();
    for kw in re_lists {
        let mut out = String::new();
        let mut rest = cleaned.as_str();
        while let Some(pos) = find_word(rest, kw) {
            let (before, from_kw) = rest.split_at(pos);
            out.push_str(before);
            let after_kw = from_kw
                .strip_prefix(kw)
                .expect("find_word found the keyword here");
            if let Some(stripped) = after_kw.trim_start().strip_prefix('(') {
                rest = stripped.split_once(')').map_or("", |(_, tail)| tail);
            } else {
                rest = after_kw;
            }
            out.push(' ');
        }
        out.push_str(rest);
        cleaned = out;
    }
    cleaned
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
        .filter(|t| !t.chars().next().unwrap().is_ascii_digit())
        .filter(|t| !FUNCTIONS_AND_KEYWORDS.contains(t))
        .filter(|t| t.contains('_') || t.contains(':') || *t == "up")
        .map(str::to_owned)
        .collect()
}

fn find_word(hay: &str, word: &str) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut start = 0;
    while let Some(i) = hay.get(start..).and_then(|rest| rest.find(word)) {
        let at = start + i;
        let before = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let end = at + word.len();
        let after =
            end >= bytes.len() || !(bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_');
        if before && after {
            return Some(at);
        }
        start = end;
    }
    None
}

/// One span sent straight to Jaeger over OTLP/HTTP, so span metrics exist even though the
/// in-process services of this test have no tracer.
async fn send_probe_span() {
    let endpoint = printflow_test_support::jaeger::otlp_endpoint();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let body = json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "monitoring-probe"}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": [{
            "traceId": uuid::Uuid::new_v4().simple().to_string(),
            "spanId": format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0),
            "name": "probe", "kind": 2,
            "startTimeUnixNano": (now - 5_000_000).to_string(),
            "endTimeUnixNano": now.to_string()}]}]}]});
    let r = reqwest::Client::new()
        .post(format!("{endpoint}/v1/traces"))
        .json(&body)
        .send()
        .await
        .expect("OTLP/HTTP export to Jaeger");
    assert!(r.status().is_success(), "{}", r.status());
}

/// One span of the Shop's through the telemetry gate (with its token), so the gate's ingestion
/// series exist for the rules that read them.
async fn send_span_through_gate(gate: &str) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("shop-api".into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
                    span_id: uuid::Uuid::new_v4().as_bytes()[..8].to_vec(),
                    name: "probe".into(),
                    kind: 2,
                    start_time_unix_nano: now - 5_000_000,
                    end_time_unix_nano: now,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = reqwest::Client::new()
        .post(format!("{gate}/v1/traces"))
        .bearer_auth(identity::client_token("shop-api").await)
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_dashboard_panel_returns_data_and_every_rule_reads_existing_metrics() {
    let panels = dashboard_exprs();
    let rules = rule_exprs();
    assert!(
        panels.len() >= 10,
        "dashboards have {} queries",
        panels.len()
    );
    assert!(rules.len() >= 10, "rules: {}", rules.len());

    let vhost = TestVhost::new().await;
    let stack = Stack::start(&vhost.amqp_url).await;
    let gate = common::processes::telemetry_gate().await;
    let rabbit_port = std::env::var("PRINTFLOW_TEST_RABBITMQ_PROMETHEUS_PORT")
        .unwrap_or_else(|_| "15692".to_owned());
    let mut targets = vec![
        ScrapeTarget::service("shop", port_of(&stack.shop)),
        ScrapeTarget::service("crm", port_of(&stack.crm)),
        ScrapeTarget::service("mes", port_of(&stack.mes)),
        ScrapeTarget::service("gate", port_of(&gate.base_url)),
        ScrapeTarget::rabbitmq_queues(&vhost.name),
        ScrapeTarget {
            job: "rabbitmq".to_owned(),
            address: format!("127.0.0.1:{rabbit_port}"),
            path: "/metrics".to_owned(),
            params: Vec::new(),
            oauth2: false,
        },
    ];
    for (job, port) in [("jaeger", 8888), ("jaeger-spanmetrics", 8889)] {
        targets.push(ScrapeTarget {
            job: job.to_owned(),
            address: format!("127.0.0.1:{port}"),
            path: "/metrics".to_owned(),
            params: Vec::new(),
            oauth2: false,
        });
    }
    let mon = Monitoring::start(&targets).await;

    // Real traffic: searches (one empty), a rejected edit, a failed and a good save, an order
    // to SHIPPED, a poison message, a span for Jaeger's span metrics.
    send_probe_span().await;
    send_span_through_gate(&gate.base_url).await;
    stack
        .get(&format!("{}/catalog/products?q=hook", stack.shop))
        .await;
    stack
        .get(&format!("{}/catalog/products?q=zzqxqzz", stack.shop))
        .await;
    let (design, version) = stack.saved_design().await;
    let (status, _) = stack
        .post(
            &format!("{}/designs/{design}/edits", stack.shop),
            &json!({"operations": [{"op": "scale", "factor": 50.0}]}),
        )
        .await;
    assert_eq!(status, 422);
    for _ in 0..2 {
        stack
            .post(
                &format!("{}/designs/{design}/edits", stack.shop),
                &json!({"operations": [{"op": "scale", "factor": 5.0}]}),
            )
            .await;
    }
    let (status, _) = stack
        .post(
            &format!("{}/designs/{design}/versions", stack.shop),
            &json!({}),
        )
        .await;
    assert_eq!(status, 422, "too big to print");
    let order = stack.place_order(&design, version, 7).await;
    stack
        .wait_for_status(&order, "SHIPPED", Duration::from_secs(60))
        .await;
    vhost
        .publish_raw("printflow.events", "order.created", "poison")
        .await;

    // Let every target be scraped a few times, so rates over 1m have points.
    let jobs = targets.len() + 2;
    eventually("every target up", Duration::from_secs(60), || async {
        (mon.value("count(up == 1)").await == Some(jobs as f64)).then_some(())
    })
    .await;
    eventually("a dead letter counted", Duration::from_secs(60), || async {
        let v = mon
            .value(r#"sum(rabbitmq_detailed_queue_messages{queue=~".*\\.dlq"})"#)
            .await?;
        (v >= 1.0).then_some(())
    })
    .await;
    send_probe_span().await;
    send_span_through_gate(&gate.base_url).await;
    // rate() needs two points after the traffic: wait for five more scrapes of every target.
    let since = mon.value("time()").await.expect("prometheus time");
    eventually(
        "five scrapes after the traffic",
        Duration::from_secs(30),
        || async {
            let now = mon.value("time()").await?;
            let scraped = mon.value("min(count_over_time(up[10s]))").await?;
            (now > since + 5.0 && scraped >= 5.0).then_some(())
        },
    )
    .await;

    let mut failures = Vec::new();
    for (title, expr) in &panels {
        let q = substitute(expr);
        match mon.query(&q).await {
            Err(e) => failures.push(format!("panel `{title}`: `{q}` does not parse: {e}")),
            Ok(r) if r.is_empty() => {
                failures.push(format!("panel `{title}`: `{q}` returned no data"))
            }
            Ok(_) => {}
        }
    }
    for (name, expr) in &rules {
        if let Err(e) = mon.query(expr).await {
            failures.push(format!("rule `{name}`: `{expr}` does not parse: {e}"));
            continue;
        }
        for metric in metric_names(expr) {
            let q = format!("count({{__name__=\"{metric}\"}})");
            if mon.value(&q).await.unwrap_or(0.0) == 0.0 {
                failures.push(format!(
                    "rule `{name}` reads `{metric}`, which has no series"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );

    mon.stop().await;
    stack.shutdown().await;
    vhost.delete().await;
}
