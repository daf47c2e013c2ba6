//! Start-up: what the Shop adds to the shared runtime — its database, model store and CRM client,
//! its routes and the `model_store` readiness check. It has no background tasks.

use crate::config::Config;
use crate::metrics::ShopMetrics;
use crate::model::store::{LocalModelStore, ModelStore};
use crate::orders::crm_client::CrmClient;
use crate::routes::{self, OPENAPI_JSON};
use crate::state::AppState;
use printflow_auth::ServiceToken;
use printflow_runtime::health::check_fn;
use printflow_runtime::{Runtime, Service};
use printflow_web::config::{ConfigError, ConfigSource};
use std::sync::Arc;

/// The Shop service (see [`Service`]).
#[derive(Debug)]
pub struct Shop;

/// A built, not yet running Shop: `Application::build(config)`, `port()`, `run(shutdown)`.
pub type Application = printflow_runtime::Application<Shop>;

impl Service for Shop {
    const NAME: &'static str = "shop-api";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Config = Config;

    fn config(src: &dyn ConfigSource) -> Result<Config, ConfigError> {
        Config::from_source(src)
    }

    async fn runtime(config: Config) -> anyhow::Result<Runtime> {
        let mut runtime = Runtime::new(&config.http, &config.auth, Self::NAME).await?;
        let pool = runtime.database(&config.database, &crate::SCHEMA).await?;
        let faults = runtime.faults(&config.faults, crate::faults::FAULTS);
        let store: Arc<dyn ModelStore> = Arc::new(LocalModelStore::new(&config.model_store_dir));
        let state = AppState {
            pool,
            store: store.clone(),
            crm: CrmClient::new(
                &config.crm_url,
                config.crm_timeout,
                Arc::new(ServiceToken::new(config.client.clone())),
            ),
            build_volume: config.build_volume,
            search_timeout: config.search_timeout,
            metrics: ShopMetrics::register(runtime.metrics()),
            faults,
        };
        let protected = routes::router(state.clone(), runtime.auth());
        Ok(runtime
            .public_routes(routes::public_router(state))
            .routes(protected)
            .openapi(OPENAPI_JSON)
            .check(
                "model_store",
                check_fn(move || {
                    let store = store.clone();
                    async move { store.check_writable().await.map_err(|e| e.to_string()) }
                }),
            ))
    }
}
