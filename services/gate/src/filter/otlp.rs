//! OTLP/JSON `TracesData`, as Jaeger's v3 API answers: `resourceSpans` (a resource, i.e. a
//! service, with its attributes) hold `scopeSpans` (an instrumentation scope) hold `spans`. A
//! span names its parent by `parentSpanId`; `links` point at other spans. One answer may hold
//! several traces, so parents are looked up by trace id and span id together.

use super::{array, is_messaging_kind, shown_by, str_at, strip, strip_each, Hidden, SpanFacts};
use crate::policy::{RuleMask, View};
use serde_json::Value;

/// Filters an OTLP/JSON object (see [`super::filter_otlp_traces`]).
pub(super) fn filter(view: &View, traces: &mut Value) -> Hidden {
    let masks = {
        let mut facts = Vec::new();
        for resource in array(traces, "resourceSpans").filter(|rs| rs.is_object()) {
            let service = service_name(resource);
            for scope in array(resource, "scopeSpans").filter(|ss| ss.is_object()) {
                for span in array(scope, "spans").filter(|s| s.is_object()) {
                    facts.push(span_facts(span, service));
                }
            }
        }
        shown_by(view, &facts)
    };
    let mut masks = masks.into_iter();
    let mut hidden = Hidden::default();
    let Some(resources) = list(traces, "resourceSpans") else {
        return hidden;
    };
    // Walks the same objects in the same order as above, so each span meets its mask; anything
    // that is not an object, or holds no list where one belongs, goes (nothing to show in it).
    resources.retain_mut(|resource| {
        let mut resource_rules: RuleMask = 0;
        if let Some(scopes) = list(resource, "scopeSpans") {
            scopes.retain_mut(|scope| {
                let mut scope_rules: RuleMask = 0;
                if let Some(spans) = list(scope, "spans") {
                    spans.retain_mut(|span| {
                        let shown = if span.is_object() {
                            masks.next().unwrap_or(0)
                        } else {
                            0
                        };
                        if shown == 0 {
                            hidden.spans += 1;
                            return false;
                        }
                        scope_rules |= shown;
                        hidden.attributes += strip(view, shown, span.get_mut("attributes"))
                            + strip_each(view, shown, span, "events", "attributes")
                            + strip_each(view, shown, span, "links", "attributes");
                        true
                    });
                }
                if scope_rules == 0 {
                    return false;
                }
                if let Some(meta) = scope.get_mut("scope") {
                    hidden.attributes += strip(view, scope_rules, meta.get_mut("attributes"));
                }
                resource_rules |= scope_rules;
                true
            });
        }
        if resource_rules == 0 {
            // Also when it never held a span: an empty resource would still name its service.
            return false;
        }
        if let Some(meta) = resource.get_mut("resource") {
            hidden.attributes += strip(view, resource_rules, meta.get_mut("attributes"));
        }
        true
    });
    hidden
}

/// `value[key]` as a list to filter. A value that is not an object gives none; a missing, null
/// or other value becomes an empty list (the gate passes on no shape it cannot read), so the
/// caller removes what holds nothing.
fn list<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Vec<Value>> {
    let object = value.as_object_mut()?;
    let entry = object
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    entry.as_array_mut()
}

/// The resource's `service.name` (a string value), if it has one.
fn service_name(resource: &Value) -> Option<&str> {
    resource
        .get("resource")
        .map(|r| array(r, "attributes"))
        .into_iter()
        .flatten()
        .find(|kv| str_at(kv, "key") == Some("service.name"))
        .and_then(|kv| kv.get("value"))
        .and_then(|v| str_at(v, "stringValue"))
}

/// What decides whether an OTLP span is shown.
fn span_facts<'a>(span: &'a Value, service: Option<&'a str>) -> SpanFacts<'a> {
    let trace = str_at(span, "traceId").unwrap_or_default();
    // OTLP's enum as a number (PRODUCER 4, CONSUMER 5) or by name (`SPAN_KIND_PRODUCER`).
    let messaging_kind = match span.get("kind") {
        Some(Value::Number(n)) => matches!(n.as_u64(), Some(4 | 5)),
        Some(Value::String(name)) => is_messaging_kind(name),
        _ => false,
    };
    let messaging = messaging_kind
        || array(span, "attributes").any(|kv| str_at(kv, "key") == Some("messaging.system"));
    let parents = str_at(span, "parentSpanId")
        .filter(|id| !id.is_empty())
        .into_iter()
        .chain(
            array(span, "links")
                .filter(|l| str_at(l, "traceId").is_none_or(|t| t == trace))
                .filter_map(|l| str_at(l, "spanId")),
        )
        .collect();
    SpanFacts {
        trace,
        id: str_at(span, "spanId").unwrap_or_default(),
        service,
        messaging,
        parents,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        filter_otlp_traces, otlp_has_spans,
        tests::{view, view_with_floor},
        Hidden,
    };
    use serde_json::{json, Value};

    fn kv(key: &str, value: &str) -> Value {
        json!({"key": key, "value": {"stringValue": value}})
    }

    fn span(
        trace: &str,
        id: &str,
        parent: &str,
        name: &str,
        kind: Value,
        attributes: Vec<Value>,
    ) -> Value {
        json!({
            "traceId": trace, "spanId": id, "parentSpanId": parent, "name": name, "kind": kind,
            "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": attributes,
            "events": [], "links": [], "status": {},
        })
    }

    fn resource(service: &str, extra: Vec<Value>, scopes: Vec<(&str, Vec<Value>)>) -> Value {
        let mut attributes = vec![kv("service.name", service)];
        attributes.extend(extra);
        let scopes: Vec<Value> = scopes
            .into_iter()
            .map(|(scope, spans)| json!({"scope": {"name": scope, "attributes": [kv("code.namespace", scope)]}, "spans": spans}))
            .collect();
        json!({"resource": {"attributes": attributes}, "scopeSpans": scopes})
    }

    /// The order of the v1 tests (shop-api → crm-api → `order.created` → mes-api) as trace t1,
    /// with a second trace t2 of the shop alone (a search answer holds several traces).
    fn order_traces() -> Value {
        let mut db = span(
            "t1",
            "s4",
            "s3",
            "INSERT orders",
            json!(3),
            vec![
                kv("db.system", "postgresql"),
                kv("db.statement", "INSERT INTO orders VALUES ($1)"),
                kv("server.address", "127.0.0.1"),
            ],
        );
        db["events"] = json!([{"name": "retry", "attributes": [kv("db.query.text", "SELECT 1"), kv("attempt", "2")]}]);
        let mut job = span(
            "t1",
            "s7",
            "s6",
            "create job",
            json!("SPAN_KIND_INTERNAL"),
            vec![],
        );
        job["links"] = json!([{"traceId": "t1", "spanId": "s5", "attributes": [kv("messaging.header.x", "y")]}]);
        json!({"resourceSpans": [
            resource("shop-api", vec![kv("host.name", "build-1")], vec![("http", vec![
                span("t1", "s1", "", "POST /orders", json!(2), vec![kv("client.address", "10.0.0.9")]),
                span("t1", "s2", "s1", "POST", json!(3), vec![kv("url.full", "http://127.0.0.1:8081/orders")]),
                span("t2", "x1", "", "GET /catalog/products", json!(2), vec![]),
            ])]),
            resource("crm-api", vec![kv("process.pid", "42"), kv("service.version", "0.1.0")], vec![
                ("http", vec![
                    span("t1", "s3", "s2", "POST /orders", json!("SPAN_KIND_SERVER"), vec![]),
                    db,
                ]),
                ("messaging", vec![span("t1", "s5", "s3", "publish order.created", json!(4), vec![
                    kv("messaging.system", "rabbitmq"),
                ])]),
            ]),
            resource("mes-api", vec![kv("host.name", "build-1")], vec![("messaging", vec![
                span("t1", "s6", "s5", "process order.created", json!("SPAN_KIND_CONSUMER"), vec![kv("server.address", "127.0.0.1")]),
                job,
            ])]),
        ]})
    }

    /// (service, scope, span ids) of what is left.
    fn left(traces: &Value) -> Vec<(String, String, Vec<String>)> {
        let mut out = Vec::new();
        for rs in traces["resourceSpans"].as_array().unwrap() {
            let service = rs["resource"]["attributes"][0]["value"]["stringValue"]
                .as_str()
                .unwrap();
            for ss in rs["scopeSpans"].as_array().unwrap() {
                let ids = ss["spans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["spanId"].as_str().unwrap().to_owned());
                out.push((
                    service.to_owned(),
                    ss["scope"]["name"].as_str().unwrap().to_owned(),
                    ids.collect(),
                ));
            }
        }
        out
    }

    fn row(service: &str, scope: &str, ids: &[&str]) -> (String, String, Vec<String>) {
        (
            service.to_owned(),
            scope.to_owned(),
            ids.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    fn keys(list: &Value) -> Vec<&str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn sre_sees_everything_unchanged() {
        let mut traces = order_traces();
        assert_eq!(
            filter_otlp_traces(&view(&["sre"]), &mut traces),
            Hidden::default()
        );
        assert_eq!(traces, order_traces());
    }

    #[test]
    fn support_sees_every_span_without_internals() {
        let mut traces = order_traces();
        let hidden = filter_otlp_traces(&view(&["support"]), &mut traces);
        assert_eq!(
            left(&traces),
            [
                row("shop-api", "http", &["s1", "s2", "x1"]),
                row("crm-api", "http", &["s3", "s4"]),
                row("crm-api", "messaging", &["s5"]),
                row("mes-api", "messaging", &["s6", "s7"]),
            ]
        );
        let crm = &traces["resourceSpans"][1];
        assert_eq!(
            keys(&crm["resource"]["attributes"]),
            ["service.name", "service.version"]
        );
        let db = &crm["scopeSpans"][0]["spans"][1];
        assert_eq!(keys(&db["attributes"]), ["db.system"]);
        assert_eq!(keys(&db["events"][0]["attributes"]), ["attempt"]);
        assert_eq!(
            keys(
                &traces["resourceSpans"][2]["scopeSpans"][0]["spans"][1]["links"][0]["attributes"]
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["scope"]["attributes"]),
            Vec::<&str>::new()
        );
        // Spans: s1, s2, s4 2 + 1 event, s6, s7's link; resources 3; scopes 4 (`code.*`).
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 14
            }
        );
    }

    #[test]
    fn production_sees_mes_and_the_message_that_started_it() {
        let mut traces = order_traces();
        let hidden = filter_otlp_traces(&view(&["production"]), &mut traces);
        assert_eq!(
            left(&traces),
            [
                row("crm-api", "messaging", &["s5"]),
                row("mes-api", "messaging", &["s6", "s7"])
            ]
        );
        // Production hides internal attributes from the spans it sees (the crm-api producer
        // included), their links, scopes and resources.
        let crm = &traces["resourceSpans"][0];
        assert_eq!(
            keys(&crm["resource"]["attributes"]),
            ["service.name", "service.version"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["scope"]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["spans"][0]["attributes"]),
            ["messaging.system"]
        );
        let mes = &traces["resourceSpans"][1];
        assert_eq!(keys(&mes["resource"]["attributes"]), ["service.name"]);
        assert_eq!(
            keys(&mes["scopeSpans"][0]["scope"]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][0]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][1]["links"][0]["attributes"]),
            Vec::<&str>::new()
        );
        // Spans: s6, s7's link; resources: crm 1, mes 1; scopes: crm messaging, mes messaging.
        assert_eq!(
            hidden,
            Hidden {
                spans: 5,
                attributes: 6
            }
        );
        assert!(otlp_has_spans(&traces));

        // A link to the producer, without parenthood, leads there too.
        let mut traces = order_traces();
        traces["resourceSpans"][2]["scopeSpans"][0]["spans"][0]["parentSpanId"] = json!(null);
        filter_otlp_traces(&view(&["production"]), &mut traces);
        assert_eq!(
            left(&traces),
            [
                row("crm-api", "messaging", &["s5"]),
                row("mes-api", "messaging", &["s6", "s7"])
            ]
        );

        // The shop-only trace alone: nothing left, not even an empty resource naming the shop.
        let mut shop = order_traces();
        shop["resourceSpans"].as_array_mut().unwrap().truncate(1);
        filter_otlp_traces(&view(&["production"]), &mut shop);
        assert_eq!(shop, json!({"resourceSpans": []}));
        assert!(!otlp_has_spans(&shop));
    }

    #[test]
    fn support_and_production_see_the_union() {
        let mut traces = order_traces();
        let hidden = filter_otlp_traces(&view(&["support", "production"]), &mut traces);
        assert_eq!(
            left(&traces),
            [
                row("shop-api", "http", &["s1", "s2", "x1"]),
                row("crm-api", "http", &["s3", "s4"]),
                row("crm-api", "messaging", &["s5"]),
                row("mes-api", "messaging", &["s6", "s7"]),
            ]
        );
        // Both rules hide the internals: also what both show (crm-api's producer and its
        // resource, mes-api) loses them.
        let crm = &traces["resourceSpans"][1];
        assert_eq!(
            keys(&crm["resource"]["attributes"]),
            ["service.name", "service.version"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["spans"][1]["attributes"]),
            ["db.system"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][1]["spans"][0]["attributes"]),
            ["messaging.system"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][1]["scope"]["attributes"]),
            Vec::<&str>::new()
        );
        let mes = &traces["resourceSpans"][2];
        assert_eq!(keys(&mes["resource"]["attributes"]), ["service.name"]);
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][0]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][1]["links"][0]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&traces["resourceSpans"][0]["resource"]["attributes"]),
            ["service.name"]
        );
        // As support alone: spans s1, s2, s4 2 + 1 event, s6, s7's link; resources 3; scopes 4.
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 14
            }
        );

        // With a rule that hides nothing (`floor`: production's services, no `hide`), what it
        // shows keeps everything; the rest loses what support does not see.
        let mut traces = order_traces();
        let hidden = filter_otlp_traces(&view_with_floor(&["support", "floor"]), &mut traces);
        assert_eq!(left(&traces).len(), 4);
        let crm = &traces["resourceSpans"][1];
        // crm-api has a span floor shows: its resource keeps everything.
        assert_eq!(
            keys(&crm["resource"]["attributes"]),
            ["service.name", "process.pid", "service.version"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["spans"][1]["attributes"]),
            ["db.system"]
        );
        assert_eq!(
            keys(&crm["scopeSpans"][0]["scope"]["attributes"]),
            Vec::<&str>::new()
        );
        assert_eq!(
            keys(&crm["scopeSpans"][1]["scope"]["attributes"]),
            ["code.namespace"]
        );
        let mes = &traces["resourceSpans"][2];
        assert_eq!(
            keys(&mes["resource"]["attributes"]),
            ["service.name", "host.name"]
        );
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][0]["attributes"]),
            ["server.address"]
        );
        assert_eq!(
            keys(&mes["scopeSpans"][0]["spans"][1]["links"][0]["attributes"]),
            ["messaging.header.x"]
        );
        assert_eq!(
            keys(&traces["resourceSpans"][0]["resource"]["attributes"]),
            ["service.name"]
        );
        // s1, s2, s4 2 + 1 event; shop's resource 1; scopes: shop http, crm http.
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 8
            }
        );
    }

    #[test]
    fn malformed_input_does_not_panic_and_shows_nothing_unreadable() {
        for roles in [&["support"][..], &["production"]] {
            let v = view(roles);
            for mut odd in [
                json!(null),
                json!("x"),
                json!({}),
                json!({"resourceSpans": null}),
                json!({"resourceSpans": "x"}),
                json!({"resourceSpans": [null, 1, {"scopeSpans": "x"}, {"resource": 1, "scopeSpans": [null, {"spans": {}}]}]}),
                json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": 3}]}, "scopeSpans": [{"scope": 2, "spans": [
                    null, 5, {"kind": -1, "parentSpanId": 7, "attributes": "x", "events": [1, {"attributes": {}}], "links": [null, {"traceId": 1}]},
                    {"spanId": "a", "kind": 4.5, "links": "x"},
                ]}]}]}),
            ] {
                filter_otlp_traces(&v, &mut odd);
                if roles == ["production"] {
                    assert!(!otlp_has_spans(&odd), "{odd}");
                }
                if let Some(rs) = odd.get("resourceSpans") {
                    assert!(rs.is_array(), "{odd}");
                }
            }
        }
    }
}
