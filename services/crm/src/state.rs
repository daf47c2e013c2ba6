//! What every handler shares. Its own module, below both the routes (which read it) and the
//! start-up (which fills it in), so neither imports the other.

use crate::db::Db;
use crate::metrics::CrmMetrics;
use crate::reconcile::Reconciler;
use printflow_faults::Faults;
use printflow_messaging::OutboxSignal;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database with the per-request query timeout.
    pub db: Db,
    /// Wakes the outbox relay after a commit that enqueued an event.
    pub outbox: OutboxSignal,
    /// Order metrics (status changes made by cancellation are observed here).
    pub metrics: CrmMetrics,
    /// Drill faults (see [`crate::faults`]).
    pub faults: Faults,
    /// The reconciler (its last report, and MES for repairs).
    pub reconciler: Reconciler,
}
