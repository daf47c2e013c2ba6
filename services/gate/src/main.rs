//! `printflow-gate`: the telemetry gate in front of Jaeger. Settings come from `GATE_*`
//! environment variables (see `printflow_gate::config::Config`); telemetry from the standard
//! `OTEL_*` ones.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    printflow_runtime::main::<printflow_gate::app::Gate>().await
}
