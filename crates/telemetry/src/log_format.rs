//! Log lines that name the trace they belong to, so a log line leads to its trace in Jaeger and
//! back.

use opentelemetry::trace::TraceContextExt;
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
        if let Some(span) = ctx.lookup_current() {
            let id = span.id();
            drop(span);
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
