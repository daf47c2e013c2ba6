//! The failure points page: the source document's eight places where an order breaks or hangs
//! (docs/architecture.md), each with what prevents it, the metric that shows it live and the
//! alerts that watch it, in their current state from Prometheus' rules.

use super::html::{esc, link, seconds};
use super::sources::{Down, RuleAlert, Sources};
use std::fmt::Write;

/// How an indicator's value reads.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Seconds,
    PerMinute,
    Count,
}

/// One failure point.
#[derive(Debug)]
pub struct Point {
    /// Its number in the source document.
    pub number: u8,
    /// What goes wrong.
    pub name: &'static str,
    /// What the design does about it.
    pub prevented_by: &'static str,
    /// What the indicator measures.
    pub indicator: &'static str,
    /// Its PromQL (one number).
    pub expr: &'static str,
    unit: Unit,
    /// The alerts (rule names in config/prometheus/rules) that watch it.
    pub alerts: &'static [&'static str],
}

/// The eight points, in the source document's order.
pub const POINTS: [Point; 8] = [
    Point {
        number: 1,
        name: "Catalog search hangs",
        prevented_by: "indexed full-text search; statement and request timeouts answer 503 search_timeout instead of hanging",
        indicator: "catalog search p99, 5 min",
        expr: "histogram_quantile(0.99, sum by (le) (rate(printflow_catalog_search_duration_seconds_bucket[5m])))",
        unit: Unit::Seconds,
        alerts: &["CatalogSearchFailing", "HighErrorRatio"],
    },
    Point {
        number: 2,
        name: "The 3D schema fails to form",
        prevented_by: "edit operations validated and refused with a reason; mesh checks (closed, fits the build volume) before a version is saved",
        indicator: "failed design saves per minute",
        expr: r#"sum(rate(printflow_design_saves_total{outcome="failed"}[5m])) * 60"#,
        unit: Unit::PerMinute,
        alerts: &["DesignSaveFailureRatio"],
    },
    Point {
        number: 3,
        name: "A saved schema file is lost",
        prevented_by: "atomic, fsynced writes before the version row; immutable versions; checksum checked on every download (model_file_missing, model_file_corrupt)",
        indicator: "Shop server errors per minute",
        expr: r#"sum(rate(http_server_request_duration_seconds_count{job="shop", status_class="5xx"}[5m])) * 60"#,
        unit: Unit::PerMinute,
        alerts: &["ModelFileUnreadable", "ModelFileFailingJobs", "HighErrorRatio"],
    },
    Point {
        number: 4,
        name: "A wrong status is returned",
        prevented_by: "one source of truth (CRM's order row), events applied in order and once, status_version",
        indicator: "orders whose CRM status disagrees with MES's job (reconciler)",
        expr: r#"max(printflow_reconciliation_disagreements{kind=~"status_mismatch|cancellation_not_honoured"})"#,
        unit: Unit::Count,
        alerts: &["OrdersOutOfSync"],
    },
    Point {
        number: 5,
        name: "The \"order created\" message is lost",
        prevented_by: "transactional outbox, publisher confirms, persistent messages in quorum queues",
        indicator: "orders whose order.created has not reached MES (reconciler)",
        expr: r#"sum(max by (kind) (printflow_reconciliation_disagreements{kind=~"order_created_.+"}))"#,
        unit: Unit::Count,
        alerts: &["OrdersOutOfSync", "OutboxBacklogTooOld", "QueueWithoutConsumers"],
    },
    Point {
        number: 6,
        name: "Status and 3D schema disagree",
        prevented_by: "the order carries the version's SHA-256; MES verifies the file it prints and fails the job with checksum_mismatch",
        indicator: "jobs failed with checksum_mismatch, last hour",
        expr: r#"sum(increase(printflow_job_failures_total{reason="checksum_mismatch"}[1h]))"#,
        unit: Unit::Count,
        alerts: &["ModelFileFailingJobs"],
    },
    Point {
        number: 7,
        name: "Status-change events are lost",
        prevented_by: "MES outbox with confirms, per-order sequences; CRM holds early events until the gap fills; poison messages dead-lettered with the reason",
        indicator: "orders whose MES events CRM is missing (reconciler)",
        expr: r#"max(printflow_reconciliation_disagreements{kind="status_events_missing"})"#,
        unit: Unit::Count,
        alerts: &["OrdersOutOfSync", "DeadLetterQueueNotEmpty", "DeadLetterQueueGrowing", "MessagesPilingUp", "OutboxBacklogTooOld"],
    },
    Point {
        number: 8,
        name: "Status requests hang",
        prevented_by: "a deadline on every Shop → CRM call (504 crm_timeout, 503 crm_unavailable) and CRM's statement timeout",
        indicator: "CRM p99, 5 min",
        expr: r#"histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job="crm"}[5m])))"#,
        unit: Unit::Seconds,
        alerts: &["OrderStatusReadsFailing", "CrmLatencyHigh"],
    },
];

/// The state of a point: the worst of its alerts.
fn state(point: &Point, alerts: &Result<Vec<RuleAlert>, Down>) -> &'static str {
    let Ok(alerts) = alerts else {
        return "unknown";
    };
    let states: Vec<&str> = alerts
        .iter()
        .filter(|a| {
            a.labels
                .get("alertname")
                .is_some_and(|n| point.alerts.contains(&n.as_str()))
        })
        .map(|a| a.state.as_str())
        .collect();
    if states.contains(&"firing") {
        "firing"
    } else if states.contains(&"pending") {
        "pending"
    } else {
        "ok"
    }
}

/// The page's body.
pub async fn render(sources: &Sources) -> String {
    let values = futures::future::join_all(POINTS.iter().map(|p| sources.instant(p.expr)));
    let (values, alerts) = tokio::join!(values, sources.rule_alerts());
    let mut out = String::new();
    if let Err(e) = &alerts {
        let _ = write!(out, r#"<p class="down" role="status">{}</p>"#, esc(&e.0));
    }
    out.push_str(r#"<table><thead><tr><th>#</th><th>Failure point</th><th>State</th><th>Indicator</th><th class="wide">Watched by</th><th class="wide">Prevented by</th></tr></thead><tbody>"#);
    for (point, value) in POINTS.iter().zip(values) {
        let state = state(point, &alerts);
        let value = match value {
            Ok(samples) => {
                let v = samples.first().map_or(f64::NAN, |s| s.value);
                match point.unit {
                    Unit::Seconds => seconds(v),
                    Unit::PerMinute if v.is_finite() => format!("{v:.1}/min"),
                    Unit::Count if v.is_finite() => format!("{v:.0}"),
                    _ => "–".to_owned(),
                }
            }
            Err(_) => "?".to_owned(),
        };
        let watched = if point.alerts.is_empty() {
            r#"<span class="muted">no alert yet; seen in traces and the order's history</span>"#
                .to_owned()
        } else {
            point
                .alerts
                .iter()
                .map(|a| link(&sources.alert_link(a), a))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            out,
            r#"<tr id="point-{n}"><td>{n}</td><td>{}</td><td><span class="state {state}">{state}</span></td><td>{}<br><span class="muted">{}</span></td><td class="wide">{watched}</td><td class="wide">{}</td></tr>"#,
            esc(point.name),
            link(&sources.graph_link(point.expr), &value),
            esc(point.indicator),
            esc(point.prevented_by),
            n = point.number,
        );
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn alert(name: &str, state: &str) -> RuleAlert {
        RuleAlert {
            labels: BTreeMap::from([("alertname".to_owned(), name.to_owned())]),
            state: state.to_owned(),
        }
    }

    #[test]
    fn a_point_takes_the_worst_state_of_its_alerts() {
        let p = &POINTS[6];
        assert_eq!(state(p, &Ok(vec![])), "ok");
        assert_eq!(state(p, &Ok(vec![alert("CrmLatencyHigh", "firing")])), "ok");
        assert_eq!(
            state(
                p,
                &Ok(vec![
                    alert("MessagesPilingUp", "pending"),
                    alert("DeadLetterQueueNotEmpty", "firing")
                ])
            ),
            "firing"
        );
        assert_eq!(
            state(p, &Ok(vec![alert("MessagesPilingUp", "pending")])),
            "pending"
        );
        assert_eq!(state(p, &Err(Down("x".into()))), "unknown");
    }

    #[test]
    fn every_alert_named_is_a_rule_of_the_repository() {
        let dir = format!(
            "{}/../../config/prometheus/rules",
            env!("CARGO_MANIFEST_DIR")
        );
        let rules: String = std::fs::read_dir(dir)
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        for p in &POINTS {
            for a in p.alerts {
                assert!(
                    rules.contains(&format!("alert: {a}\n")),
                    "{a} of point {}",
                    p.number
                );
            }
        }
        let numbers: Vec<u8> = POINTS.iter().map(|p| p.number).collect();
        assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    }
}
