//! What every handler shares. Its own module, below both the routes (which read it) and the
//! start-up (which fills it in), so neither imports the other.

use crate::production::Production;
use printflow_messaging::OutboxSignal;
use sqlx::PgPool;
use std::sync::Arc;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// MES database.
    pub pool: PgPool,
    /// Phase timings, for transitions made by operator actions.
    pub production: Arc<Production>,
    /// Wakes the outbox relay after an operator action committed.
    pub signal: OutboxSignal,
}
