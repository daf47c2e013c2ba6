//! The overview page: the shop's health at a glance, every number from Prometheus or
//! Alertmanager and linked to the query or alert list it comes from. The PromQL is the Grafana
//! dashboards' (config/grafana/dashboards), so the two never disagree.

use super::chart::{self, Band, Line};
use super::html::{count, esc, link, seconds};
use super::sources::{Down, Sample, Series, Sources};
use printflow_contracts::OrderStatus;
use std::fmt::Write;

/// Orders in each status now.
pub const ORDERS: &str = "sum by (status) (printflow_orders)";
/// Orders in each status for longer than its limit.
pub const OVERDUE: &str = "sum by (status) (printflow_orders_overdue)";
/// How long the oldest order of each status has been in it.
pub const OLDEST: &str = "max by (status) (printflow_order_oldest_status_age_seconds)";
/// Each status' limit.
pub const LIMITS: &str = "max by (status) (printflow_order_status_limit_seconds)";
/// The most overdue orders, by id.
pub const OVERDUE_ORDERS: &str =
    "topk(10, max by (status, order_id) (printflow_order_overdue_age_seconds))";
/// Orders placed (recorded by CRM) in the last hour.
pub const PLACED: &str = "sum(increase(printflow_orders_created_total[1h]))";
/// Orders shipped in the last hour.
pub const SHIPPED: &str = "sum(increase(printflow_order_lead_time_seconds_count[1h]))";
/// Average lead time (creation to SHIPPED) over the last hour.
pub const LEAD_AVG: &str = "sum(rate(printflow_order_lead_time_seconds_sum[1h])) / sum(rate(printflow_order_lead_time_seconds_count[1h]))";
/// Median lead time over the last hour.
pub const LEAD_P50: &str =
    "histogram_quantile(0.5, sum by (le) (rate(printflow_order_lead_time_seconds_bucket[1h])))";
/// 95th percentile of the lead time over the last hour.
pub const LEAD_P95: &str =
    "histogram_quantile(0.95, sum by (le) (rate(printflow_order_lead_time_seconds_bucket[1h])))";
/// Messages waiting in or being handled from each work queue.
pub const IN_FLIGHT: &str = r#"sum by (queue) (rabbitmq_detailed_queue_messages_ready{queue!~".+[.]dlq"} + rabbitmq_detailed_queue_messages_unacked{queue!~".+[.]dlq"})"#;
/// Messages in each dead-letter queue.
pub const DEAD_LETTERS: &str =
    r#"sum by (queue) (rabbitmq_detailed_queue_messages{queue=~".+[.]dlq"})"#;
/// Events not yet handed to the broker, per service.
pub const OUTBOX: &str = "sum by (job) (printflow_outbox_pending)";
/// CRM's and MES's p99 latency over 5 minutes.
pub const P99: &str = r#"histogram_quantile(0.99, sum by (job, le) (rate(http_server_request_duration_seconds_bucket{job=~"crm|mes"}[5m])))"#;
/// Their objectives.
pub const P99_OBJECTIVE: &str =
    r#"max by (job) (printflow:latency_p99_objective_seconds{job=~"crm|mes"})"#;

/// How far back the charts look, and their step.
const LEAD_CHART: (f64, f64) = (6.0 * 3600.0, 300.0);
const HOURLY_CHART: (f64, f64) = (24.0 * 3600.0, 3600.0);

type Vector = Result<Vec<Sample>, Down>;

/// Everything the page shows, fetched at once.
struct Figures {
    orders: Vector,
    overdue: Vector,
    oldest: Vector,
    limits: Vector,
    overdue_orders: Vector,
    placed: Vector,
    shipped: Vector,
    lead: [Vector; 3],
    in_flight: Vector,
    dead_letters: Vector,
    outbox: Vector,
    p99: Vector,
    objective: Vector,
}

/// The overview's body. `orders` is the viewer's `Authorization` when they may open orders
/// (the latest orders are then read from CRM with it, and order ids link to their journeys).
pub async fn render(sources: &Sources, orders: Option<&str>) -> String {
    let now = chrono::Utc::now().timestamp() as f64;
    let latest = async {
        match orders {
            Some(auth) => Some(sources.crm(auth, "/orders?per_page=5").await),
            None => None,
        }
    };
    let (figures, lead_chart, hourly_chart, alerts, latest) = tokio::join!(
        fetch(sources),
        lead_chart(sources, now),
        hourly_chart(sources, now),
        sources.active_alerts(),
        latest,
    );
    let orders_link = orders.is_some();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<p class="muted">As of {} · <a href="/overview">refresh</a> · every figure links to its query</p><div class="cards">"#,
        super::html::time((now * 1e6) as i64)
    );
    if let Some(latest) = latest {
        card_start(&mut out, "latest", "Latest orders");
        out.push_str(&super::journey::search_form(""));
        match latest {
            Ok(a) if a.status.is_success() => out.push_str(&super::journey::orders_table(
                &a.body,
                "From CRM, newest first",
            )),
            Ok(a) => {
                let _ = write!(
                    out,
                    r#"<p class="down" role="status">CRM refused: {}</p>"#,
                    esc(a.body["message"].as_str().unwrap_or("no reason given"))
                );
            }
            Err(e) => down(&mut out, &e),
        }
        out.push_str("</section>");
    }
    orders_card(&mut out, sources, &figures, orders_link);
    flow_card(&mut out, sources, &figures, &hourly_chart);
    lead_card(&mut out, sources, &figures, &lead_chart);
    alerts_card(&mut out, sources, &alerts);
    queues_card(&mut out, sources, &figures);
    latency_card(&mut out, sources, &figures);
    out.push_str("</div>");
    out
}

async fn fetch(s: &Sources) -> Figures {
    let (orders, overdue, oldest, limits, overdue_orders, placed, shipped) = tokio::join!(
        s.instant(ORDERS),
        s.instant(OVERDUE),
        s.instant(OLDEST),
        s.instant(LIMITS),
        s.instant(OVERDUE_ORDERS),
        s.instant(PLACED),
        s.instant(SHIPPED),
    );
    let (avg, p50, p95, in_flight, dead_letters, outbox, p99, objective) = tokio::join!(
        s.instant(LEAD_AVG),
        s.instant(LEAD_P50),
        s.instant(LEAD_P95),
        s.instant(IN_FLIGHT),
        s.instant(DEAD_LETTERS),
        s.instant(OUTBOX),
        s.instant(P99),
        s.instant(P99_OBJECTIVE),
    );
    Figures {
        orders,
        overdue,
        oldest,
        limits,
        overdue_orders,
        placed,
        shipped,
        lead: [avg, p50, p95],
        in_flight,
        dead_letters,
        outbox,
        p99,
        objective,
    }
}

/// The value of the sample whose `label` is `value`, if any.
fn by<'a>(samples: &'a [Sample], label: &str, value: &str) -> Option<&'a Sample> {
    samples.iter().find(|s| s.label(label) == value)
}

/// The single value of a one-element vector (`NaN` for an empty one).
fn single(v: &Vector) -> f64 {
    v.as_ref()
        .ok()
        .and_then(|s| s.first())
        .map_or(f64::NAN, |s| s.value)
}

fn down(out: &mut String, why: &Down) {
    let _ = write!(out, r#"<p class="down" role="status">{}</p>"#, esc(&why.0));
}

fn card_start(out: &mut String, id: &str, title: &str) {
    let _ = write!(
        out,
        r#"<section class="card" id="{id}" aria-labelledby="{id}-h"><h2 id="{id}-h">{}</h2>"#,
        esc(title)
    );
}

fn orders_card(out: &mut String, s: &Sources, f: &Figures, orders_link: bool) {
    card_start(out, "orders", "Orders by status");
    match (&f.orders, &f.overdue, &f.oldest, &f.limits) {
        (Ok(orders), Ok(overdue), Ok(oldest), Ok(limits)) if !orders.is_empty() => {
            out.push_str(r#"<table><thead><tr><th>Status</th><th class="num">Orders</th><th class="num">Overdue</th><th class="num wide">Oldest</th><th class="num wide">Limit</th></tr></thead><tbody>"#);
            for status in OrderStatus::ALL {
                let st = status.as_str();
                let n = by(orders, "status", st).map_or(0.0, |x| x.value);
                let late = by(overdue, "status", st).map(|x| x.value);
                let over = late.is_some_and(|v| v > 0.0);
                let _ = write!(
                    out,
                    r#"<tr{}><td>{st}</td><td class="num">{}</td><td class="num">{}</td><td class="num wide">{}</td><td class="num wide">{}</td></tr>"#,
                    if over { r#" class="over""# } else { "" },
                    link(&s.graph_link(ORDERS), &count(n)),
                    match late {
                        Some(v) => link(&s.graph_link(OVERDUE), &count(v)),
                        None => String::from("–"),
                    },
                    link(
                        &s.graph_link(OLDEST),
                        &seconds(by(oldest, "status", st).map_or(f64::NAN, |x| x.value))
                    ),
                    by(limits, "status", st)
                        .map(|x| link(&s.graph_link(LIMITS), &seconds(x.value)))
                        .unwrap_or_else(|| "none".to_owned()),
                );
            }
            out.push_str("</tbody></table>");
        }
        (Ok(_), Ok(_), Ok(_), Ok(_)) => {
            out.push_str(r#"<p class="empty">No order figures yet: CRM has not been scraped.</p>"#)
        }
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => down(out, e),
    }
    if let Ok(late) = &f.overdue_orders {
        if !late.is_empty() {
            let _ = write!(
                out,
                r#"<h3>Most overdue ({})</h3><ul>"#,
                link(&s.graph_link(OVERDUE_ORDERS), "query")
            );
            for o in late {
                let id = o.label("order_id");
                let name = if orders_link {
                    link(&format!("/orders/{id}"), id)
                } else {
                    format!("<code>{}</code>", esc(id))
                };
                let _ = write!(
                    out,
                    "<li>{name}: {} for {}</li>",
                    esc(o.label("status")),
                    seconds(o.value)
                );
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</section>");
}

fn flow_card(out: &mut String, s: &Sources, f: &Figures, chart: &str) {
    card_start(out, "flow", "Orders placed and shipped");
    match (&f.placed, &f.shipped) {
        (Ok(_), Ok(_)) => {
            let _ = write!(
                out,
                r#"<p>Last hour: <span class="big">{}</span> placed, <span class="big">{}</span> shipped.</p>"#,
                link(&s.graph_link(PLACED), &count(single(&f.placed))),
                link(&s.graph_link(SHIPPED), &count(single(&f.shipped))),
            );
        }
        (Err(e), _) | (_, Err(e)) => down(out, e),
    }
    out.push_str(chart);
    out.push_str("</section>");
}

fn lead_card(out: &mut String, s: &Sources, f: &Figures, chart: &str) {
    card_start(out, "lead-time", "Order lead time (placed to shipped)");
    match &f.lead {
        [Ok(_), Ok(_), Ok(_)] => {
            let _ = write!(
                out,
                r#"<p>Last hour: average <span class="big">{}</span>, p50 {}, p95 {}.</p>"#,
                link(&s.graph_link(LEAD_AVG), &seconds(single(&f.lead[0]))),
                link(&s.graph_link(LEAD_P50), &seconds(single(&f.lead[1]))),
                link(&s.graph_link(LEAD_P95), &seconds(single(&f.lead[2]))),
            );
        }
        [Err(e), ..] | [_, Err(e), _] | [.., Err(e)] => down(out, e),
    }
    out.push_str(chart);
    out.push_str("</section>");
}

fn alerts_card(
    out: &mut String,
    s: &Sources,
    alerts: &Result<Vec<super::sources::ActiveAlert>, Down>,
) {
    card_start(out, "alerts", "Active alerts");
    match alerts {
        Err(e) => down(out, e),
        Ok(alerts) if alerts.is_empty() => {
            let _ = write!(
                out,
                r#"<p class="empty">None. {}</p>"#,
                link(&format!("{}/#/alerts", s.alertmanager), "Alertmanager")
            );
        }
        Ok(alerts) => {
            out.push_str(r#"<table><thead><tr><th>Alert</th><th>Severity</th><th class="wide">Since</th></tr></thead><tbody>"#);
            for a in alerts {
                let name = a.labels.get("alertname").map_or("?", String::as_str);
                let since = chrono::DateTime::parse_from_rfc3339(&a.starts_at)
                    .map(|t| super::html::time(t.timestamp_micros()))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    r#"<tr><td>{}{}</td><td>{}</td><td class="wide">{since}</td></tr>"#,
                    link(&s.alert_link(name), name),
                    a.summary
                        .as_deref()
                        .map(|t| format!(r#"<br><span class="muted">{}</span>"#, esc(t)))
                        .unwrap_or_default(),
                    esc(a.labels.get("severity").map_or("", String::as_str)),
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</section>");
}

fn queues_card(out: &mut String, s: &Sources, f: &Figures) {
    card_start(out, "queues", "Messages");
    let mut table = |title: &str, v: &Vector, expr: &str, label: &str, empty: &str| {
        let _ = write!(out, "<h3>{}</h3>", esc(title));
        match v {
            Err(e) => down(out, e),
            Ok(rows) if rows.is_empty() => {
                let _ = write!(out, r#"<p class="empty">{}</p>"#, esc(empty));
            }
            Ok(rows) => {
                let mut rows = rows.clone();
                rows.sort_by(|a, b| a.label(label).cmp(b.label(label)));
                out.push_str("<table><tbody>");
                for r in &rows {
                    let _ = write!(
                        out,
                        r#"<tr{}><td>{}</td><td class="num">{}</td></tr>"#,
                        if expr == DEAD_LETTERS && r.value > 0.0 {
                            r#" class="over""#
                        } else {
                            ""
                        },
                        esc(r.label(label)),
                        link(&s.graph_link(expr), &count(r.value))
                    );
                }
                out.push_str("</tbody></table>");
            }
        }
    };
    table(
        "In flight per work queue (ready + unacknowledged)",
        &f.in_flight,
        IN_FLIGHT,
        "queue",
        "No queue figures: RabbitMQ has not been scraped.",
    );
    table(
        "Dead letters per queue",
        &f.dead_letters,
        DEAD_LETTERS,
        "queue",
        "No dead-letter queue figures: RabbitMQ has not been scraped.",
    );
    table(
        "Outbox rows not yet published",
        &f.outbox,
        OUTBOX,
        "job",
        "No outbox figures yet.",
    );
    out.push_str("</section>");
}

fn latency_card(out: &mut String, s: &Sources, f: &Figures) {
    card_start(out, "latency", "CRM and MES latency (p99, 5 min)");
    match (&f.p99, &f.objective) {
        (Ok(p99), Ok(objective)) => {
            out.push_str(r#"<table><thead><tr><th>Service</th><th class="num">p99</th><th class="num">Objective</th></tr></thead><tbody>"#);
            for (job, name) in [("crm", "CRM API"), ("mes", "MES API")] {
                let v = by(p99, "job", job).map_or(f64::NAN, |x| x.value);
                let goal = by(objective, "job", job).map_or(f64::NAN, |x| x.value);
                let _ = write!(
                    out,
                    r#"<tr{}><td>{name}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                    if v > goal { r#" class="over""# } else { "" },
                    link(&s.graph_link(P99), &seconds(v)),
                    link(&s.graph_link(P99_OBJECTIVE), &seconds(goal)),
                );
            }
            out.push_str("</tbody></table>");
        }
        (Err(e), _) | (_, Err(e)) => down(out, e),
    }
    out.push_str("</section>");
}

/// The points of the first series of a range answer (none when Prometheus has no data).
fn points(answer: Result<Vec<Series>, Down>) -> Result<Vec<(f64, f64)>, Down> {
    answer.map(|series| {
        series
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default()
    })
}

/// A chart, or what kept it from being drawn.
fn chart_or_down(chart: Result<String, Down>) -> String {
    chart.unwrap_or_else(|e| {
        let mut out = String::new();
        down(&mut out, &e);
        out
    })
}

async fn lead_chart(s: &Sources, now: f64) -> String {
    let (span, step) = LEAD_CHART;
    let (avg, p50, p95) = tokio::join!(
        s.range(LEAD_AVG, now, span, step),
        s.range(LEAD_P50, now, span, step),
        s.range(LEAD_P95, now, span, step),
    );
    chart_or_down((|| {
        let (avg, p50, p95) = (points(avg)?, points(p50)?, points(p95)?);
        Ok(chart::render(
            "Lead time over the last 6 hours: average, and the band from p50 to p95",
            &[Line {
                name: "average",
                class: "c1",
                points: &avg,
            }],
            Some(&Band {
                name: "p50–p95",
                lower: &p50,
                upper: &p95,
            }),
            &seconds,
        ))
    })())
}

async fn hourly_chart(s: &Sources, now: f64) -> String {
    let (span, step) = HOURLY_CHART;
    let (placed, shipped) = tokio::join!(
        s.range(PLACED, now, span, step),
        s.range(SHIPPED, now, span, step)
    );
    chart_or_down((|| {
        let (placed, shipped) = (points(placed)?, points(shipped)?);
        Ok(chart::render(
            "Orders placed and shipped per hour over the last 24 hours",
            &[
                Line {
                    name: "placed",
                    class: "c1",
                    points: &placed,
                },
                Line {
                    name: "shipped",
                    class: "c2",
                    points: &shipped,
                },
            ],
            None,
            &count,
        ))
    })())
}
