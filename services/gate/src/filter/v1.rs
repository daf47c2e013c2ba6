//! Jaeger's v1 JSON model: `{"traceID", "spans": [..], "processes": {"p1": {..}}}`, where a
//! span names its process by `processID` (or, in some answers, embeds it as `process`) and its
//! parents by `references` (CHILD_OF, and FOLLOWS_FROM for links).

use super::{array, is_messaging_kind, shown_by, str_at, strip, strip_each, Hidden, SpanFacts};
use crate::policy::{RuleMask, View};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Filters one v1 trace (see [`super::filter_v1_trace`]).
pub(super) fn filter(view: &View, trace: &mut Value) -> Hidden {
    let Some(trace) = trace.as_object_mut() else {
        return Hidden::default();
    };
    let mut hidden = Hidden::default();
    let masks = {
        let trace_id = trace
            .get("traceID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let processes = trace.get("processes").and_then(Value::as_object);
        let facts: Vec<SpanFacts<'_>> = trace
            .get("spans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|span| span.is_object())
            .map(|span| facts(span, trace_id, processes))
            .collect();
        shown_by(view, &facts)
    };

    // Which rules show some span of each process: they decide what the process keeps.
    let mut process_rules: HashMap<String, RuleMask> = HashMap::new();
    match trace.get_mut("spans") {
        None | Some(Value::Null) => {}
        Some(Value::Array(spans)) => {
            let mut masks = masks.into_iter();
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
                if let Some(id) = str_at(span, "processID") {
                    *process_rules.entry(id.to_owned()).or_default() |= shown;
                }
                hidden.attributes += strip(view, shown, span.get_mut("tags"))
                    + strip_each(view, shown, span, "logs", "fields");
                if let Some(process) = span.get_mut("process") {
                    hidden.attributes += strip(view, shown, process.get_mut("tags"));
                }
                true
            });
        }
        // Not a list of spans: nothing the gate can show.
        Some(other) => *other = Value::Array(Vec::new()),
    }

    match trace.get_mut("processes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(processes)) => {
            // A process no shown span uses goes, so a hidden span's service name does not leak.
            processes.retain(|id, process| match process_rules.get(id) {
                Some(&shown) => {
                    hidden.attributes += strip(view, shown, process.get_mut("tags"));
                    true
                }
                None => false,
            });
        }
        Some(other) => *other = Value::Object(Map::new()),
    }
    hidden
}

/// What decides whether a v1 span is shown.
fn facts<'a>(
    span: &'a Value,
    trace_id: &'a str,
    processes: Option<&'a Map<String, Value>>,
) -> SpanFacts<'a> {
    let trace = str_at(span, "traceID").unwrap_or(trace_id);
    let process = span.get("process").filter(|p| p.is_object()).or_else(|| {
        let id = str_at(span, "processID")?;
        processes?.get(id)
    });
    let messaging = array(span, "tags").any(|tag| match str_at(tag, "key") {
        Some("span.kind") => str_at(tag, "value").is_some_and(is_messaging_kind),
        Some("messaging.system") => true,
        _ => false,
    });
    let parents = array(span, "references")
        .filter(|r| str_at(r, "traceID").is_none_or(|t| t == trace))
        .filter_map(|r| str_at(r, "spanID"))
        // An older field of Jaeger's model, still read by some clients.
        .chain(str_at(span, "parentSpanID"))
        .collect();
    SpanFacts {
        trace,
        id: str_at(span, "spanID").unwrap_or_default(),
        service: process.and_then(|p| str_at(p, "serviceName")),
        messaging,
        parents,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        filter_v1_trace,
        tests::{view, view_with_floor},
        v1_has_spans, Hidden,
    };
    use serde_json::{json, Value};

    fn tag(key: &str, value: impl Into<Value>) -> Value {
        json!({"key": key, "type": "string", "value": value.into()})
    }

    fn span(id: &str, process: &str, name: &str, parent: Option<&str>, tags: Vec<Value>) -> Value {
        let references: Vec<Value> = parent
            .map(|p| json!({"refType": "CHILD_OF", "traceID": "t1", "spanID": p}))
            .into_iter()
            .collect();
        json!({
            "traceID": "t1", "spanID": id, "operationName": name, "references": references,
            "startTime": 1, "duration": 2, "tags": tags, "logs": [], "processID": process,
            "warnings": null,
        })
    }

    /// An order: shop-api calls crm-api, which stores it and publishes `order.created`
    /// (through its outbox), which mes-api consumes.
    fn order_trace() -> Value {
        let mut db = span(
            "s4",
            "p2",
            "INSERT orders",
            Some("s3"),
            vec![
                tag("span.kind", "client"),
                tag("db.system", "postgresql"),
                tag("db.statement", "INSERT INTO orders VALUES ($1)"),
                tag("server.address", "127.0.0.1"),
                tag("server.port", 5432),
            ],
        );
        db["logs"] = json!([{"timestamp": 3, "fields": [tag("event", "retry"), tag("db.query.text", "SELECT 1")]}]);
        json!({
            "traceID": "t1",
            "spans": [
                span("s1", "p1", "POST /orders", None, vec![
                    tag("span.kind", "server"), tag("http.route", "/orders"), tag("client.address", "10.0.0.9"),
                ]),
                span("s2", "p1", "POST", Some("s1"), vec![
                    tag("span.kind", "client"), tag("url.full", "http://127.0.0.1:8081/orders"),
                    tag("url.template", "/orders"),
                ]),
                span("s3", "p2", "POST /orders", Some("s2"), vec![tag("span.kind", "server"), tag("enduser.id", "alice")]),
                db,
                span("s5", "p2", "publish order.created", Some("s3"), vec![
                    tag("span.kind", "producer"), tag("messaging.system", "rabbitmq"),
                    tag("messaging.header.traceparent", "00-t1-s5-01"),
                ]),
                span("s6", "p3", "process order.created", Some("s5"), vec![
                    tag("span.kind", "consumer"), tag("messaging.system", "rabbitmq"), tag("server.address", "127.0.0.1"),
                ]),
                span("s7", "p3", "create job", Some("s6"), vec![tag("span.kind", "internal"), tag("code.function", "intake")]),
            ],
            "processes": {
                "p1": {"serviceName": "shop-api", "tags": [tag("host.name", "build-1"), tag("service.version", "0.1.0")]},
                "p2": {"serviceName": "crm-api", "tags": [tag("host.name", "build-1"), tag("process.pid", 42), tag("ip", "10.0.0.2")]},
                "p3": {"serviceName": "mes-api", "tags": [tag("hostname", "build-1"), tag("service.name", "mes-api")]},
            },
            "warnings": null,
        })
    }

    fn span_ids(trace: &Value) -> Vec<&str> {
        trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["spanID"].as_str().unwrap())
            .collect()
    }

    fn keys(list: &Value) -> Vec<&str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|t| t["key"].as_str().unwrap())
            .collect()
    }

    fn tags<'a>(trace: &'a Value, span: &str) -> Vec<&'a str> {
        let span = trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["spanID"] == span)
            .unwrap();
        keys(&span["tags"])
    }

    fn process_ids(trace: &Value) -> Vec<&str> {
        trace["processes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn sre_sees_the_trace_unchanged() {
        let mut trace = order_trace();
        assert_eq!(
            filter_v1_trace(&view(&["sre"]), &mut trace),
            Hidden::default()
        );
        assert_eq!(trace, order_trace());
    }

    #[test]
    fn support_sees_every_span_without_internals() {
        let mut trace = order_trace();
        let hidden = filter_v1_trace(&view(&["support"]), &mut trace);
        assert_eq!(span_ids(&trace), ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
        assert_eq!(tags(&trace, "s1"), ["span.kind", "http.route"]);
        assert_eq!(tags(&trace, "s2"), ["span.kind", "url.template"]);
        assert_eq!(tags(&trace, "s3"), ["span.kind", "enduser.id"]);
        assert_eq!(tags(&trace, "s4"), ["span.kind", "db.system"]);
        assert_eq!(keys(&trace["spans"][3]["logs"][0]["fields"]), ["event"]);
        assert_eq!(tags(&trace, "s5"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s6"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s7"), ["span.kind"]);
        assert_eq!(process_ids(&trace), ["p1", "p2", "p3"]);
        assert_eq!(keys(&trace["processes"]["p1"]["tags"]), ["service.version"]);
        assert_eq!(keys(&trace["processes"]["p2"]["tags"]), Vec::<&str>::new());
        assert_eq!(keys(&trace["processes"]["p3"]["tags"]), ["service.name"]);
        assert_eq!(trace["processes"]["p3"]["serviceName"], "mes-api");
        // s1 1, s2 1, s4 3 + 1 log field, s5 1, s6 1, s7 1; processes 1 + 3 + 1.
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
        let mut trace = order_trace();
        let hidden = filter_v1_trace(&view(&["production"]), &mut trace);
        assert_eq!(span_ids(&trace), ["s5", "s6", "s7"]);
        assert_eq!(process_ids(&trace), ["p2", "p3"]);
        // Production hides internal attributes from the spans it sees, the crm-api producer
        // included, and from their processes.
        assert_eq!(tags(&trace, "s5"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s6"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s7"), ["span.kind"]);
        assert_eq!(keys(&trace["processes"]["p2"]["tags"]), Vec::<&str>::new());
        assert_eq!(keys(&trace["processes"]["p3"]["tags"]), ["service.name"]);
        assert_eq!(trace["processes"]["p2"]["serviceName"], "crm-api");
        assert_eq!(trace["processes"]["p3"]["serviceName"], "mes-api");
        // s5 1, s6 1, s7 1; processes p2 3, p3 1.
        assert_eq!(
            hidden,
            Hidden {
                spans: 4,
                attributes: 7
            }
        );
        assert!(v1_has_spans(&trace));
    }

    #[test]
    fn support_and_production_see_the_union() {
        let mut trace = order_trace();
        let hidden = filter_v1_trace(&view(&["production", "support"]), &mut trace);
        assert_eq!(span_ids(&trace), ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
        // Both rules hide the internals, so also the spans both show lose them.
        assert_eq!(tags(&trace, "s1"), ["span.kind", "http.route"]);
        assert_eq!(tags(&trace, "s2"), ["span.kind", "url.template"]);
        assert_eq!(tags(&trace, "s3"), ["span.kind", "enduser.id"]);
        assert_eq!(tags(&trace, "s4"), ["span.kind", "db.system"]);
        assert_eq!(keys(&trace["spans"][3]["logs"][0]["fields"]), ["event"]);
        assert_eq!(tags(&trace, "s5"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s6"), ["span.kind", "messaging.system"]);
        assert_eq!(tags(&trace, "s7"), ["span.kind"]);
        assert_eq!(process_ids(&trace), ["p1", "p2", "p3"]);
        assert_eq!(keys(&trace["processes"]["p1"]["tags"]), ["service.version"]);
        assert_eq!(keys(&trace["processes"]["p2"]["tags"]), Vec::<&str>::new());
        assert_eq!(keys(&trace["processes"]["p3"]["tags"]), ["service.name"]);
        // s1 1, s2 1, s4 3 + 1 log field, s5 1, s6 1, s7 1; processes 1 + 3 + 1.
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 14
            }
        );

        // With a rule that hides nothing (`floor`: production's services, no `hide`), the spans
        // it shows keep everything, and so do their processes; the others lose what support
        // does not see.
        let mut trace = order_trace();
        let hidden = filter_v1_trace(&view_with_floor(&["floor", "support"]), &mut trace);
        assert_eq!(span_ids(&trace), ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
        assert_eq!(tags(&trace, "s1"), ["span.kind", "http.route"]);
        assert_eq!(tags(&trace, "s2"), ["span.kind", "url.template"]);
        assert_eq!(tags(&trace, "s3"), ["span.kind", "enduser.id"]);
        assert_eq!(tags(&trace, "s4"), ["span.kind", "db.system"]);
        assert_eq!(keys(&trace["spans"][3]["logs"][0]["fields"]), ["event"]);
        assert_eq!(
            tags(&trace, "s5"),
            [
                "span.kind",
                "messaging.system",
                "messaging.header.traceparent"
            ]
        );
        assert_eq!(
            tags(&trace, "s6"),
            ["span.kind", "messaging.system", "server.address"]
        );
        assert_eq!(tags(&trace, "s7"), ["span.kind", "code.function"]);
        // p2 is crm-api's: floor shows its producer span s5, so it keeps everything.
        assert_eq!(
            keys(&trace["processes"]["p2"]["tags"]),
            ["host.name", "process.pid", "ip"]
        );
        assert_eq!(keys(&trace["processes"]["p1"]["tags"]), ["service.version"]);
        assert_eq!(
            keys(&trace["processes"]["p3"]["tags"]),
            ["hostname", "service.name"]
        );
        // s1 1, s2 1, s4 3 + 1 log field; p1 1.
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 7
            }
        );
    }

    #[test]
    fn a_trace_without_mes_is_empty_for_production() {
        let mut trace = order_trace();
        trace["spans"].as_array_mut().unwrap().truncate(4);
        let hidden = filter_v1_trace(&view(&["production"]), &mut trace);
        assert!(!v1_has_spans(&trace));
        assert_eq!(trace["processes"], json!({}));
        assert_eq!(hidden.spans, 4);
    }

    #[test]
    fn an_embedded_process_names_the_service() {
        let mut trace = json!({"spans": [
            {"spanID": "a", "process": {"serviceName": "mes-api", "tags": [tag("host.name", "x")]}},
            {"spanID": "b", "process": {"serviceName": "crm-api"}},
        ]});
        let original = trace.clone();
        let hidden = filter_v1_trace(&view(&["production"]), &mut trace);
        assert_eq!(span_ids(&trace), ["a"]);
        // The embedded process loses its internals like a listed one.
        assert_eq!(
            trace["spans"][0]["process"],
            json!({"serviceName": "mes-api", "tags": []})
        );
        assert_eq!(
            hidden,
            Hidden {
                spans: 1,
                attributes: 1
            }
        );
        let mut trace = original;
        let hidden = filter_v1_trace(&view(&["support"]), &mut trace);
        assert_eq!(span_ids(&trace), ["a", "b"]);
        assert_eq!(
            trace["spans"][0]["process"],
            json!({"serviceName": "mes-api", "tags": []})
        );
        assert_eq!(
            hidden,
            Hidden {
                spans: 0,
                attributes: 1
            }
        );
    }

    #[test]
    fn malformed_traces_do_not_panic_and_show_nothing_unreadable() {
        let support = view(&["support"]);
        let production = view(&["production"]);
        for mut odd in [
            json!(null),
            json!("trace"),
            json!([1, 2]),
            json!({}),
            json!({"spans": null, "processes": null}),
            json!({"spans": "s1", "processes": [1]}),
            json!({"spans": [null, 1, "x", [], {}], "processes": {"p1": null}}),
            json!({"spans": [{"spanID": 1, "processID": 2, "tags": "x", "logs": [null, {"fields": 3}], "references": [null, {"spanID": 5}]}]}),
            json!({"spans": [{"spanID": "a", "tags": [{"key": "span.kind", "value": 4}], "references": "x", "process": 1}], "processes": {"p": {"serviceName": 3}}}),
        ] {
            let mut copy = odd.clone();
            filter_v1_trace(&support, &mut odd);
            filter_v1_trace(&production, &mut copy);
            assert!(!v1_has_spans(&copy), "{copy}");
            if let Some(spans) = odd.get("spans") {
                assert!(spans.is_null() || spans.is_array(), "{odd}");
            }
        }
    }
}
