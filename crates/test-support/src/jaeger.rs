//! Reading traces back from the real Jaeger through its HTTP query API (`/api/traces/{id}`,
//! `/api/traces?service=…&tags=…`, `/api/services`), in a shape tests can assert on.

use serde_json::Value;
use std::collections::BTreeMap;

/// Jaeger's query API.
#[derive(Debug, Clone)]
pub struct Jaeger {
    /// Base URL, e.g. `http://127.0.0.1:16687`.
    pub base: String,
    /// HTTP client.
    http: reqwest::Client,
}

/// One span as the tests see it.
#[derive(Debug, Clone)]
pub struct SpanView {
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id, if it has a CHILD_OF reference.
    pub parent_id: Option<String>,
    /// Span ids it links to (FOLLOWS_FROM references).
    pub links: Vec<String>,
    /// Operation (span) name.
    pub name: String,
    /// `service.name` of the process that emitted it.
    pub service: String,
    /// Tags (attributes), including `span.kind`, `otel.status_code`, `error`.
    pub tags: BTreeMap<String, Value>,
    /// Events: (name, attributes).
    pub events: Vec<(String, BTreeMap<String, Value>)>,
}

impl SpanView {
    /// `span.kind` (`server`, `client`, `producer`, `consumer`), if not internal.
    pub fn kind(&self) -> Option<&str> {
        self.tags.get("span.kind").and_then(Value::as_str)
    }

    /// A tag rendered as a string (numbers and booleans too).
    pub fn tag(&self, key: &str) -> Option<String> {
        self.tags.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// Whether the span's status is ERROR.
    pub fn is_error(&self) -> bool {
        self.tag("otel.status_code").as_deref() == Some("ERROR")
            || self.tags.get("error") == Some(&Value::Bool(true))
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&BTreeMap<String, Value>> {
        self.events.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
}

/// A whole trace.
#[derive(Debug, Clone)]
pub struct TraceView {
    /// Trace id (hex).
    pub trace_id: String,
    /// Every span.
    pub spans: Vec<SpanView>,
    /// The raw JSON, for searching it whole (e.g. for personal data).
    pub raw: Value,
}

impl TraceView {
    /// Spans named `name` (emitted by `service` if given).
    pub fn named<'a>(&'a self, name: &'a str, service: Option<&'a str>) -> Vec<&'a SpanView> {
        self.spans
            .iter()
            .filter(|s| s.name == name && service.is_none_or(|svc| s.service == svc))
            .collect()
    }

    /// The span with this id.
    pub fn by_id(&self, id: &str) -> Option<&SpanView> {
        self.spans.iter().find(|s| s.span_id == id)
    }

    /// The direct parent of `span`.
    pub fn parent_of(&self, span: &SpanView) -> Option<&SpanView> {
        span.parent_id.as_deref().and_then(|p| self.by_id(p))
    }

    /// Whether `ancestor` is `span`'s parent, grandparent, ….
    pub fn is_ancestor(&self, ancestor: &SpanView, span: &SpanView) -> bool {
        let mut cur = self.parent_of(span);
        while let Some(p) = cur {
            if p.span_id == ancestor.span_id {
                return true;
            }
            cur = self.parent_of(p);
        }
        false
    }

    /// Services that contributed spans.
    pub fn services(&self) -> Vec<String> {
        let mut s: Vec<String> = self.spans.iter().map(|s| s.service.clone()).collect();
        s.sort();
        s.dedup();
        s
    }
}

fn kv_map(list: Option<&Value>) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|kv| Some((kv["key"].as_str()?.to_owned(), kv["value"].clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_trace(t: &Value) -> TraceView {
    let processes = &t["processes"];
    let spans = t["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .map(|s| {
                    let refs = s["references"].as_array().cloned().unwrap_or_default();
                    let parent_id = refs
                        .iter()
                        .find(|r| r["refType"] == "CHILD_OF")
                        .and_then(|r| r["spanID"].as_str())
                        .map(str::to_owned);
                    let links = refs
                        .iter()
                        .filter(|r| r["refType"] == "FOLLOWS_FROM")
                        .filter_map(|r| r["spanID"].as_str().map(str::to_owned))
                        .collect();
                    let pid = s["processID"].as_str().unwrap_or_default();
                    let events = s["logs"]
                        .as_array()
                        .map(|logs| {
                            logs.iter()
                                .map(|l| {
                                    let fields = kv_map(l.get("fields"));
                                    let name = fields
                                        .get("event")
                                        .and_then(Value::as_str)
                                        .unwrap_or_default()
                                        .to_owned();
                                    (name, fields)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    SpanView {
                        span_id: s["spanID"].as_str().unwrap_or_default().to_owned(),
                        parent_id,
                        links,
                        name: s["operationName"].as_str().unwrap_or_default().to_owned(),
                        service: processes[pid]["serviceName"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        tags: kv_map(s.get("tags")),
                        events,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    TraceView {
        trace_id: t["traceID"].as_str().unwrap_or_default().to_owned(),
        spans,
        raw: t.clone(),
    }
}

/// Jaeger's own OTLP/HTTP base URL, behind the gate: `PRINTFLOW_TEST_OTLP_ENDPOINT` (default
/// `http://127.0.0.1:14318`). Append `/v1/traces` to post.
pub fn otlp_endpoint() -> String {
    std::env::var("PRINTFLOW_TEST_OTLP_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:14318".to_owned())
}

impl Jaeger {
    /// From `PRINTFLOW_TEST_JAEGER_API` (default `http://127.0.0.1:16687`, Jaeger's own query
    /// port behind the telemetry gate: tests read what was stored, unfiltered).
    pub fn from_env() -> Jaeger {
        Jaeger {
            base: std::env::var("PRINTFLOW_TEST_JAEGER_API")
                .unwrap_or_else(|_| "http://127.0.0.1:16687".to_owned()),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path_and_query: &str) -> Option<Value> {
        let resp = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json().await.ok()
    }

    /// The trace with this id, if Jaeger has it.
    pub async fn trace(&self, trace_id: &str) -> Option<TraceView> {
        let v = self.get(&format!("/api/traces/{trace_id}")).await?;
        v["data"].as_array()?.first().map(parse_trace)
    }

    /// Service names Jaeger knows.
    pub async fn services(&self) -> Vec<String> {
        self.get("/api/services")
            .await
            .and_then(|v| {
                v["data"].as_array().map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Traces of `service` in the last hour whose spans carry all `tags`.
    pub async fn find(&self, service: &str, tags: &[(&str, &str)]) -> Vec<TraceView> {
        let tags: serde_json::Map<String, Value> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        let tags = Value::Object(tags).to_string();
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/traces", self.base),
            &[
                ("service", service),
                ("tags", tags.as_str()),
                ("lookback", "1h"),
                ("limit", "20"),
            ],
        )
        .expect("valid url");
        let v = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or_default(),
            _ => Value::Null,
        };
        v["data"]
            .as_array()
            .map(|a| a.iter().map(parse_trace).collect())
            .unwrap_or_default()
    }
}
