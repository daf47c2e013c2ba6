//! MES status events (`crm.order_status_changed`): decoded, recorded in the inbox and applied in
//! sequence order (seed points 4 and 7).
//!
//! - [`apply`]: the transaction that records an event and applies every event that is now next
//!   in line.
//! - [`handler`]: the queue [`printflow_messaging::Handler`]: decode errors and impossible events
//!   are poison (dead-lettered with the reason), database trouble is transient (redelivered).
//!
//! The outcome vocabulary ([`EventOutcome`]) lives in [`crate::status_trace`], below this module
//! and [`crate::metrics`], so the metrics can count outcomes without importing the consumer.

pub mod apply;
pub mod handler;

pub use crate::status_trace::EventOutcome;
pub use apply::{record_and_apply, ApplyError, ApplyReport};
pub use handler::StatusEventHandler;
