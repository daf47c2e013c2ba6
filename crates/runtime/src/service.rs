//! [`Service`]: what a service crate implements so `Application::<S>::build(config)` and
//! [`crate::main`] work for it. Above `builder` (a service fills in a [`Runtime`]),
//! which is above `application` (what the runtime finishes into).

use crate::application::Application;
use crate::builder::Runtime;
use printflow_config::{ConfigError, ConfigSource};
use std::future::Future;

/// One service: its settings and how it fills in a [`Runtime`].
pub trait Service: Send + 'static {
    /// The default `service.name` of its traces (`OTEL_SERVICE_NAME` overrides it), e.g.
    /// `crm-api`; also names it in the start-up log line.
    const NAME: &'static str;
    /// Its version (`service.version` in traces).
    const VERSION: &'static str;
    /// Its settings.
    type Config: Send;

    /// Reads the settings; binaries pass the process environment, tests a map.
    fn config(src: &dyn ConfigSource) -> Result<Self::Config, ConfigError>;

    /// Connects, migrates and binds, and lists the routes, checks and background tasks.
    fn runtime(config: Self::Config) -> impl Future<Output = anyhow::Result<Runtime>> + Send;
}

impl<S: Service> Application<S> {
    /// Builds service `S` from `config`; nothing is served until [`Application::run`].
    pub async fn build(config: S::Config) -> anyhow::Result<Application<S>> {
        Ok(S::runtime(config).await?.finish())
    }
}
