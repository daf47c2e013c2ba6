//! `gate_ingest_batches_total` and `gate_ingest_spans_total`, by client and outcome.

use printflow_metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The labels of one series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct IngestLabels {
    /// The writing client (`azp` of its token), e.g. `shop-api`.
    pub client: String,
    /// `accepted`, or why not: `service_name_not_allowed`, `malformed`, `too_large`,
    /// `unsupported_media_type`, `jaeger_unavailable`.
    pub outcome: &'static str,
}

/// The gate's ingestion counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GateMetrics {
    /// `gate_ingest_batches_total`.
    batches: Family<IngestLabels, Counter>,
    /// `gate_ingest_spans_total`.
    spans: Family<IngestLabels, Counter>,
}

impl GateMetrics {
    /// Registers the counters in `metrics`.
    pub fn register(metrics: &Metrics) -> GateMetrics {
        let batches = Family::<IngestLabels, Counter>::default();
        let spans = Family::<IngestLabels, Counter>::default();
        metrics.register(
            "gate_ingest_batches",
            "OTLP trace batches the gate received from authenticated writers, by client and outcome",
            batches.clone(),
        );
        metrics.register(
            "gate_ingest_spans",
            "Spans in those batches, by client and outcome",
            spans.clone(),
        );
        GateMetrics { batches, spans }
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
}
