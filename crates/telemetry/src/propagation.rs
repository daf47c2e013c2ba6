//! W3C trace context in and out of string maps: AMQP headers and outbox rows. HTTP header maps
//! use `opentelemetry-http`'s `HeaderInjector` / `HeaderExtractor` (see [`crate::http_client`],
//! [`crate::http_server`]).

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::Context;
use std::collections::BTreeMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct MapInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// `traceparent` / `tracestate` / `baggage` of `span` (empty when telemetry is off).
pub fn inject_span(span: &tracing::Span) -> BTreeMap<String, String> {
    inject_context(&span.context())
}

/// The propagation headers of a context.
pub fn inject_context(cx: &Context) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(cx, &mut MapInjector(&mut map))
    });
    map
}

/// The propagation headers of the current span.
pub fn inject_current() -> BTreeMap<String, String> {
    inject_span(&tracing::Span::current())
}

/// The context a header map carries (an empty context if none).
pub fn extract(headers: &BTreeMap<String, String>) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&MapExtractor(headers)))
}

/// Makes `span` a child of the context in `headers`, if they carry one.
pub fn set_parent_from(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    use opentelemetry::trace::TraceContextExt;
    let cx = extract(headers);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Links `span` to the context in `headers` (used where parenthood would be wrong, e.g. a
/// redelivery processed in a later trace).
pub fn link_from(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    use opentelemetry::trace::TraceContextExt;
    let cx = extract(headers);
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        span.add_link(sc);
    }
}
