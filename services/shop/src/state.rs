//! What every handler shares. Its own module, below both the routes (which read it) and the
//! start-up (which fills it in), so neither imports the other.

use crate::config::BuildVolume;
use crate::metrics::ShopMetrics;
use crate::model::store::ModelStore;
use crate::orders::crm_client::CrmClient;
use printflow_faults::Faults;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The Shop database.
    pub pool: PgPool,
    /// Where saved model files live.
    pub store: Arc<dyn ModelStore>,
    /// The CRM client.
    pub crm: CrmClient,
    /// The printers' build volume (save-time check).
    pub build_volume: BuildVolume,
    /// Statement timeout for catalog queries.
    pub search_timeout: Duration,
    /// Catalog and design metrics (in the application's registry).
    pub metrics: ShopMetrics,
    /// Drill faults (see [`crate::faults`]).
    pub faults: Faults,
}
