//! One trace (Jaeger's v1 JSON, already cut to the viewer's view) as a summary row and as a
//! waterfall: spans in start order, indented under their parents, a bar each on the trace's
//! time line, errors marked, events listed, and the spans the viewer may not see as a counted
//! gap, never silently.

use super::html::{esc, millis, time};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

/// A trace as one row of the traces page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The trace id.
    pub trace_id: String,
    /// `service: operation` of its first span.
    pub root: String,
    /// Start, microseconds since the epoch.
    pub start: i64,
    /// From the first start to the last end, microseconds.
    pub duration: i64,
    /// Visible spans.
    pub spans: usize,
    /// Visible spans with an error.
    pub errors: usize,
    /// Spans hidden by the viewer's view.
    pub hidden: u64,
}

/// A span as the waterfall needs it.
struct Row<'a> {
    id: &'a str,
    parent: Option<&'a str>,
    service: &'a str,
    operation: &'a str,
    start: i64,
    duration: i64,
    error: bool,
    events: Vec<String>,
}

fn rows(trace: &Value) -> Vec<Row<'_>> {
    let processes = &trace["processes"];
    let mut rows: Vec<Row<'_>> = trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let tag = |key: &str| {
                s["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|t| t["key"] == key)
                    .map(|t| t["value"].clone())
            };
            let error = tag("error") == Some(Value::Bool(true))
                || tag("otel.status_code").and_then(|v| v.as_str().map(|v| v == "ERROR"))
                    == Some(true);
            let events = s["logs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|log| {
                    log["fields"]
                        .as_array()?
                        .iter()
                        .find(|f| f["key"] == "event")
                        .and_then(|f| f["value"].as_str())
                        .map(str::to_owned)
                })
                .collect();
            Row {
                id: s["spanID"].as_str().unwrap_or_default(),
                parent: s["references"]
                    .as_array()
                    .and_then(|r| r.first())
                    .and_then(|r| r["spanID"].as_str()),
                service: s["processID"]
                    .as_str()
                    .and_then(|p| processes[p]["serviceName"].as_str())
                    .unwrap_or("?"),
                operation: s["operationName"].as_str().unwrap_or_default(),
                start: s["startTime"].as_i64().unwrap_or_default(),
                duration: s["duration"].as_i64().unwrap_or_default(),
                error,
                events,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.start);
    rows
}

impl Summary {
    /// The summary of one trace.
    pub fn of(trace: &Value) -> Summary {
        let rows = rows(trace);
        let start = rows.iter().map(|r| r.start).min().unwrap_or_default();
        let end = rows
            .iter()
            .map(|r| r.start + r.duration)
            .max()
            .unwrap_or_default();
        Summary {
            trace_id: trace["traceID"].as_str().unwrap_or_default().to_owned(),
            root: rows
                .first()
                .map(|r| format!("{}: {}", r.service, r.operation))
                .unwrap_or_default(),
            start,
            duration: end - start,
            spans: rows.len(),
            errors: rows.iter().filter(|r| r.error).count(),
            hidden: trace["hiddenSpans"].as_u64().unwrap_or_default(),
        }
    }
}

/// The waterfall of `trace`, `hidden` of whose spans the viewer may not see.
pub fn render(trace: &Value, hidden: usize) -> String {
    let rows = rows(trace);
    let summary = Summary::of(trace);
    let total = summary.duration.max(1);
    let by_id: HashMap<&str, &Row<'_>> = rows.iter().map(|r| (r.id, r)).collect();
    let depth = |row: &Row<'_>| {
        let mut d = 0;
        let mut parent = row.parent;
        while let Some(p) = parent.and_then(|p| by_id.get(p)) {
            d += 1;
            parent = p.parent;
            if d > 64 {
                break;
            }
        }
        d
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<p>Started {}, {} in all, {} {}{}.</p>",
        time(summary.start),
        millis(summary.duration),
        summary.spans,
        if summary.spans == 1 { "span" } else { "spans" },
        if summary.errors > 0 {
            format!(
                r#", <span class="error">{} with errors</span>"#,
                summary.errors
            )
        } else {
            String::new()
        }
    );
    if hidden > 0 {
        let _ = write!(
            out,
            r#"<p class="gap" role="note"><strong>{hidden} {} hidden</strong> by your role: this trace has parts you may not see. Spans that follow hidden ones are marked.</p>"#,
            if hidden == 1 { "span" } else { "spans" }
        );
    }
    out.push_str(r#"<table><thead><tr><th>Service</th><th>Operation</th><th class="num">Duration</th><th class="wide">Time line</th></tr></thead><tbody>"#);
    for row in &rows {
        let left = (row.start - summary.start) as f64 / total as f64 * 100.0;
        let width = row.duration as f64 / total as f64 * 100.0;
        let after_hidden = row.parent.is_some_and(|p| !by_id.contains_key(p));
        let _ = write!(
            out,
            r#"<tr id="span-{}"{}><td>{}</td><td class="op" style="--d:{}">{}{}{}{}</td><td class="num">{}</td><td class="wide"><div class="bar"><span class="{}" style="left:{left:.2}%;width:{width:.2}%"></span></div></td></tr>"#,
            esc(row.id),
            if row.error { r#" class="error""# } else { "" },
            esc(row.service),
            depth(row),
            if after_hidden {
                r#"<span class="muted" title="its parent span is hidden from you">⋯ </span>"#
            } else {
                ""
            },
            esc(row.operation),
            if row.error { " (error)" } else { "" },
            row.events
                .iter()
                .map(|e| format!(r#"<br><span class="muted">event: {}</span>"#, esc(e)))
                .collect::<String>(),
            millis(row.duration),
            if row.error { "err" } else { "" },
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trace() -> Value {
        json!({
            "traceID": "t1",
            "hiddenSpans": 2,
            "processes": {"p1": {"serviceName": "crm-api"}, "p2": {"serviceName": "mes-api"}},
            "spans": [
                {"spanID": "b", "operationName": "process <job>", "processID": "p2",
                 "references": [{"refType": "CHILD_OF", "spanID": "a"}],
                 "startTime": 1_000_500, "duration": 1_000,
                 "tags": [{"key": "otel.status_code", "value": "ERROR"}],
                 "logs": [{"fields": [{"key": "event", "value": "dead-lettered"}]}]},
                {"spanID": "a", "operationName": "publish order.created", "processID": "p1",
                 "references": [{"refType": "CHILD_OF", "spanID": "hidden-parent"}],
                 "startTime": 1_000_000, "duration": 400, "tags": []}
            ]
        })
    }

    #[test]
    fn a_summary_spans_the_whole_trace() {
        assert_eq!(
            Summary::of(&trace()),
            Summary {
                trace_id: "t1".into(),
                root: "crm-api: publish order.created".into(),
                start: 1_000_000,
                duration: 1_500,
                spans: 2,
                errors: 1,
                hidden: 2,
            }
        );
    }

    #[test]
    fn the_waterfall_counts_the_gap_and_escapes_names() {
        let html = render(&trace(), 2);
        assert!(html.contains("<strong>2 spans hidden</strong>"), "{html}");
        assert!(html.contains("process &lt;job&gt; (error)"), "{html}");
        assert!(html.contains("event: dead-lettered"));
        assert!(
            html.contains("its parent span is hidden"),
            "the span after the gap is marked"
        );
        // The child is indented under its parent, in start order.
        let a = html.find("publish order.created").unwrap();
        let b = html.find("process &lt;job&gt;").unwrap();
        assert!(a < b);
        assert!(html.contains(r#"<td class="op" style="--d:1">"#));
        assert!(!render(&trace(), 0).contains("spans hidden"));
    }
}
