//! The span events that record what happened to an order's status, written once so the MES
//! consumer and `POST /orders/{id}/cancel` emit the same names and attributes. Each is a
//! `tracing` event, so it becomes an event on the current span (and a log line). Ids, status
//! codes and reasons built from them only: never personal data.
//!
//! | event                  | attributes                                                      |
//! |------------------------|-----------------------------------------------------------------|
//! | `order.status.changed` | `order.id`, `order.status.from`, `order.status.to`,              |
//! |                        | `order.status.sequence` (MES events only), `order.status.version`, |
//! |                        | `order.status.source`                                           |
//! | `order.status.ignored` | `order.id`, `order.status.sequence`, `order.status.outcome`,     |
//! |                        | `order.status.ignored_reason`                                   |
//! | `order.status.rejected`| `order.id`, `order.status.sequence`, `order.status.from`,        |
//! |                        | `order.status.to`, `order.status.rejection_reason`              |
//! | `order.status.pending` | `order.id`, `order.status.sequence`,                            |
//! |                        | `order.status.waiting_for_sequence`                             |
//!
//! [`EventOutcome`], what CRM did with a received status event, is defined here too: it is the
//! `order.status.outcome` attribute, the inbox's `outcome` column and the `outcome` label of
//! `printflow_status_events_total`, so the consumer (`status_events`) and `metrics` both build
//! on this module instead of on each other.

use chrono::{DateTime, Utc};
use printflow_contracts::OrderStatus;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

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

/// A committed status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The order.
    pub order_id: Uuid,
    /// Status before.
    pub from: OrderStatus,
    /// Status after.
    pub to: OrderStatus,
    /// The producer's sequence; `None` for CRM's own changes (cancel), which have none.
    pub sequence: Option<i64>,
    /// `status_version` after the change.
    pub version: i64,
    /// Who changed it: `mes` or `crm`.
    pub source: String,
    /// When the order entered `from` (its `status_since` before the change).
    pub from_since: DateTime<Utc>,
    /// When the change was applied (the new `status_since`).
    pub at: DateTime<Utc>,
    /// When the order was created.
    pub created_at: DateTime<Utc>,
}

impl StatusChange {
    /// Emits `order.status.changed`.
    pub fn emit(&self) {
        tracing::info!(
            order.id = %self.order_id,
            order.status.from = self.from.as_str(),
            order.status.to = self.to.as_str(),
            order.status.sequence = self.sequence,
            order.status.version = self.version,
            order.status.source = %self.source,
            "order.status.changed"
        );
    }
}

/// A status event whose turn came but which the state machine refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRejection {
    /// The order.
    pub order_id: Uuid,
    /// The event's sequence.
    pub sequence: i64,
    /// The order's status, which stays.
    pub from: OrderStatus,
    /// The status the event asked for.
    pub to: OrderStatus,
    /// Why (`illegal transition A -> B`).
    pub reason: String,
}

impl StatusRejection {
    /// Emits `order.status.rejected` (a warning: a producer sent an impossible step).
    pub fn emit(&self) {
        tracing::warn!(
            order.id = %self.order_id,
            order.status.sequence = self.sequence,
            order.status.from = self.from.as_str(),
            order.status.to = self.to.as_str(),
            order.status.rejection_reason = %self.reason,
            "order.status.rejected"
        );
    }
}

/// A status event that changed nothing because it was a repeat or came too late.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusIgnored {
    /// The order.
    pub order_id: Uuid,
    /// The event's sequence.
    pub sequence: i64,
    /// `duplicate` or `stale`.
    pub outcome: EventOutcome,
    /// Why, as stored in the inbox.
    pub reason: String,
}

impl StatusIgnored {
    /// Emits `order.status.ignored`.
    pub fn emit(&self) {
        tracing::info!(
            order.id = %self.order_id,
            order.status.sequence = self.sequence,
            order.status.outcome = self.outcome.as_str(),
            order.status.ignored_reason = %self.reason,
            "order.status.ignored"
        );
    }
}

/// A status event that arrived ahead of a gap and waits in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPending {
    /// The order.
    pub order_id: Uuid,
    /// The event's sequence.
    pub sequence: i64,
    /// The sequence that must arrive first.
    pub waiting_for: i64,
}

impl StatusPending {
    /// Emits `order.status.pending`.
    pub fn emit(&self) {
        tracing::info!(
            order.id = %self.order_id,
            order.status.sequence = self.sequence,
            order.status.waiting_for_sequence = self.waiting_for,
            "order.status.pending"
        );
    }
}
