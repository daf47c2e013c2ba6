//! The consumer side: turns a queue message into [`record_and_apply`] and its errors into
//! ack / dead-letter / redeliver decisions.

use super::apply::{record_and_apply, ApplyError};
use crate::db::Db;
use printflow_contracts::messages::decode;
use printflow_contracts::OrderStatusChanged;
use printflow_messaging::{HandleError, Handler, IncomingMessage};

/// Handles `crm.order_status_changed`.
#[derive(Debug, Clone)]
pub struct StatusEventHandler {
    /// Where orders live.
    db: Db,
}

impl StatusEventHandler {
    /// A handler writing to `db`.
    pub fn new(db: Db) -> Self {
        StatusEventHandler { db }
    }
}

#[async_trait::async_trait]
impl Handler for StatusEventHandler {
    async fn handle(&self, msg: &IncomingMessage) -> Result<(), HandleError> {
        // Unparseable or unknown-version messages can never succeed: dead-letter them with the
        // reason instead of redelivering them forever.
        let envelope = decode::<OrderStatusChanged>(&msg.body)
            .map_err(|e| HandleError::Poison(e.to_string()))?;
        match record_and_apply(&self.db, &envelope).await {
            Ok(_) => Ok(()),
            Err(e @ ApplyError::Database(_)) => Err(HandleError::Transient(e.to_string())),
            Err(e) => Err(HandleError::Poison(e.to_string())),
        }
    }
}
