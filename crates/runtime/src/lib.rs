//! One service runtime for Shop, CRM, MES and whatever comes next.
//!
//! A service implements [`Service`]: it reads its settings and fills in a [`Runtime`] — its
//! routes, readiness checks and background tasks. The runtime owns everything else, once:
//!
//! - [`settings`]: host/port, the database pool (URL, size, acquire timeout) and the broker URL,
//!   read under the service's prefix (`CRM_HTTP_PORT`, `CRM_DATABASE_MAX_CONNECTIONS`, ...);
//! - [`schema`]: the service's migrations plus the shared outbox migration as one sqlx migrator,
//!   and the fingerprint tests name their template database with;
//! - [`Runtime`]: the listener, the metrics registry (`GET /metrics`), the optional pool and
//!   broker (a service may have neither), [`health`] routes with named checks, `/openapi.json`,
//!   the common layers of `printflow_web::server`, the outbox relay and consumers;
//! - [`Application`]: serving and background tasks under one cancellation token, with the
//!   ordering "stop tasks, wait for them, then close the pool";
//! - [`db`]: a transaction with a statement timeout, in one round trip;
//! - [`main`]: a binary's whole `main` (telemetry init and flush around the above).
//!
//! Modules, top-down (each uses only those below it): `process` (`main`), `service`
//! ([`Service`] and `Application::build`), `builder` ([`Runtime`]), `application`; beside them
//! [`db`], [`health`], [`schema`] and [`settings`], which use no sibling.

mod application;
mod builder;
pub mod db;
pub mod health;
mod process;
pub mod schema;
mod service;
pub mod settings;

pub use application::{Application, Spawned};
pub use builder::{Messaging, Runtime};
pub use process::main;
pub use schema::Schema;
pub use service::Service;
pub use settings::{BrokerSettings, DatabaseSettings, HttpSettings, OutboxSettings};
