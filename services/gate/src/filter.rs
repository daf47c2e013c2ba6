//! Jaeger's trace answers cut down to a caller's [`View`]: spans the view does not show are
//! removed, and so are the attributes it hides from the spans it shows. Both query APIs are
//! covered, each in its own module over the shared rules here: `v1` (Jaeger's JSON model,
//! `/api/traces`) and `otlp` (OTLP/JSON, `/api/v3/traces`).
//!
//! The filters work on `serde_json::Value` in place, so that whatever Jaeger adds to its answers
//! and the gate does not know passes through untouched. What the gate does interpret (spans,
//! their attribute lists, processes and resources) it never passes on in a shape it cannot read:
//! a span that is not an object is removed, and where the view hides attributes an attribute
//! without a key is removed too, since nobody can tell what it holds. Nothing here panics on
//! unexpected input: missing fields, nulls and wrong types count as absent.

mod otlp;
mod v1;

use crate::policy::{RuleMask, View};
use serde_json::Value;
use std::collections::HashMap;

/// What a view removed from a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    /// Spans removed (not shown by any of the caller's rules).
    pub spans: usize,
    /// Attributes (key/value pairs) removed from the spans, events, links, processes and
    /// resources that were shown.
    pub attributes: usize,
}

impl Hidden {
    /// Adds the counts of `other` (e.g. of the next trace of a search result).
    pub fn add(&mut self, other: Hidden) {
        self.spans = self.spans.saturating_add(other.spans);
        self.attributes = self.attributes.saturating_add(other.attributes);
    }
}

/// Filters one trace of Jaeger's v1 query API in place (the objects in `data` of
/// GET /api/traces and GET /api/traces/{id}). Returns what was hidden.
pub fn filter_v1_trace(view: &View, trace: &mut Value) -> Hidden {
    if view.sees_everything() {
        return Hidden::default();
    }
    v1::filter(view, trace)
}

/// Filters an OTLP/JSON TracesData object in place: `{"resourceSpans": [...]}` as returned
/// inside `result` by Jaeger's v3 API (GET /api/v3/traces/{id}, GET /api/v3/traces?query...).
/// It may hold several traces.
pub fn filter_otlp_traces(view: &View, traces: &mut Value) -> Hidden {
    if view.sees_everything() {
        return Hidden::default();
    }
    otlp::filter(view, traces)
}

/// Whether a filtered v1 trace still has a span (search results keep only those).
pub fn v1_has_spans(trace: &Value) -> bool {
    trace
        .get("spans")
        .and_then(Value::as_array)
        .is_some_and(|spans| !spans.is_empty())
}

/// Whether a filtered OTLP/JSON TracesData object still has a span (search results keep only
/// those).
pub fn otlp_has_spans(traces: &Value) -> bool {
    array(traces, "resourceSpans")
        .flat_map(|rs| array(rs, "scopeSpans"))
        .any(|ss| array(ss, "spans").next().is_some())
}

/// The elements of `value[key]`, none when it is not an array.
fn array<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `value[key]` as a string, if it is one.
fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// What decides whether a span is shown, read from either API's JSON.
struct SpanFacts<'a> {
    trace: &'a str,
    id: &'a str,
    /// `None`: the span names no service the gate can read; only a `"*"` rule shows it by
    /// service.
    service: Option<&'a str>,
    /// A producer or consumer span, or one with `messaging.system`.
    messaging: bool,
    /// The ids of its parents in its own trace (parent, references, links).
    parents: Vec<&'a str>,
}

/// Whether a span kind names a messaging span: v1's `producer`/`consumer` tag values and the
/// OTLP enum names (`SPAN_KIND_PRODUCER`), in any case.
fn is_messaging_kind(kind: &str) -> bool {
    let kind = kind.to_ascii_lowercase();
    let kind = kind.strip_prefix("span_kind_").unwrap_or(&kind);
    kind == "producer" || kind == "consumer"
}

/// For each span, the view's rules that show it: by its service, and, for the rules with
/// `messaging_parents`, as a messaging span that leads to a span the rule shows. The walk goes
/// up from each shown span through messaging parents only, so a messaging span is reached
/// through a chain of messaging spans and never through, say, the HTTP span that published it.
fn shown_by(view: &View, spans: &[SpanFacts<'_>]) -> Vec<RuleMask> {
    let mut masks: Vec<RuleMask> = spans
        .iter()
        .map(|s| view.service_rules(s.service))
        .collect();
    let walkers = view.messaging_parent_rules();
    if walkers == 0 {
        return masks;
    }
    let mut by_id: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        by_id.entry((span.trace, span.id)).or_default().push(i);
    }
    for bit in (0..RuleMask::BITS)
        .map(|b| 1 << b)
        .filter(|bit| walkers & bit != 0)
    {
        let mut todo: Vec<usize> = (0..spans.len()).filter(|&i| masks[i] & bit != 0).collect();
        while let Some(child) = todo.pop() {
            let trace = spans[child].trace;
            for parent in &spans[child].parents {
                for &p in by_id.get(&(trace, *parent)).into_iter().flatten() {
                    if spans[p].messaging && masks[p] & bit == 0 {
                        masks[p] |= bit;
                        todo.push(p);
                    }
                }
            }
        }
    }
    masks
}

/// Removes from the attribute list `list` (`[{"key": .., ..}]`, v1 tags and log fields as well
/// as OTLP attributes) what `view` hides from something the rules `shown_by` show; returns how
/// many entries it removed. An absent or null list is left alone; when the rules hide anything,
/// an entry without a string key, or a list that is not a list, is removed as unreadable.
fn strip(view: &View, shown_by: RuleMask, list: Option<&mut Value>) -> usize {
    if !view.hides_anything(shown_by) {
        return 0;
    }
    match list {
        None | Some(Value::Null) => 0,
        Some(Value::Array(entries)) => {
            let before = entries.len();
            entries
                .retain(|entry| str_at(entry, "key").is_some_and(|key| !view.hides(shown_by, key)));
            before - entries.len()
        }
        Some(other) => {
            *other = Value::Array(Vec::new());
            1
        }
    }
}

/// [`strip`] on the attribute list `list_key` of each object in `value[key]` (v1 logs' fields,
/// OTLP events' and links' attributes). When the rules hide anything, what is not such an object
/// is removed like an unreadable attribute.
fn strip_each(
    view: &View,
    shown_by: RuleMask,
    value: &mut Value,
    key: &str,
    list_key: &str,
) -> usize {
    if !view.hides_anything(shown_by) {
        return 0;
    }
    match value.get_mut(key) {
        None | Some(Value::Null) => 0,
        Some(Value::Array(items)) => {
            let before = items.len();
            items.retain(Value::is_object);
            let unreadable = before - items.len();
            items
                .iter_mut()
                .map(|item| strip(view, shown_by, item.get_mut(list_key)))
                .sum::<usize>()
                + unreadable
        }
        Some(other) => {
            *other = Value::Array(Vec::new());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use serde_json::json;

    /// The real policy, so that the fixtures of both APIs test what runs.
    pub(super) fn view(roles: &[&str]) -> View {
        let policy = Policy::from_toml(include_str!("../../../config/gate/policy.toml")).unwrap();
        policy.view_for(roles.iter().copied()).unwrap()
    }

    /// A policy with a rule that hides nothing (every rule of the real one that does not see
    /// everything hides `internal`): `floor` is the real `production` rule without `hide`, and
    /// `support` hides the internal keys the fixtures of both APIs hold. "floor" sorts before
    /// "support", so the rule bits are those of production and support in the real policy.
    const HIDES_NOTHING: &str = r#"
[classes]
internal = [
    "db.statement", "db.query.*", "server.address", "server.port", "client.address",
    "url.full", "messaging.header.*", "host.*", "hostname", "ip", "process.*", "code.*",
]

[[rule]]
role = "support"
services = "*"
hide = ["internal"]

[[rule]]
role = "floor"
services = ["mes-api"]
messaging_parents = true
"#;

    /// A view of [`HIDES_NOTHING`].
    pub(super) fn view_with_floor(roles: &[&str]) -> View {
        let policy = Policy::from_toml(HIDES_NOTHING).unwrap();
        policy.view_for(roles.iter().copied()).unwrap()
    }

    #[test]
    fn a_view_that_sees_everything_touches_nothing() {
        let mut trace =
            json!({"spans": [{"spanID": "a", "tags": [{"key": "db.statement"}]}, "junk"]});
        let before = trace.clone();
        assert_eq!(
            filter_v1_trace(&view(&["sre"]), &mut trace),
            Hidden::default()
        );
        assert_eq!(
            filter_otlp_traces(&view(&["admin", "production"]), &mut trace),
            Hidden::default()
        );
        assert_eq!(trace, before);
    }

    #[test]
    fn messaging_kinds_are_recognised_in_both_spellings() {
        for kind in [
            "producer",
            "CONSUMER",
            "SPAN_KIND_PRODUCER",
            "span_kind_consumer",
        ] {
            assert!(is_messaging_kind(kind), "{kind}");
        }
        for kind in ["server", "client", "SPAN_KIND_INTERNAL", "", "SPAN_KIND_"] {
            assert!(!is_messaging_kind(kind), "{kind}");
        }
    }

    #[test]
    fn messaging_parents_are_followed_through_messaging_spans_only() {
        let facts = |id, service, messaging, parents: &[&'static str]| SpanFacts {
            trace: "t",
            id,
            service: Some(service),
            messaging,
            parents: parents.to_vec(),
        };
        let spans = [
            facts("shop-publish", "shop-api", true, &[]),
            facts("crm-consume", "crm-api", true, &["shop-publish"]),
            facts("crm-publish", "crm-api", true, &["crm-consume"]),
            facts(
                "mes-consume",
                "mes-api",
                true,
                &["crm-publish", "elsewhere"],
            ),
            facts("crm-http", "crm-api", false, &[]),
            facts("crm-publish-2", "crm-api", true, &["crm-http"]),
            facts("mes-consume-2", "mes-api", true, &["crm-http"]),
            facts("crm-other", "crm-api", true, &[]),
        ];
        let masks = shown_by(&view(&["production"]), &spans);
        assert_eq!(masks, [1, 1, 1, 1, 0, 0, 1, 0]);
        // Another trace with the same span ids leads nowhere.
        let mut other = facts("mes-consume", "mes-api", true, &["crm-publish"]);
        other.trace = "u";
        let masks = shown_by(
            &view(&["production"]),
            &[facts("crm-publish", "crm-api", true, &[]), other],
        );
        assert_eq!(masks, [0, 1]);
    }

    #[test]
    fn strip_removes_hidden_and_unreadable_entries_only_when_hiding() {
        let support = view(&["support"]);
        let mut list = json!([{"key": "db.statement"}, {"key": "http.route"}, {"no": "key"}, 7]);
        assert_eq!(strip(&support, 1, Some(&mut list)), 3);
        assert_eq!(list, json!([{"key": "http.route"}]));
        let mut odd = json!("db.statement=SELECT 1");
        assert_eq!(strip(&support, 1, Some(&mut odd)), 1);
        assert_eq!(odd, json!([]));
        // Production hides internal attributes too, and drops what it cannot read.
        let mut list = json!([{"key": "db.statement"}, {"key": "http.route"}, 7]);
        assert_eq!(strip(&view(&["production"]), 1, Some(&mut list)), 2);
        assert_eq!(list, json!([{"key": "http.route"}]));
        // A rule that hides nothing leaves a list exactly as it is, unreadable entries included.
        let floor = view_with_floor(&["floor"]);
        let mut list = json!([{"key": "db.statement"}, 7]);
        assert_eq!(strip(&floor, 1, Some(&mut list)), 0);
        assert_eq!(list, json!([{"key": "db.statement"}, 7]));
        let mut odd = json!("db.statement=SELECT 1");
        assert_eq!(strip(&floor, 1, Some(&mut odd)), 0);
        assert_eq!(odd, json!("db.statement=SELECT 1"));
        let mut span = json!({"logs": [{"fields": [{"key": "host.name"}]}, "host.name=x"]});
        assert_eq!(strip_each(&floor, 1, &mut span, "logs", "fields"), 0);
        assert_eq!(
            span,
            json!({"logs": [{"fields": [{"key": "host.name"}]}, "host.name=x"]})
        );
        assert_eq!(strip(&support, 1, None), 0);
        let mut span = json!({"logs": [{"fields": [{"key": "host.name"}]}, "host.name=x", null]});
        assert_eq!(strip_each(&support, 1, &mut span, "logs", "fields"), 3);
        assert_eq!(span, json!({"logs": [{"fields": []}]}));
        let mut span = json!({"events": "x"});
        assert_eq!(
            strip_each(&support, 1, &mut span, "events", "attributes"),
            1
        );
        assert_eq!(strip_each(&support, 1, &mut span, "links", "attributes"), 0);
    }

    #[test]
    fn hidden_adds_up() {
        let mut total = Hidden {
            spans: 1,
            attributes: 2,
        };
        total.add(Hidden {
            spans: 3,
            attributes: 4,
        });
        assert_eq!(
            total,
            Hidden {
                spans: 4,
                attributes: 6
            }
        );
    }
}
