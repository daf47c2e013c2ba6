//! One order, one trace: the spans of a job's life after intake.
//!
//! An order's trace starts in Shop, passes CRM and reaches MES with `order.created`; intake runs
//! inside it (the consumer's span). Everything after that — model checks, print starts, phase
//! ends, operator actions — happens in the scheduler loop or in an operator's HTTP request, outside
//! that trace. So intake stores the trace context with the job ([`capture`], column
//! `jobs.trace_context`) and every later step runs in a span built here whose parent is that
//! stored context. The `order.status_changed` event a step enqueues captures the current span, so
//! the relay publishes it, and CRM consumes it, in the order's trace too.
//!
//! Operator actions happen in a request with a trace of its own: the step is still a child of the
//! order's trace, linked to the request, and the request is linked to the order's trace, so either
//! leads to the other.

use crate::jobs::Job;
use printflow_contracts::OrderStatus;
use printflow_telemetry::propagation;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use tracing::field::Empty;
use tracing::{Instrument, Span};

/// W3C propagation headers (`traceparent`, `tracestate`, `baggage`); empty when tracing is off.
pub type TraceContext = BTreeMap<String, String>;

/// The current span's context, to store with a new job.
pub fn capture() -> TraceContext {
    propagation::inject_current()
}

/// The `trace_context` column value for `cx`.
pub fn to_column(cx: &TraceContext) -> serde_json::Value {
    serde_json::to_value(cx).expect("a string map serialises")
}

/// Reads the `trace_context` column. A value that is not a string map (a manual edit) loses the
/// trace, never the job: it reads as empty and the job's steps start traces of their own.
pub fn from_column(value: serde_json::Value) -> TraceContext {
    serde_json::from_value(value).unwrap_or_default()
}

/// Whether `cx` names a trace to continue.
fn has_trace(cx: &TraceContext) -> bool {
    cx.contains_key("traceparent")
}

/// What moved a job, as recorded in `mes.job.step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The scheduler started a verified job on a printer.
    StartPrint,
    /// The scheduler ended a timed phase (print, post-processing, QC, shipping preparation).
    FinishPhase,
    /// An operator posted a QC verdict.
    QualityCheck,
    /// An operator retried a failed job.
    Retry,
}

impl Step {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::StartPrint => "start_print",
            Step::FinishPhase => "finish_phase",
            Step::QualityCheck => "quality_check",
            Step::Retry => "retry",
        }
    }

    /// Whether an operator's request caused it.
    fn by_operator(self) -> bool {
        matches!(self, Step::QualityCheck | Step::Retry)
    }
}

/// The span of one step that moves `job` to `to`, named `job {TO}` and a child of the order's
/// trace. Built where the step starts (for operator steps: inside the request's span, which it is
/// then linked with).
pub fn step_span(job: &Job, step: Step, to: OrderStatus) -> Span {
    let span = tracing::info_span!(
        "mes.job.step",
        otel.name = %format!("job {to}"),
        mes.job.step = step.as_str(),
        order.id = %job.order_id,
        job.id = %job.id,
        printer.id = job.printer_id,
        order.status.from = %job.status,
        order.status.to = %to,
        mes.job.attempt = job.attempts,
        error.type = Empty,
    );
    continue_order_trace(&span, job);
    if step.by_operator() {
        link_with_current(&span, job);
    }
    span
}

/// The span of one model check of `job` (fetch from Shop, judgement, outcome), child of the
/// order's trace. Its outcome fields are recorded by the verifier.
pub fn verify_span(job: &Job) -> Span {
    let span = tracing::info_span!(
        "mes.job.verify_model",
        otel.name = "job verify model",
        order.id = %job.order_id,
        job.id = %job.id,
        design.id = %job.spec.design_id,
        design.version = job.spec.design_version,
        printer.id = job.printer_id,
        mes.job.attempt = job.attempts,
        mes.model_fetch.attempt = job.model_fetch_failures.saturating_add(1),
        mes.model_fetch.outcome = Empty,
        mes.model_fetch.failures = Empty,
        mes.model_fetch.retry_in_ms = Empty,
        order.failure_reason = Empty,
        error.type = Empty,
    );
    continue_order_trace(&span, job);
    span
}

/// A span in the order's trace saying an operator paused or resumed the printer `job` is printing
/// on (a paused print is frozen, so this explains a long `PRINTING`). Linked with the request.
pub fn printer_state_span(job: &Job, printer: i32, paused: bool) -> Span {
    let name = if paused {
        "job printer paused"
    } else {
        "job printer resumed"
    };
    let span = tracing::info_span!(
        "mes.job.printer_state",
        otel.name = name,
        printer.id = printer,
        printer.paused = paused,
        order.id = %job.order_id,
        job.id = %job.id,
        order.status = %job.status,
    );
    continue_order_trace(&span, job);
    link_with_current(&span, job);
    span
}

/// Makes `span` (not yet entered) a child of the job's stored context. Without one (telemetry was
/// off at intake) the span keeps its ordinary parent, or starts a trace.
pub fn continue_order_trace(span: &Span, job: &Job) {
    propagation::set_parent_from(span, &job.trace_context);
}

/// Links `span` (in the order's trace) with the current span (an operator's request) and the
/// request with the order's trace.
fn link_with_current(span: &Span, job: &Job) {
    if !has_trace(&job.trace_context) {
        // `span` stayed a child of the request; a link would repeat that.
        return;
    }
    let request = Span::current();
    propagation::link_from(span, &propagation::inject_span(&request));
    propagation::link_from(&request, &job.trace_context);
}

/// The `error.type` a step's failure is recorded with.
pub trait StepError: Display {
    /// Low-cardinality reason (`database_error`, `illegal_transition`, ...).
    fn error_type(&self) -> &'static str;
}

impl StepError for sqlx::Error {
    fn error_type(&self) -> &'static str {
        "database_error"
    }
}

/// Runs `work` inside `span` and marks the span failed when it fails.
pub async fn run_step<T, E: StepError>(
    span: Span,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let result = work.instrument(span.clone()).await;
    if let Err(e) = &result {
        printflow_telemetry::record_error(&span, e.error_type(), &e.to_string());
    }
    result
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    /// Runs `f` with a real tracer (no exporter) as this thread's subscriber, so spans get ids.
    pub(crate) fn with_tracer<R>(f: impl FnOnce() -> R) -> R {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("mes-test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    /// `(trace id, span id)` of a `traceparent`.
    pub(crate) fn ids(cx: &TraceContext) -> (String, String) {
        let tp = cx.get("traceparent").expect("a traceparent");
        let parts: Vec<&str> = tp.split('-').collect();
        (parts[1].to_owned(), parts[2].to_owned())
    }

    fn job_in(trace_context: TraceContext) -> Job {
        Job {
            trace_context,
            ..crate::jobs::sample_job()
        }
    }

    #[test]
    fn a_scheduler_step_continues_the_stored_trace() {
        with_tracer(|| {
            let intake = tracing::info_span!("intake");
            let stored = intake.in_scope(capture);
            drop(intake);
            let job = job_in(stored.clone());

            // The scheduler runs outside any span.
            let step = step_span(&job, Step::FinishPhase, OrderStatus::PostProcessing);
            let (step_trace, step_id) = ids(&propagation::inject_span(&step));
            assert_eq!(step_trace, ids(&stored).0);
            assert_ne!(step_id, ids(&stored).1);

            // What a transition inside the step enqueues (outbox::enqueue captures the current
            // span) is in the order's trace as well.
            let enqueued = step.in_scope(capture);
            assert_eq!(ids(&enqueued).0, ids(&stored).0);
        });
    }

    #[test]
    fn an_operator_step_joins_the_order_trace_not_the_request_trace() {
        with_tracer(|| {
            let stored = tracing::info_span!("intake").in_scope(capture);
            let job = job_in(stored.clone());
            let request = tracing::info_span!("request");
            let request_trace = ids(&propagation::inject_span(&request)).0;
            assert_ne!(request_trace, ids(&stored).0);

            let step = request.in_scope(|| step_span(&job, Step::Retry, OrderStatus::Accepted));
            assert_eq!(ids(&propagation::inject_span(&step)).0, ids(&stored).0);

            let verify = request.in_scope(|| verify_span(&job));
            assert_eq!(ids(&propagation::inject_span(&verify)).0, ids(&stored).0);
        });
    }

    #[test]
    fn without_a_stored_context_a_step_keeps_its_ordinary_parent() {
        with_tracer(|| {
            let job = job_in(TraceContext::new());
            let request = tracing::info_span!("request");
            let request_trace = ids(&propagation::inject_span(&request)).0;
            let step = request.in_scope(|| step_span(&job, Step::QualityCheck, OrderStatus::Ready));
            assert_eq!(ids(&propagation::inject_span(&step)).0, request_trace);

            // Outside any span it starts a trace of its own rather than failing.
            let alone = step_span(&job, Step::StartPrint, OrderStatus::Printing);
            assert_ne!(ids(&propagation::inject_span(&alone)).0, request_trace);
        });
    }

    #[test]
    fn the_column_round_trips_and_a_malformed_value_reads_as_empty() {
        let cx: TraceContext = [(
            "traceparent".to_owned(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
        )]
        .into();
        assert_eq!(from_column(to_column(&cx)), cx);
        assert_eq!(from_column(serde_json::json!({})), TraceContext::new());
        assert_eq!(
            from_column(serde_json::json!({"traceparent": 5})),
            TraceContext::new()
        );
        assert_eq!(from_column(serde_json::json!("x")), TraceContext::new());
    }
}
