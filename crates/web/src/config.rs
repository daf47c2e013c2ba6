//! Configuration read through a trait, so tests hand in a map and never set process env vars.
//!
//! The trait and its helpers live in `printflow-config`, below both this crate and
//! `printflow-telemetry` (which reads its `OTEL_*` settings through it too); they are re-exported
//! here so services keep writing `printflow_web::config::...`.

pub use printflow_config::{parse_or, string_or, ConfigError, ConfigSource, ProcessEnv};
