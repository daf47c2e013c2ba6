//! The `printflow-mes` binary: reads `MES_*` settings (see `printflow_mes::Config`) and the
//! standard `OTEL_*` ones, and runs the service until SIGTERM/Ctrl-C.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_runtime::main::<printflow_mes::app::Mes>().await
}
