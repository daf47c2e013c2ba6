//! What the handlers share.

use crate::metrics::GateMetrics;

/// The gate's shared state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GateState {
    /// Client for Jaeger, with the forward deadline.
    pub http: reqwest::Client,
    /// Jaeger's OTLP/HTTP traces endpoint.
    pub jaeger_otlp_url: String,
    /// Ingestion counters.
    pub metrics: GateMetrics,
}
