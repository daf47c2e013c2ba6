//! Start-up: database pool and migrations, model store, CRM client, router, listener.

use crate::config::{BuildVolume, Config};
use crate::metrics::ShopMetrics;
use crate::model::store::{LocalModelStore, ModelStore};
use crate::orders::crm_client::CrmClient;
use crate::routes;
use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use printflow_metrics::Metrics;
use printflow_web::server::{database_check, health_routes, with_common_layers, Check, Limits};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The hand-written OpenAPI document.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The Shop database.
    pub pool: PgPool,
    /// Where saved model files live.
    pub store: Arc<dyn ModelStore>,
    /// The CRM client.
    pub crm: CrmClient,
    /// The printers' build volume (save-time check).
    pub build_volume: BuildVolume,
    /// Statement timeout for catalog queries.
    pub search_timeout: Duration,
    /// Catalog and design metrics (in the application's registry).
    pub metrics: ShopMetrics,
}

/// A built, not yet running, Shop.
pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

impl Application {
    /// Connects, migrates and binds; nothing is served until [`Application::run`].
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&config.database_url)
            .await?;
        crate::migrate(&pool).await?;
        let store: Arc<dyn ModelStore> = Arc::new(LocalModelStore::new(&config.model_store_dir));
        // One registry per application, served at `GET /metrics`.
        let metrics = Metrics::new();
        let state = AppState {
            pool,
            store,
            crm: CrmClient::new(&config.crm_url, config.crm_timeout),
            build_volume: config.build_volume,
            search_timeout: config.search_timeout,
            metrics: ShopMetrics::register(&metrics),
        };
        let listener = TcpListener::bind((config.http_host.as_str(), config.http_port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            router: router(state, &metrics),
            port,
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // The Shop has no background workers yet; the token is where they will hang off.
        let token = CancellationToken::new();
        let stop = token.clone();
        let signal = async move {
            shutdown.await;
            stop.cancel();
        };
        printflow_web::server::serve(self.listener, self.router, signal).await?;
        token.cancel();
        Ok(())
    }
}

fn store_check(store: Arc<dyn ModelStore>) -> Check {
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move { store.check_writable().await.map_err(|e| e.to_string()) })
    })
}

/// The full router with the shared layers (including `GET /metrics` serving `metrics`).
pub fn router(state: AppState, metrics: &Metrics) -> Router {
    let health = health_routes(vec![
        ("database", database_check(state.pool.clone())),
        ("model_store", store_check(state.store.clone())),
    ]);
    let api = Router::new()
        .route("/catalog/products", get(routes::catalog::search_products))
        .route("/catalog/products/{id}", get(routes::catalog::get_product))
        .route("/catalog/categories", get(routes::catalog::categories))
        .route("/designs", post(routes::designs::create))
        .route("/designs/{id}", get(routes::designs::get))
        .route(
            "/designs/{id}/edits",
            post(routes::designs::edit).get(routes::designs::list_edits),
        )
        .route(
            "/designs/{id}/versions",
            post(routes::designs::save_version).get(routes::designs::list_versions),
        )
        .route(
            "/designs/{id}/versions/{version}",
            get(routes::designs::get_version),
        )
        .route(
            "/designs/{id}/versions/{version}/model",
            get(routes::designs::download_model),
        )
        .route("/designs/{id}/saves", get(routes::designs::list_saves))
        .route("/orders", post(routes::orders::create))
        .route("/orders/{id}", get(routes::orders::get))
        .route("/orders/{id}/status", get(routes::orders::status))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON) }),
        )
        .with_state(state);
    with_common_layers(api.merge(health), Limits::default(), metrics)
}
