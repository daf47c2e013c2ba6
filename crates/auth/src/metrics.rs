//! `auth_failures_total{service, reason}`.

use crate::verify::Rejection;
use printflow_metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The labels of one failure series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct FailureLabels {
    /// The refusing service (`shop-api`, ...): one Prometheus rule covers all of them.
    service: &'static str,
    /// [`Rejection::reason`].
    reason: &'static str,
}

/// The refusal counter of one application.
#[derive(Debug, Clone)]
pub struct AuthMetrics {
    /// The refusing service.
    service: &'static str,
    /// `auth_failures_total`.
    failures: Family<FailureLabels, Counter>,
}

impl AuthMetrics {
    /// Registers `auth_failures_total` in `metrics`, every reason at zero (so a rate over the
    /// first refusal is not lost to a series appearing).
    pub fn register(metrics: &Metrics, service: &'static str) -> AuthMetrics {
        let failures = Family::<FailureLabels, Counter>::default();
        metrics.register(
            "auth_failures",
            "Requests refused by authentication or authorisation, by service and reason",
            failures.clone(),
        );
        for rejection in Rejection::ALL {
            drop(failures.get_or_create(&FailureLabels {
                service,
                reason: rejection.reason(),
            }));
        }
        AuthMetrics { service, failures }
    }

    /// Counts one refusal.
    pub fn refused(&self, rejection: Rejection) {
        self.failures
            .get_or_create(&FailureLabels {
                service: self.service,
                reason: rejection.reason(),
            })
            .inc();
    }
}
