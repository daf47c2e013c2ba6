//! The drill banner: while a drill fault is armed anywhere (`printflow_faults_active`), the
//! overview and the failure points say so at the top, so nobody mistakes a drill for an outage.

use super::html::esc;
use super::sources::Sources;
use std::fmt::Write as _;

/// Which faults are armed, and where.
pub const EXPR: &str = "printflow_faults_active > 0";

/// The banner, or nothing when no fault is armed (or Prometheus does not answer: the page's
/// other parts say that).
pub async fn banner(sources: &Sources) -> String {
    let Ok(samples) = sources.instant(EXPR).await else {
        return String::new();
    };
    let mut armed: Vec<String> = samples
        .iter()
        .map(|s| format!("{} ({})", s.label("fault"), s.label("job")))
        .collect();
    if armed.is_empty() {
        return String::new();
    }
    armed.sort();
    let mut out = String::from(
        r#"<p class="drill" role="status"><strong>Drill in progress.</strong> Fault(s) armed on purpose: "#,
    );
    let _ = write!(
        out,
        "{}. Alerts they cause are expected; see docs/failure-points.md.</p>",
        esc(&armed.join(", "))
    );
    out
}
