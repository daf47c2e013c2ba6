//! The text log line (the layer `init` installs): it names its trace and span and holds the
//! event's own fields, without the span list (the trace has it) and without colours unless
//! asked. A test binary of its own: the layer reads the trace context through the global
//! dispatcher, as in the services.

use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use printflow_telemetry::log_format::text_layer;
use std::sync::{Arc, Mutex};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'w self) -> Buffer {
        self.clone()
    }
}

#[test]
fn a_line_names_its_trace_and_holds_the_event_fields_but_not_the_span_list() {
    let buffer = Buffer::default();
    let provider = SdkTracerProvider::builder().build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(text_layer(buffer.clone(), false))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    )
    .unwrap();

    let span = tracing::info_span!("outer", big.attribute = "only-in-the-trace");
    let (trace_id, span_id) = {
        let _entered = span.enter();
        tracing::info!(order.id = "o-1", "order.status.changed");
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    };
    tracing::info!("outside any span");

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(&format!("trace_id={trace_id} span_id={span_id} ")),
        "{text}"
    );
    assert!(
        lines[0].contains("order.status.changed order.id=\"o-1\""),
        "{text}"
    );
    assert!(
        !lines[0].contains("only-in-the-trace"),
        "span fields: {text}"
    );
    assert!(!lines[0].contains("outer"), "span list: {text}");
    assert!(!text.contains('\u{1b}'), "colours: {text}");
    assert!(!lines[1].contains("trace_id="), "{text}");
    assert!(lines[1].contains("outside any span"), "{text}");
}
