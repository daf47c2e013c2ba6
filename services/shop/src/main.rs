//! `printflow-shop`: the Shop API binary. Settings come from `SHOP_*` environment variables
//! (see `printflow_shop::config::Config`); telemetry from the standard `OTEL_*` ones (see
//! `printflow_telemetry::settings`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_runtime::main::<printflow_shop::app::Shop>().await
}
