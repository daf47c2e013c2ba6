//! `printflow-crm`: serves the CRM API, relays the outbox and consumes MES status events.
//! Settings come from `CRM_*` environment variables (see `printflow_crm::Config`); telemetry
//! from the standard `OTEL_*` ones (see `printflow_telemetry::settings`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_runtime::main::<printflow_crm::app::Crm>().await
}
