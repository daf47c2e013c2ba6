-- The W3C trace context (`traceparent`, `tracestate`, `baggage`) of the span that created the
-- job, i.e. of the order's trace. Scheduler steps and operator actions run long after the
-- order.created message was handled, outside any request; they continue the order's trace from
-- here, so one order is one trace from Shop to SHIPPED. Empty when tracing was off.
ALTER TABLE jobs ADD COLUMN trace_context JSONB NOT NULL DEFAULT '{}';
