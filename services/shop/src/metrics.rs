//! Shop metrics (see `docs/metrics.md`), observed by the instrumented operations themselves, next
//! to their spans:
//!
//! | metric                                     | type      | labels    | observed in            |
//! |--------------------------------------------|-----------|-----------|------------------------|
//! | `printflow_catalog_search_duration_seconds`| histogram | `outcome` | [`crate::catalog::search::search_products`] |
//! | `printflow_catalog_search_results`         | histogram |           | same, successful searches |
//! | `printflow_design_saves_total`             | counter   | `outcome` | [`crate::designs::save::save_version`] |
//! | `printflow_model_files_unreadable_total`   | counter   | `reason`  | the model download and order routes |
//! | `printflow_design_edits_total`             | counter   | `outcome` | [`crate::designs::edits::edit_request`] |
//!
//! Every label value is created at start-up, so each series exists (at 0) before its first
//! event and Prometheus sees the first failure as an increase.

use printflow_metrics::{buckets, trace_exemplar, Metrics, TraceExemplar};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use std::time::Duration;

/// How a catalog search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchOutcome {
    /// Answered with at least one product.
    Ok,
    /// Answered with an empty page (nothing matches, or paged past the end).
    Empty,
    /// A parameter was refused (4xx).
    Rejected,
    /// Timed out or the database failed (5xx).
    Failed,
}

impl SearchOutcome {
    /// Every outcome.
    pub const ALL: [SearchOutcome; 4] = [
        SearchOutcome::Ok,
        SearchOutcome::Empty,
        SearchOutcome::Rejected,
        SearchOutcome::Failed,
    ];

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOutcome::Ok => "ok",
            SearchOutcome::Empty => "empty",
            SearchOutcome::Rejected => "rejected",
            SearchOutcome::Failed => "failed",
        }
    }
}

/// `outcome` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    /// The outcome's spelling.
    outcome: &'static str,
}

type TracedHistogram = HistogramWithExemplars<TraceExemplar>;

fn search_duration_histogram() -> TracedHistogram {
    HistogramWithExemplars::new(buckets::LATENCY_SECONDS.into_iter())
}

/// The Shop's metrics. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ShopMetrics {
    /// `printflow_catalog_search_duration_seconds`.
    search_duration: Family<OutcomeLabels, TracedHistogram, fn() -> TracedHistogram>,
    /// `printflow_catalog_search_results`.
    search_results: Histogram,
    /// `printflow_design_saves_total`.
    design_saves: Family<OutcomeLabels, Counter>,
    /// `printflow_design_edits_total`.
    design_edits: Family<OutcomeLabels, Counter>,
    /// `printflow_model_files_unreadable_total`.
    model_files_unreadable: Family<ReasonLabels, Counter>,
}

/// `reason` label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    /// `missing` or `corrupt`.
    reason: &'static str,
}

impl ShopMetrics {
    /// Registers the Shop's metrics in `metrics`, every label value at 0.
    pub fn register(metrics: &Metrics) -> ShopMetrics {
        let m = ShopMetrics {
            search_duration: Family::new_with_constructor(search_duration_histogram),
            search_results: Histogram::new(buckets::SEARCH_RESULTS),
            design_saves: Family::default(),
            design_edits: Family::default(),
            model_files_unreadable: Family::default(),
        };
        for reason in ["missing", "corrupt"] {
            drop(
                m.model_files_unreadable
                    .get_or_create(&ReasonLabels { reason }),
            );
        }
        for outcome in SearchOutcome::ALL {
            drop(m.search_duration.get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            }));
        }
        for outcome in ["ok", "failed"] {
            drop(m.design_saves.get_or_create(&OutcomeLabels { outcome }));
        }
        for outcome in ["accepted", "rejected"] {
            drop(m.design_edits.get_or_create(&OutcomeLabels { outcome }));
        }
        metrics.register(
            "printflow_catalog_search_duration_seconds",
            "Duration of catalog searches (GET /catalog/products), validation to answer, by outcome",
            m.search_duration.clone(),
        );
        metrics.register(
            "printflow_catalog_search_results",
            "Products matching each successful catalog search (its total, not the page size)",
            m.search_results.clone(),
        );
        metrics.register(
            "printflow_design_saves",
            "Design save attempts (POST /designs/{id}/versions) by outcome: ok (a version was stored) or failed (invalid model, model store or database failure)",
            m.design_saves.clone(),
        );
        metrics.register(
            "printflow_design_edits",
            "Design edit requests (POST /designs/{id}/edits) by outcome: accepted (applied) or rejected (nothing applied)",
            m.design_edits.clone(),
        );
        metrics.register(
            "printflow_model_files_unreadable",
            "Saved model files found missing or corrupt when read (a download, an order), by reason (seed point 3)",
            m.model_files_unreadable.clone(),
        );
        m
    }

    /// Counts a saved model file found `missing` or `corrupt`.
    pub fn model_file_unreadable(&self, reason: &'static str) {
        self.model_files_unreadable
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Records one search; `total` is the number of matches of a successful one. Call it inside
    /// the search's span: a sampled trace becomes the observation's exemplar.
    pub fn search(&self, outcome: SearchOutcome, took: Duration, total: Option<i64>) {
        self.search_duration
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .observe(took.as_secs_f64(), trace_exemplar(), None);
        if let Some(total) = total {
            self.search_results.observe(total as f64);
        }
    }

    /// Counts one save attempt.
    pub fn design_saved(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.design_saves
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one edit request.
    pub fn design_edited(&self, accepted: bool) {
        let outcome = if accepted { "accepted" } else { "rejected" };
        self.design_edits
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use printflow_metrics::scrape::Scrape;

    #[test]
    fn every_outcome_exists_from_the_start() {
        let metrics = Metrics::new();
        let m = ShopMetrics::register(&metrics);
        let scrape = Scrape::parse(&metrics.encode().unwrap()).unwrap();
        for outcome in ["ok", "empty", "rejected", "failed"] {
            assert_eq!(
                scrape.value(
                    "printflow_catalog_search_duration_seconds_count",
                    &[("outcome", outcome)]
                ),
                Some(0.0)
            );
        }
        assert_eq!(
            scrape.value("printflow_design_saves_total", &[("outcome", "failed")]),
            Some(0.0)
        );
        assert_eq!(
            scrape.value("printflow_design_edits_total", &[("outcome", "rejected")]),
            Some(0.0)
        );

        m.search(SearchOutcome::Ok, Duration::from_millis(3), Some(42));
        m.design_saved(false);
        m.design_edited(true);
        let scrape = Scrape::parse(&metrics.encode().unwrap()).unwrap();
        assert_eq!(
            scrape.value("printflow_catalog_search_results_bucket", &[("le", "50.0")]),
            Some(1.0)
        );
        assert_eq!(
            scrape.value("printflow_catalog_search_results_bucket", &[("le", "10.0")]),
            Some(0.0)
        );
        assert_eq!(
            scrape.value("printflow_design_saves_total", &[("outcome", "failed")]),
            Some(1.0)
        );
        assert_eq!(
            scrape.value("printflow_design_edits_total", &[("outcome", "accepted")]),
            Some(1.0)
        );
    }
}
