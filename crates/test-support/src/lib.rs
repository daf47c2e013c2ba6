//! Test plumbing for integration tests against the real PostgreSQL and RabbitMQ started by
//! `scripts/test.sh`. Every test gets its own database and its own vhost, so tests run in parallel
//! without seeing each other's rows or messages.
//!
//! Where things are is read from `PRINTFLOW_TEST_DATABASE_URL` (admin connection, default
//! `postgres://printflow:printflow@127.0.0.1:5432/postgres`), `PRINTFLOW_TEST_AMQP_URL_BASE`
//! (default `amqp://<admin>@127.0.0.1:5672`), `PRINTFLOW_TEST_RABBITMQ_API` (default
//! `http://127.0.0.1:15672`) and the broker's administrator `PRINTFLOW_TEST_RABBITMQ_USER` /
//! `PRINTFLOW_TEST_RABBITMQ_PASSWORD` (defaults those of scripts/lib.sh); Jaeger's query API from `PRINTFLOW_TEST_JAEGER_API`
//! (default `http://127.0.0.1:16687`, Jaeger's own port behind the gate) and its OTLP/HTTP
//! receiver from `PRINTFLOW_TEST_OTLP_ENDPOINT` (default `http://127.0.0.1:14318`); Keycloak from `PRINTFLOW_TEST_KEYCLOAK_URL` (default
//! `http://127.0.0.1:8180`, see [`identity`]).
//!
//! Layering, top-down: [`leftovers`] (clean-up) uses [`database`] and [`rabbit`], which name
//! what they create with [`names`]; [`browser`] signs in through [`identity`]; the other modules
//! use no sibling but [`mod@eventually`].

pub mod browser;
pub mod database;
pub mod eventually;
pub mod identity;
pub mod jaeger;
pub mod leftovers;
pub mod monitoring;
pub mod names;
pub mod openapi;
pub mod rabbit;

pub use database::{fingerprint, TestDatabase};
pub use eventually::eventually;
pub use jaeger::{Jaeger, SpanView, TraceView};
pub use monitoring::{Monitoring, ScrapeTarget};
pub use rabbit::TestVhost;
