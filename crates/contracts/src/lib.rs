//! Contracts between the printflow services.
//!
//! Everything that crosses a process boundary is defined here, once: the order state machine
//! ([`status`]), the messages published on RabbitMQ ([`messages`]) and the body of the Shop -> CRM
//! order call ([`orders`]). Services depend on these types instead of re-declaring JSON shapes, so a
//! change to a contract is a compile error in every party rather than a runtime surprise.
//!
//! Errors: decoding a message returns [`messages::DecodeError`], which consumers turn into a
//! dead-letter reason; nothing in this crate does I/O.

pub mod customer;
pub mod messages;
pub mod orders;
pub mod status;

pub use customer::CustomerFieldError;
pub use messages::{DecodeError, Envelope, OrderCreated, OrderStatusChanged};
pub use status::{FailureReason, OrderStatus};
