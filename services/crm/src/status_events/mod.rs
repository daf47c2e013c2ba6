//! MES status events (`crm.order_status_changed`): decoded, recorded in the inbox and applied in
//! sequence order (seed points 4 and 7).
//!
//! - [`apply`]: the transaction that records an event and applies every event that is now next
//!   in line.
//! - [`handler`]: the queue [`printflow_messaging::Handler`]: decode errors and impossible events
//!   are poison (dead-lettered with the reason), database trouble is transient (redelivered).

pub mod apply;
pub mod handler;

pub use apply::{record_and_apply, ApplyError, ApplyReport};
pub use handler::StatusEventHandler;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What CRM did with a received status event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    /// Received ahead of a gap; applied once the missing sequences arrive.
    Pending,
    /// Changed the order's status.
    Applied,
    /// A redelivery of a sequence already received; changed nothing.
    Duplicate,
    /// A sequence at or below the last one processed, arriving late; changed nothing.
    Stale,
    /// Its turn came but the state machine forbids the transition; recorded, status untouched.
    Rejected,
}

impl EventOutcome {
    /// The database and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Pending => "pending",
            EventOutcome::Applied => "applied",
            EventOutcome::Duplicate => "duplicate",
            EventOutcome::Stale => "stale",
            EventOutcome::Rejected => "rejected",
        }
    }
}

impl fmt::Display for EventOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EventOutcome::Pending,
            EventOutcome::Applied,
            EventOutcome::Duplicate,
            EventOutcome::Stale,
            EventOutcome::Rejected,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| format!("unknown event outcome `{s}`"))
    }
}
