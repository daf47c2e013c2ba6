//! The order pages: finding an order (by id, or by customer for support), and one order's
//! journey — CRM's status timeline (time in each status against its limit, the source and
//! sequence of each change, the MES events CRM received including rejected and repeated ones)
//! beside the order's trace as a waterfall, each status change linked to the span that made it.
//!
//! CRM is asked with the viewer's own token, so CRM's role checks apply as they do to the API;
//! the trace goes through the viewer's trace view and the audit like every trace read.

use super::html::{self, esc, link, seconds};
use super::sources::{CrmAnswer, Down, Sources};
use super::waterfall;
use crate::policy::View;
use crate::query::{filter_v1_data, Ask, Returned};
use serde_json::Value;
use std::fmt::Write;

/// The services whose spans name the order's trace, with the span to search for, in the order
/// tried: the order's creation in CRM, its placement in the Shop, its job in MES.
const TRACE_ROOTS: [(&str, &str); 3] = [
    ("crm-api", "order.create"),
    ("shop-api", "order.place"),
    ("mes-api", "job intake"),
];

/// What the viewer asked the order search for.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Nothing: the latest orders.
    Latest,
    /// An order id, or a customer id (tried as an order first).
    Id(uuid::Uuid),
    /// A customer's e-mail address.
    Email(String),
    /// Neither.
    Unreadable,
}

impl Wanted {
    /// Reads the search box.
    pub fn parse(q: Option<&str>) -> Wanted {
        let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
            return Wanted::Latest;
        };
        if let Ok(id) = q.parse() {
            Wanted::Id(id)
        } else if q.contains('@') && q.len() <= 254 {
            Wanted::Email(q.to_owned())
        } else {
            Wanted::Unreadable
        }
    }
}

/// The search form, with `q` in it.
pub fn search_form(q: &str) -> String {
    format!(
        r#"<form class="filters" method="get" action="/orders" role="search"><label>Order id, customer id or customer e-mail<input name="q" size="40" value="{}" autocomplete="off"></label><button>Find</button></form>"#,
        esc(q)
    )
}

/// Why CRM gave no list, for the page.
fn refused(answer: &CrmAnswer) -> String {
    let message = answer.body["message"].as_str().unwrap_or("no reason given");
    match answer.status.as_u16() {
        401 | 403 => format!(
            r#"<p class="down" role="status">CRM does not show orders to your roles ({}).</p>"#,
            esc(message)
        ),
        _ => format!(
            r#"<p class="down" role="status">CRM refused the search: {}</p>"#,
            esc(message)
        ),
    }
}

/// A table of orders (a CRM `OrderPage`'s items).
pub fn orders_table(page: &Value, caption: &str) -> String {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return r#"<p class="empty">No orders found.</p>"#.to_owned();
    }
    let mut out = format!(
        r#"<table><caption class="muted">{}</caption><thead><tr><th>Order</th><th>Status</th><th class="wide">Since</th><th class="wide">Placed</th></tr></thead><tbody>"#,
        esc(caption)
    );
    for o in &items {
        let id = o["order_id"].as_str().unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td class="wide">{}</td><td class="wide">{}</td></tr>"#,
            short_link(id),
            esc(o["status"].as_str().unwrap_or_default()),
            rfc3339(&o["status_since"]),
            rfc3339(&o["created_at"]),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A link to order `id`'s journey showing the id's first group (the whole id on hover and
/// for screen readers), so a table of orders fits a phone's width.
fn short_link(id: &str) -> String {
    let short = id.split('-').next().unwrap_or(id);
    format!(
        r#"<a href="/orders/{id}" title="{id}" aria-label="order {id}"><code>{short}…</code></a>"#,
        id = esc(id),
        short = esc(short)
    )
}

/// A `<time>` for an RFC 3339 JSON string.
fn rfc3339(v: &Value) -> String {
    micros(v).map(html::time).unwrap_or_default()
}

/// Microseconds since the epoch of an RFC 3339 JSON string.
pub fn micros(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros())
}

/// The search page's body after the form. `Err` is a redirect target (an order id that exists).
pub async fn search(sources: &Sources, auth: &str, wanted: &Wanted) -> Result<String, String> {
    let customer_query = |c: &str| {
        let q: String = form_urlencoded::byte_serialize(c.as_bytes()).collect();
        format!("/orders?customer={q}&per_page=50")
    };
    let answer = match wanted {
        Wanted::Latest => sources.crm(auth, "/orders?per_page=20").await,
        Wanted::Unreadable => {
            return Ok(r#"<p class="down" role="status">Give an order id, a customer id (both UUIDs) or a customer's e-mail address.</p>"#.to_owned());
        }
        Wanted::Email(email) => sources.crm(auth, &customer_query(email)).await,
        Wanted::Id(id) => match sources.crm(auth, &format!("/orders/{id}")).await {
            Ok(a) if a.status.is_success() => return Err(format!("/orders/{id}")),
            Ok(a) if a.status.as_u16() == 404 => {
                sources.crm(auth, &customer_query(&id.to_string())).await
            }
            other => other,
        },
    };
    Ok(match answer {
        Err(Down(why)) => format!(r#"<p class="down" role="status">{}</p>"#, esc(&why)),
        Ok(a) if !a.status.is_success() => refused(&a),
        Ok(a) => orders_table(
            &a.body,
            match wanted {
                Wanted::Latest => "Latest orders",
                _ => "The customer's orders, newest first",
            },
        ),
    })
}

/// The order's trace, cut to the viewer's view: `(trace, returned)`, or why there is none.
pub async fn order_trace(
    ask: &Ask,
    view: &View,
    order_id: &str,
    created: Option<i64>,
) -> Result<(Value, Returned), String> {
    let start = created.unwrap_or(0) - 3_600_000_000;
    let end = chrono::Utc::now().timestamp_micros() + 60_000_000;
    let tags = format!(r#"{{"order.id":"{order_id}"}}"#);
    for (service, operation) in TRACE_ROOTS {
        if !view.lists_service(service) {
            continue;
        }
        let path = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("service", service)
                .append_pair("operation", operation)
                .append_pair("tags", &tags)
                .append_pair("start", &start.to_string())
                .append_pair("end", &end.to_string())
                .append_pair("limit", "1");
            format!("/api/traces?{}", q.finish())
        };
        let Ok((status, mut found)) = ask.fetch(view, &path).await else {
            return Err("The trace store did not answer.".to_owned());
        };
        if !status.is_success() {
            continue;
        }
        let returned = filter_v1_data(view, &mut found);
        if let Some(trace) = found["data"].as_array().and_then(|t| t.first()) {
            return Ok((trace.clone(), returned));
        }
    }
    Err("No trace of this order is stored (yet), or none you may see.".to_owned())
}

/// The span of `trace` that made a status change: the CRM span applying MES event `sequence`
/// to `to`, or for CRM's own changes the span of `operation`.
fn span_of_change(trace: &Value, entry: &Value) -> Option<String> {
    let to = entry["to_status"].as_str()?;
    let tag = |span: &Value, key: &str| -> Option<Value> {
        span["tags"]
            .as_array()?
            .iter()
            .find(|t| t["key"] == key)
            .map(|t| t["value"].clone())
    };
    let spans = trace["spans"].as_array()?;
    let found = match (entry["source"].as_str(), entry["source_sequence"].as_i64()) {
        (Some("mes"), Some(seq)) => spans.iter().find(|s| {
            s["operationName"] == "order.status.apply"
                && tag(s, "order.status.sequence").and_then(|v| v.as_i64()) == Some(seq)
        }),
        _ if entry["from_status"].is_null() => {
            spans.iter().find(|s| s["operationName"] == "order.create")
        }
        _ if to == "CANCELLED" => spans.iter().find(|s| s["operationName"] == "order.cancel"),
        _ => None,
    };
    found.and_then(|s| s["spanID"].as_str()).map(str::to_owned)
}

/// The journey page's body.
pub fn render(
    order: &Value,
    history: &Value,
    events: Option<&Value>,
    limits: &[(String, f64)],
    limits_link: &str,
    trace: Result<&(Value, Returned), &str>,
) -> String {
    let mut out = String::new();
    let customer = order["customer_id"].as_str().unwrap_or_default();
    let _ = write!(
        out,
        r#"<p>Status <strong>{}</strong> since {}{}. Placed {}. Customer {}.</p>"#,
        esc(order["status"].as_str().unwrap_or_default()),
        rfc3339(&order["status_since"]),
        order["failure_reason"]
            .as_str()
            .map(|r| format!(r#", <span class="error">failure: {}</span>"#, esc(r)))
            .unwrap_or_default(),
        rfc3339(&order["created_at"]),
        link(&format!("/orders?q={customer}"), customer),
    );
    let trace_id = trace
        .ok()
        .and_then(|(t, _)| t["traceID"].as_str())
        .unwrap_or_default();
    // Status timeline.
    out.push_str(
        r#"<section aria-labelledby="timeline-h"><h2 id="timeline-h">Status timeline</h2>"#,
    );
    let entries = history["entries"].as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        out.push_str(r#"<p class="empty">No status history.</p>"#);
    } else {
        let _ = write!(
            out,
            r#"<table><thead><tr><th>Status</th><th class="wide">Changed</th><th class="num">Time in it</th><th class="num wide">Limit ({})</th><th>Source</th><th>Span</th></tr></thead><tbody>"#,
            link(limits_link, "query")
        );
        let now = chrono::Utc::now().timestamp_micros();
        for (i, e) in entries.iter().enumerate() {
            let to = e["to_status"].as_str().unwrap_or_default();
            let at = micros(&e["changed_at"]).unwrap_or(now);
            let until = entries
                .get(i + 1)
                .and_then(|n| micros(&n["changed_at"]))
                .unwrap_or(now);
            let terminal = matches!(to, "SHIPPED" | "FAILED" | "CANCELLED");
            let stayed = (until - at) as f64 / 1e6;
            let limit = limits.iter().find(|(s, _)| s == to).map(|(_, l)| *l);
            let over = !terminal && limit.is_some_and(|l| stayed > l);
            let source = match e["source_sequence"].as_i64() {
                Some(seq) => format!("{} #{seq}", esc(e["source"].as_str().unwrap_or("?"))),
                None => esc(e["source"].as_str().unwrap_or("?")),
            };
            let span = span_of_change(trace.map(|(t, _)| t).unwrap_or(&Value::Null), e)
                .map(|s| link(&format!("#span-{s}"), "span"))
                .unwrap_or_else(|| r#"<span class="muted">–</span>"#.to_owned());
            let _ = write!(
                out,
                r#"<tr{}><td>{}{}</td><td class="wide">{}</td><td class="num">{}</td><td class="num wide">{}</td><td>{source}</td><td>{span}</td></tr>"#,
                if over { r#" class="over""# } else { "" },
                esc(to),
                e["detail"]
                    .as_str()
                    .map(|d| format!(r#"<br><span class="muted">{}</span>"#, esc(d)))
                    .unwrap_or_default(),
                rfc3339(&e["changed_at"]),
                if terminal {
                    "–".to_owned()
                } else {
                    seconds(stayed)
                },
                limit.map(seconds).unwrap_or_else(|| "none".to_owned()),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    // MES events as CRM received them.
    if let Some(events) = events {
        out.push_str(r#"<section aria-labelledby="events-h"><h2 id="events-h">Status events received from MES</h2>"#);
        let list = events["events"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            out.push_str(r#"<p class="empty">None yet.</p>"#);
        } else {
            out.push_str(r#"<table><thead><tr><th class="num">#</th><th>Status</th><th>Outcome</th><th class="wide">Received</th></tr></thead><tbody>"#);
            for ev in &list {
                let outcome = ev["outcome"].as_str().unwrap_or_default();
                let odd = matches!(outcome, "rejected" | "duplicate" | "stale" | "pending");
                let _ = write!(
                    out,
                    r#"<tr{}><td class="num">{}</td><td>{}</td><td>{}{}</td><td class="wide">{}</td></tr>"#,
                    if odd { r#" class="over""# } else { "" },
                    ev["sequence"],
                    esc(ev["status"].as_str().unwrap_or_default()),
                    esc(outcome),
                    ev["reason"]
                        .as_str()
                        .map(|r| format!(r#"<br><span class="muted">{}</span>"#, esc(r)))
                        .unwrap_or_default(),
                    rfc3339(&ev["received_at"]),
                );
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("</section>");
    }
    // The trace.
    out.push_str(r#"<section aria-labelledby="trace-h"><h2 id="trace-h">Trace</h2>"#);
    match trace {
        Ok((t, returned)) => {
            let _ = write!(
                out,
                "<p>{}</p>",
                link(&format!("/traces/{trace_id}"), &format!("Trace {trace_id}"))
            );
            out.push_str(&waterfall::render(t, returned.hidden.spans));
        }
        Err(why) => {
            let _ = write!(out, r#"<p class="empty">{}</p>"#, esc(why));
        }
    }
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_search_box_reads_ids_and_addresses() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(Wanted::parse(None), Wanted::Latest);
        assert_eq!(Wanted::parse(Some("  ")), Wanted::Latest);
        assert_eq!(Wanted::parse(Some(&format!(" {id}"))), Wanted::Id(id));
        assert_eq!(
            Wanted::parse(Some("ada@example.org")),
            Wanted::Email("ada@example.org".into())
        );
        assert_eq!(Wanted::parse(Some("<script>")), Wanted::Unreadable);
    }

    #[test]
    fn a_status_change_links_to_the_span_that_made_it() {
        let trace = json!({"spans": [
            {"spanID": "c1", "operationName": "order.create", "tags": []},
            {"spanID": "a2", "operationName": "order.status.apply",
             "tags": [{"key": "order.status.sequence", "type": "int64", "value": 2}]},
            {"spanID": "a1", "operationName": "order.status.apply",
             "tags": [{"key": "order.status.sequence", "type": "int64", "value": 1}]},
        ]});
        let created = json!({"from_status": null, "to_status": "NEW", "source": "crm"});
        let second = json!({"from_status": "ACCEPTED", "to_status": "PRINTING", "source": "mes", "source_sequence": 2});
        let third = json!({"from_status": "PRINTING", "to_status": "POST_PROCESSING", "source": "mes", "source_sequence": 3});
        assert_eq!(span_of_change(&trace, &created).as_deref(), Some("c1"));
        assert_eq!(span_of_change(&trace, &second).as_deref(), Some("a2"));
        assert_eq!(span_of_change(&trace, &third), None);
    }

    #[test]
    fn the_timeline_measures_each_stay_against_its_limit() {
        let order = json!({"order_id": "o1", "customer_id": "c1", "status": "ACCEPTED",
            "status_since": "2026-12-01T10:00:10Z", "created_at": "2026-12-01T10:00:00Z"});
        let history = json!({"entries": [
            {"from_status": null, "to_status": "NEW", "source": "crm", "changed_at": "2026-12-01T10:00:00Z"},
            {"from_status": "NEW", "to_status": "ACCEPTED", "source": "mes", "source_sequence": 1,
             "changed_at": "2026-12-01T10:00:10Z"}
        ]});
        let events = json!({"events": [
            {"sequence": 1, "status": "ACCEPTED", "outcome": "applied", "received_at": "2026-12-01T10:00:10Z"},
            {"sequence": 1, "status": "ACCEPTED", "outcome": "duplicate", "received_at": "2026-12-01T10:00:11Z"}
        ]});
        let limits = vec![("NEW".to_owned(), 5.0), ("ACCEPTED".to_owned(), 1e9)];
        let html = render(
            &order,
            &history,
            Some(&events),
            &limits,
            "http://p/q",
            Err("No trace"),
        );
        // NEW lasted 10 s against a 5 s limit: marked; ACCEPTED is still within its limit.
        assert!(html.contains(r#"<tr class="over"><td>NEW</td>"#), "{html}");
        assert!(html.contains("10.0 s"), "{html}");
        assert!(html.contains("<td>mes #1</td>"), "{html}");
        assert!(html.contains("duplicate"), "{html}");
        assert!(html.contains(r#"href="/orders?q=c1""#));
        assert!(html.contains("No trace"));
    }
}
