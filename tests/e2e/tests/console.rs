//! The console end to end: the real Shop, CRM and MES binaries exporting through a telemetry
//! gate, a real Prometheus and Alertmanager with the repository's rules scraping them, and a
//! second gate serving the console from those sources. A real order is placed and shipped; the
//! overview counts it, the journey shows CRM's timeline beside the order's trace with every
//! status change linked to its span, a poison message makes the dead-letter alert fire on the
//! overview and the failure points page, and support follows the order in a real browser from
//! the overview to its journey and trace, also with the keyboard alone.

mod common;

use common::processes::{export_through_gate, telemetry_gate, telemetry_gate_with, Processes};
use common::{port_of, HAPPY_PATH};
use printflow_test_support::browser::{
    browser, driver, fits_width, open_signed_in, screenshot, text_of, Client, Locator,
};
use printflow_test_support::{eventually, identity, Monitoring, ScrapeTarget};
use serde_json::Value;
use std::time::Duration;

async fn page(gate: &str, user: &str, path: &str) -> (u16, String) {
    identity::page_as(user, &format!("{gate}{path}")).await
}

/// The linked figure in the orders table's row of `status`.
fn orders_in(html: &str, status: &str) -> Option<String> {
    let card = html.split(r#"id="orders""#).nth(1)?;
    let row = card.split(&format!("<td>{status}</td>")).nth(1)?;
    let cell = row.split("</a>").next()?;
    Some(cell.rsplit('>').next()?.to_owned())
}

/// The big linked figure just before `label` (`… 1</a></span> placed`).
fn figure(html: &str, label: &str) -> Option<String> {
    let before = html.split(&format!("</a></span>{label}")).next()?;
    (before.len() < html.len()).then(|| before.rsplit('>').next().unwrap_or_default().to_owned())
}

/// The span anchors a page links to (`#span-…`), and whether each has its target on the page.
fn span_links(html: &str) -> Vec<(String, bool)> {
    html.split(r##"href="#span-"##)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|id| (id.to_owned(), html.contains(&format!(r#"id="span-{id}""#))))
        .collect()
}

async fn place_order(p: &Processes) -> (String, String) {
    let resp = p
        .place_order("Console Journey", "console.journey@example.test")
        .await;
    assert_eq!(resp.status(), 201);
    let trace_id = resp.headers()["x-trace-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    (body["order_id"].as_str().unwrap().to_owned(), trace_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_is_followed_from_the_overview_to_its_journey_and_trace() {
    let ingest = telemetry_gate().await;
    let ingest_url = ingest.base_url.clone();
    // MES with its drill faults, for the drill banner below.
    let p = Processes::start(&[], |name| {
        let mut env = export_through_gate(&ingest_url, name);
        if name == "mes" {
            env.push(("PRINTFLOW_FAULTS", "enabled".to_owned()));
        }
        env
    })
    .await;
    let mon = Monitoring::start(&[
        ScrapeTarget::service("crm", port_of(&p.crm.url)),
        ScrapeTarget::service("mes", port_of(&p.mes.url)),
        ScrapeTarget::rabbitmq_queues(&p.vhost.name),
    ])
    .await;
    let console = telemetry_gate_with(&[
        ("GATE_PROMETHEUS_URL", mon.prometheus.clone()),
        ("GATE_ALERTMANAGER_URL", mon.alertmanager.clone()),
        ("GATE_CRM_URL", p.crm.url.clone()),
        (
            "GATE_OIDC_CLIENT_SECRET",
            identity::client_secret("telemetry-console"),
        ),
    ])
    .await;
    let base = console.base_url.clone();

    // Counters are seen to move only between two scrapes: the order comes after the first two.
    eventually("two scrapes of CRM", Duration::from_secs(30), || async {
        let n = mon.value(r#"count_over_time(up{job="crm"}[1m])"#).await?;
        (n >= 2.0).then_some(())
    })
    .await;
    let (order_id, trace_id) = place_order(&p).await;
    eventually("the order SHIPPED", Duration::from_secs(90), || async {
        let v: Value = p
            .support
            .get(format!("{}/orders/{order_id}/status", p.crm.url))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["status"] == "SHIPPED").then_some(())
    })
    .await;

    // The overview counts it once Prometheus has scraped CRM, and lists it among the latest.
    let overview = eventually(
        "the shipped order on the overview",
        Duration::from_secs(30),
        || async {
            let (status, html) = page(&base, "sam", "/overview").await;
            assert_eq!(status, 200);
            let counted = orders_in(&html, "SHIPPED").as_deref() == Some("1")
                && figure(&html, " placed").as_deref() == Some("1")
                && figure(&html, " shipped").as_deref() == Some("1");
            counted.then_some(html)
        },
    )
    .await;
    assert_eq!(orders_in(&overview, "NEW").as_deref(), Some("0"));

    assert!(overview.contains(&format!(r#"href="/orders/{order_id}""#)));
    assert!(!overview.contains("did not answer"), "{overview}");
    assert!(
        !overview.contains("Drill in progress"),
        "no fault armed yet"
    );

    // The journey: every status in CRM's timeline, each MES change with its sequence and a link
    // to the span that applied it, once the whole trace is stored.
    let journey = eventually(
        "the journey with every span",
        Duration::from_secs(60),
        || async {
            let (status, html) = page(&base, "sam", &format!("/orders/{order_id}")).await;
            assert_eq!(status, 200, "{html}");
            let links = span_links(&html);
            (links.len() == HAPPY_PATH.len()).then_some(html)
        },
    )
    .await;
    for status in HAPPY_PATH {
        assert!(journey.contains(&format!("<td>{status}")), "{status}");
    }
    assert!(journey.contains("<td>mes #1</td>"), "{journey}");
    assert!(journey.contains(&format!("Trace {trace_id}")));
    for (id, present) in span_links(&journey) {
        assert!(present, "span {id} is linked and on the page");
    }
    for service in ["shop-api", "crm-api", "mes-api"] {
        assert!(
            journey.contains(&format!("<td>{service}</td>")),
            "{service}"
        );
    }
    // Found by the customer's e-mail; an order id goes straight to the journey.
    let (_, found) = page(&base, "sam", "/orders?q=Console.Journey%40example.test").await;
    assert!(
        found.contains(&format!(r#"href="/orders/{order_id}""#)),
        "{found}"
    );
    // Production neither finds orders nor reads journeys; CRM would refuse it as well.
    let (status, _) = page(&base, "pat", &format!("/orders/{order_id}")).await;
    assert_eq!(status, 403);

    // A poison message: the dead-letter alert fires, on the overview and on failure point 7.
    p.vhost
        .publish_raw("printflow.events", "order.status_changed", "{not json")
        .await;
    eventually(
        "the dead-letter alert in the console",
        Duration::from_secs(120),
        || async {
            let (_, overview) = page(&base, "ada", "/overview").await;
            let (_, points) = page(&base, "ada", "/failure-points").await;
            let point7 = points
                .split(r#"<tr id="point-7">"#)
                .nth(1)?
                .split("</tr>")
                .next()?
                .to_owned();
            (overview.contains("DeadLetterQueueNotEmpty") && point7.contains("state firing"))
                .then_some(())
        },
    )
    .await;

    // A drill fault armed in MES: the overview and the failure points say so at the top, and
    // stop once it is disarmed.
    let fault = format!(
        "{}/admin/faults/outbox.drop.order.status_changed",
        p.mes.url
    );
    let admin = identity::client_as_user("ada").await;
    let armed = admin
        .put(&fault)
        .json(&serde_json::json!({"seconds": 600}))
        .send()
        .await
        .expect("arm");
    assert_eq!(armed.status(), 200);
    eventually("the drill banner", Duration::from_secs(30), || async {
        let (_, overview) = page(&base, "ada", "/overview").await;
        let (_, points) = page(&base, "riley", "/failure-points").await;
        let banner = "Drill in progress";
        let named = "outbox.drop.order.status_changed (mes)";
        (overview.contains(banner) && points.contains(banner) && points.contains(named))
            .then_some(())
    })
    .await;
    let disarmed = admin.delete(&fault).send().await.expect("disarm");
    assert_eq!(disarmed.status(), 200);
    eventually("the banner gone", Duration::from_secs(30), || async {
        let (_, points) = page(&base, "riley", "/failure-points").await;
        (!points.contains("Drill in progress")).then_some(())
    })
    .await;

    in_a_browser(&base, &order_id, &trace_id).await;
    mon.stop().await;
    p.stop().await;
}

/// Support, in Chromium: the overview, the order's journey by a click, its span, its trace; the
/// same with the keyboard alone; the journey on a phone-sized screen.
async fn in_a_browser(base: &str, order_id: &str, trace_id: &str) {
    let driver = driver().await;
    let c = browser(&driver).await;
    open_signed_in(&c, base, "sam", "/").await;
    assert_eq!(text_of(&c, "h1").await, "Overview");
    // Support's menu has the orders, not the failure points.
    assert_eq!(text_of(&c, "nav").await, "Overview Orders Traces");
    screenshot(&c, "overview-support").await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(&c, "overview-support-390px").await;
    assert!(
        fits_width(&c).await,
        "the overview needs no sideways scrolling at 390 px"
    );
    c.set_window_size(1280, 900).await.unwrap();
    let order_link = format!(r#"a[href="/orders/{order_id}"]"#);
    c.find(Locator::Css(&order_link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, format!("Order {order_id}"));
    screenshot(&c, "journey-support").await;
    // The first status change's span link lands on that span's row of the waterfall.
    let first = c
        .find(Locator::Css(r##"a[href^="#span-"]"##))
        .await
        .unwrap();
    let href = first.attr("href").await.unwrap().unwrap();
    first.click().await.unwrap();
    let row = c
        .find(Locator::Css(&href))
        .await
        .expect("the linked span's row");
    assert!(row.text().await.unwrap().contains("order.create"));
    c.set_window_size(390, 844).await.unwrap();
    screenshot(&c, "journey-support-390px").await;
    assert!(
        fits_width(&c).await,
        "the journey needs no sideways scrolling at 390 px"
    );
    c.set_window_size(1280, 900).await.unwrap();
    c.find(Locator::LinkText(&format!("Trace {trace_id}")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, format!("Trace {trace_id}"));

    // Keyboard only: from the overview, Tab reaches the order's link and Enter opens it.
    c.goto(&format!("{base}/overview")).await.unwrap();
    text_of(&c, "h1").await;
    assert!(
        tab_to(&c, &format!("/orders/{order_id}")).await,
        "the order's link takes focus"
    );
    c.active_element()
        .await
        .unwrap()
        .send_keys(&'\u{E007}'.to_string())
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, format!("Order {order_id}"));
    c.close().await.unwrap();

    // An admin's failure points page, for the screenshots.
    let c = browser(&driver).await;
    open_signed_in(&c, base, "ada", "/failure-points").await;
    assert_eq!(text_of(&c, "h1").await, "Failure points");
    assert_eq!(
        text_of(&c, "nav").await,
        "Overview Orders Traces Failure points"
    );
    let point7 = text_of(&c, "#point-7").await;
    assert!(point7.contains("firing"), "{point7}");
    screenshot(&c, "failure-points-admin").await;
    c.close().await.unwrap();
}

/// Presses Tab until the focused element links to `href` (at most 80 times).
async fn tab_to(c: &Client, href: &str) -> bool {
    for _ in 0..80 {
        let focused = c
            .execute(
                "return document.activeElement && document.activeElement.getAttribute('href')",
                vec![],
            )
            .await
            .unwrap();
        if focused == Value::String(href.to_owned()) {
            return true;
        }
        let target = c.active_element().await.unwrap();
        target.send_keys("\u{E004}").await.unwrap();
    }
    false
}
