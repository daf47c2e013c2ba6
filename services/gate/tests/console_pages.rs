//! The console's overview, failure points and order pages over HTTP, against a real Prometheus
//! and Alertmanager (the repository's rules loaded): who may open which page, an alert raised
//! in Alertmanager shown with its link, the eight failure points with their states, and a
//! source that does not answer shown as such on a page that still renders. (Orders read from a
//! real CRM, and the same in a browser, are the end-to-end tests' part.)

mod common;

use common::gate;
use printflow_test_support::{eventually, identity, Monitoring};
use serde_json::json;
use std::time::Duration;

async fn page(gate: &str, user: &str, path: &str) -> (u16, String) {
    identity::page_as(user, &format!("{gate}{path}")).await
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn each_role_opens_its_pages_and_no_other() {
    let mon = Monitoring::start(&[]).await;
    let gate = gate(&[
        ("GATE_PROMETHEUS_URL", mon.prometheus.clone()),
        ("GATE_ALERTMANAGER_URL", mon.alertmanager.clone()),
        ("GATE_CRM_URL", closed_port_url()),
    ])
    .await;
    let base = gate.base_url.as_str();
    // (user, pages that open, pages that are refused, where `/` leads)
    let cases = [
        (
            "riley",
            &["/overview", "/failure-points", "/traces"][..],
            &["/orders"][..],
            "/overview",
        ),
        (
            "ada",
            &["/overview", "/failure-points", "/traces", "/orders"][..],
            &[][..],
            "/overview",
        ),
        (
            "sam",
            &["/overview", "/traces", "/orders"][..],
            &["/failure-points"][..],
            "/overview",
        ),
        (
            "pat",
            &["/overview", "/traces"][..],
            &["/failure-points", "/orders"][..],
            "/overview",
        ),
    ];
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (user, open, refused, home) in cases {
        for path in open {
            let (status, html) = page(base, user, path).await;
            assert_eq!(status, 200, "{user} {path}: {html}");
            assert!(
                html.contains(&format!(r#"<a href="{path}">"#)),
                "{user}'s menu offers {path}"
            );
        }
        for path in refused {
            let (status, html) = page(base, user, path).await;
            assert_eq!(status, 403, "{user} {path}");
            assert!(html.contains("Your roles do not open this page"), "{html}");
            assert!(
                !html.contains(&format!(r#"<a href="{path}">"#)),
                "{user}'s menu hides {path}"
            );
        }
        let token = identity::user_token(user).await;
        let resp = no_redirect
            .get(format!("{base}/"))
            .bearer_auth(token)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["location"], home, "{user}");
    }
    for path in ["/", "/overview", "/failure-points", "/orders"] {
        let (status, html) = page(base, "alice", path).await;
        assert_eq!(status, 403, "a customer gets no console page: {path}");
        assert!(!html.contains("Orders by status"));
    }
    // Nobody signed in: a browser goes to the login, a script gets a JSON 401.
    for path in ["/overview", "/failure-points", "/orders", "/orders/x"] {
        let page = no_redirect
            .get(format!("{base}{path}"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 303, "{path}");
        let to_login = page.headers()["location"].to_str().unwrap();
        assert!(
            to_login.starts_with("/auth/login?return_to="),
            "{path}: {to_login}"
        );
        let script = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(script.status(), 401, "{path}");
        let body: serde_json::Value = script.json().await.unwrap();
        assert!(body["code"].is_string(), "{path}: {body}");
    }
    // Support's orders page says CRM did not answer, and still renders.
    let (status, html) = page(base, "sam", "/orders").await;
    assert_eq!(status, 200);
    assert!(html.contains("CRM did not answer"), "{html}");
}

#[tokio::test]
async fn the_overview_shows_alertmanagers_alerts_and_says_what_is_missing() {
    let mon = Monitoring::start(&[]).await;
    let gate = gate(&[
        ("GATE_PROMETHEUS_URL", mon.prometheus.clone()),
        ("GATE_ALERTMANAGER_URL", mon.alertmanager.clone()),
    ])
    .await;
    let base = gate.base_url.as_str();

    let (status, html) = page(base, "riley", "/overview").await;
    assert_eq!(status, 200);
    assert!(html.contains("Active alerts"));
    assert!(html.contains("None."), "no alert yet: {html}");
    assert!(
        html.contains("No order figures yet"),
        "nothing scraped CRM, and the page says so: {html}"
    );
    // Every figure links to its query in Prometheus.
    assert!(html.contains(&format!("{}/classic/graph?g0.expr=", mon.prometheus)));

    // An alert raised in Alertmanager appears, named, with its summary and a link to it.
    let name = format!("ConsoleProbe{}", uuid::Uuid::new_v4().simple());
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v2/alerts", mon.alertmanager))
        .json(&json!([{
            "labels": {"alertname": name, "severity": "warning"},
            "annotations": {"summary": "raised <by> the console test"},
        }]))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let html = eventually(
        "the alert on the overview",
        Duration::from_secs(20),
        || async {
            let (_, html) = page(base, "pat", "/overview").await;
            html.contains(&name).then_some(html)
        },
    )
    .await;
    assert!(
        html.contains("raised &lt;by&gt; the console test"),
        "{html}"
    );
    assert!(
        html.contains(&format!("%7Balertname%3D%22{name}%22%7D")),
        "{html}"
    );
}

#[tokio::test]
async fn failure_points_show_eight_indicators_and_unknown_without_prometheus() {
    let mon = Monitoring::start(&[]).await;
    let gate_up = gate(&[
        ("GATE_PROMETHEUS_URL", mon.prometheus.clone()),
        ("GATE_ALERTMANAGER_URL", mon.alertmanager.clone()),
    ])
    .await;
    let (status, html) = page(&gate_up.base_url, "riley", "/failure-points").await;
    assert_eq!(status, 200);
    for n in 1..=8 {
        assert!(
            html.contains(&format!(r#"<tr id="point-{n}">"#)),
            "point {n}"
        );
    }
    assert_eq!(
        html.matches(r#"<span class="state ok">ok</span>"#).count(),
        8,
        "{html}"
    );
    assert!(html.contains("CrmLatencyHigh"));

    let gate_down = gate(&[
        ("GATE_PROMETHEUS_URL", closed_port_url()),
        ("GATE_ALERTMANAGER_URL", closed_port_url()),
    ])
    .await;
    let (status, html) = page(&gate_down.base_url, "ada", "/failure-points").await;
    assert_eq!(
        status, 200,
        "a source down is part of the page, not an error page"
    );
    assert!(html.contains("Prometheus did not answer"), "{html}");
    assert_eq!(
        html.matches(r#"<span class="state unknown">unknown</span>"#)
            .count(),
        8
    );
    let (status, html) = page(&gate_down.base_url, "ada", "/overview").await;
    assert_eq!(status, 200);
    assert!(html.contains("Alertmanager did not answer"), "{html}");
    assert!(html.contains("Prometheus did not answer"));
}
