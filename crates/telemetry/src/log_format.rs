//! Log lines that name the trace they belong to, so a log line leads to its trace in Jaeger and
//! back.

use opentelemetry::trace::TraceContextExt;
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The text log layer: one line per event, `trace_id=… span_id=…` first when inside a traced
/// span, then the event's own fields. The spans' fields are in the trace; repeating the whole
/// span list on every line made each about 1.4 KB, and the layer formats the fields of every
/// span it sees when the span opens, which cost CPU on every request and message even when
/// nothing was logged inside it. So the layer sees events only. `ansi`: colours, for a terminal
/// (the stack writes logs to files).
pub fn text_layer<S, W>(writer: W, ansi: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .event_format(WithTraceIds(tracing_subscriber::fmt::format()))
        .with_ansi(ansi)
        .with_writer(writer)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_event()
        }))
}

/// Wraps a formatter and prefixes `trace_id=… span_id=…` when the event is inside a traced span.
pub(crate) struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // `current_span`, not `lookup_current`: this layer filters spans out (it prints events
        // only), and `lookup_current` sees only the spans the layer itself enabled.
        if let Some(id) = ctx.current_span().id().cloned() {
            let cx = tracing::dispatcher::get_default(|d| {
                tracing_opentelemetry::get_otel_context(&id, d)
            });
            if let Some(cx) = cx {
                let sc = cx.span().span_context().clone();
                if sc.is_valid() {
                    write!(
                        writer,
                        "trace_id={} span_id={} ",
                        sc.trace_id(),
                        sc.span_id()
                    )?;
                }
            }
        }
        self.0.format_event(ctx, writer, event)
    }
}
