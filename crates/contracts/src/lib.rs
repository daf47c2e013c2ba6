//! Contracts between the printflow services.
//!
//! Everything that crosses a process boundary is defined here, once: the order state machine
//! ([`status`]), what an order prints and its limits ([`print_spec`]), the catalog search's sort
//! orders ([`catalog`]), the messages published on
//! //! RabbitMQ ([`messages`]) and the body of the Shop -> CRM order call ([`orders`]). Services
//! depend on these types instead of re-declaring JSON shapes or limits, so a change to a contract
//! is a compile error in every party rather than a runtime surprise.
//!
//! Errors: decoding a message returns [`messages::DecodeError`], which consumers turn into a
//! dead-letter reason; a print spec out of its limits is a [`PrintSpecError`] naming the field.
//! Nothing in this crate does I/O.

pub mod catalog;
pub mod customer;
pub mod jobs;
pub mod messages;
pub mod orders;
pub mod print_spec;
pub mod status;

pub use catalog::Sort;
pub use customer::CustomerFieldError;
pub use messages::{DecodeError, Envelope, OrderCancelled, OrderCreated, OrderStatusChanged};
pub use print_spec::{Material, PrintSpec, PrintSpecError};
pub use status::{FailureReason, OrderStatus};
