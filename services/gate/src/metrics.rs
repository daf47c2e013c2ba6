//! The gate's own metrics: what was ingested, masked, buffered, stored and dropped, and who read
//! trace data.

use printflow_metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::BTreeMap;

/// The labels of one ingestion series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct IngestLabels {
    /// The writing client (`azp` of its token), e.g. `shop-api`.
    pub client: String,
    /// `accepted`, or why not: `buffer_full` (retry later), `service_name_not_allowed`,
    /// `malformed`, `too_large`, `unsupported_media_type`, or over gRPC the token's refusal
    /// reason (`missing`, `expired`, ...).
    pub outcome: &'static str,
}

/// The labels of `gate_spans_dropped_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DropLabels {
    /// `rejected_by_store` (Jaeger refused the batch as invalid) or `shutdown` (still buffered
    /// when the gate stopped and Jaeger did not take it in time).
    pub reason: &'static str,
}

/// Why accepted spans can be lost; each series starts at 0 so an alert sees the first one.
pub const DROP_REASONS: [&str; 2] = ["rejected_by_store", "shutdown"];

/// The labels of `gate_redacted_attributes_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RedactedLabels {
    /// The attribute key whose value was masked.
    pub key: String,
}

/// The labels of `gate_trace_reads_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReadLabels {
    /// The policy rules applied (`sre`, `support`, `production+support`), or `none` when refused.
    pub view: String,
    /// The query endpoint: `services`, `operations`, `traces`, `trace`, `v3_traces`,
    /// `v3_trace`, `dependencies`, `metrics`.
    pub endpoint: &'static str,
    /// `ok`, `not_found`, `forbidden` or `store_unavailable`.
    pub outcome: &'static str,
}

/// The gate's metrics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GateMetrics {
    /// `gate_ingest_batches_total`.
    batches: Family<IngestLabels, Counter>,
    /// `gate_ingest_spans_total`.
    spans: Family<IngestLabels, Counter>,
    /// `gate_redacted_attributes_total`.
    redacted: Family<RedactedLabels, Counter>,
    /// `gate_buffered_spans`: accepted spans not yet stored.
    buffered: Gauge,
    /// `gate_stored_spans_total`: spans Jaeger took.
    stored: Counter,
    /// `gate_forward_retries_total`: sends to Jaeger that failed and will be retried.
    retries: Counter,
    /// `gate_spans_dropped_total`.
    dropped: Family<DropLabels, Counter>,
    /// `gate_trace_reads_total`.
    reads: Family<ReadLabels, Counter>,
}

impl GateMetrics {
    /// Registers the metrics in `metrics`.
    pub fn register(metrics: &Metrics) -> GateMetrics {
        let m = GateMetrics {
            batches: Family::default(),
            spans: Family::default(),
            redacted: Family::default(),
            buffered: Gauge::default(),
            stored: Counter::default(),
            retries: Counter::default(),
            dropped: Family::default(),
            reads: Family::default(),
        };
        metrics.register(
            "gate_ingest_batches",
            "OTLP trace batches the gate received, by writing client and outcome",
            m.batches.clone(),
        );
        metrics.register(
            "gate_ingest_spans",
            "Spans in those batches, by client and outcome",
            m.spans.clone(),
        );
        metrics.register(
            "gate_redacted_attributes",
            "Attribute values masked before storage, by attribute key",
            m.redacted.clone(),
        );
        metrics.register(
            "gate_buffered_spans",
            "Accepted spans waiting to be stored in Jaeger",
            m.buffered.clone(),
        );
        metrics.register(
            "gate_stored_spans",
            "Accepted spans Jaeger stored",
            m.stored.clone(),
        );
        metrics.register(
            "gate_forward_retries",
            "Sends of a batch to Jaeger that failed and are retried",
            m.retries.clone(),
        );
        metrics.register(
            "gate_spans_dropped",
            "Accepted spans that never reached Jaeger, by reason",
            m.dropped.clone(),
        );
        metrics.register(
            "gate_trace_reads",
            "Trace data queries, by the policy view applied, endpoint and outcome",
            m.reads.clone(),
        );
        for reason in DROP_REASONS {
            m.dropped.get_or_create(&DropLabels { reason }).inc_by(0);
        }
        m
    }

    /// Counts one batch of `spans` spans from `client` with `outcome`.
    pub fn batch(&self, client: &str, outcome: &'static str, spans: u64) {
        let labels = IngestLabels {
            client: client.to_owned(),
            outcome,
        };
        self.batches.get_or_create(&labels).inc();
        self.spans.get_or_create(&labels).inc_by(spans);
    }

    /// Counts masked values by key.
    pub fn redacted(&self, by_key: BTreeMap<String, u64>) {
        for (key, n) in by_key {
            self.redacted
                .get_or_create(&RedactedLabels { key })
                .inc_by(n);
        }
    }

    /// Sets the number of buffered spans.
    pub fn buffered(&self, spans: u64) {
        self.buffered.set(i64::try_from(spans).unwrap_or(i64::MAX));
    }

    /// Counts spans Jaeger stored.
    pub fn stored(&self, spans: u64) {
        self.stored.inc_by(spans);
    }

    /// Counts one failed send that will be retried.
    pub fn retry(&self) {
        self.retries.inc();
    }

    /// Counts spans lost for `reason` (one of [`DROP_REASONS`]).
    pub fn dropped(&self, reason: &'static str, spans: u64) {
        self.dropped
            .get_or_create(&DropLabels { reason })
            .inc_by(spans);
    }

    /// Counts one trace data query.
    pub fn read(&self, view: &str, endpoint: &'static str, outcome: &'static str) {
        self.reads
            .get_or_create(&ReadLabels {
                view: view.to_owned(),
                endpoint,
                outcome,
            })
            .inc();
    }
}
