//! The console in a real browser: Debian's Chromium, headless, driven through chromium-driver
//! (WebDriver). People sign in on the real Keycloak login page; sre finds a trace on the traces
//! page and opens its waterfall, production sees the same trace with a counted gap, a customer
//! gets no page, a phone-sized window needs no sideways scrolling, and after signing out a page
//! load goes back to the login. Screenshots go to `target/console-screenshots/`.

mod common;

use common::write_failed_job_trace;
use fantoccini::{Client, ClientBuilder, Locator};
use printflow_test_support::{eventually, identity};
use std::time::Duration;
use tokio::process::{Child, Command};

/// chromium-driver on a free port, killed with the test.
struct Driver {
    _child: Child,
    url: String,
}

async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver (scripts/test.sh installs chromium-driver)");
    let url = format!("http://127.0.0.1:{port}");
    eventually("chromedriver ready", Duration::from_secs(20), || async {
        reqwest::get(format!("{url}/status"))
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
    Driver { _child: child, url }
}

/// A fresh headless Chromium (its own profile: no cookies of another test).
async fn browser(driver: &Driver) -> Client {
    let caps = serde_json::json!({"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900"]}});
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Opens `path` at `gate` as `user`, through the login: Keycloak's page is filled in, and its
/// redirect to the registered address (port 16686) is followed to this test's gate instead.
async fn open_signed_in(c: &Client, gate: &str, user: &str, path: &str) {
    c.goto(&format!("{gate}{path}")).await.unwrap();
    let username = c
        .wait()
        .for_element(Locator::Id("username"))
        .await
        .expect("Keycloak's login page");
    username.send_keys(user).await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(&identity::password(user))
        .await
        .unwrap();
    c.find(Locator::Id("kc-login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let callback = eventually(
        "Keycloak's redirect to the callback",
        Duration::from_secs(20),
        || async {
            let url = c.current_url().await.ok()?;
            (url.path() == "/auth/callback")
                .then(|| format!("{}?{}", url.path(), url.query().unwrap_or_default()))
        },
    )
    .await;
    c.goto(&format!("{gate}{callback}")).await.unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn screenshot(c: &Client, name: &str) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_see_the_console_their_role_allows() {
    let gate = common::browser::login_gate().await;
    let base = gate.base_url.clone();
    let id = write_failed_job_trace(&base, "POST /orders").await;
    let driver = driver().await;

    // sre: the console's home is the traces page; MES's slowest traces list this one, whose
    // waterfall shows both spans, the failed one marked.
    let c = browser(&driver).await;
    open_signed_in(&c, &base, "riley", "/").await;
    assert_eq!(text_of(&c, "h1").await, "Traces");
    assert!(text_of(&c, "header").await.contains("riley (sre)"));
    c.goto(&format!("{base}/traces?service=mes-api&lookback=1h"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css(&format!(r#"a[href="/traces/{id}"]"#)))
        .await
        .expect("the trace in the list")
        .click()
        .await
        .unwrap();
    let table = text_of(&c, "main table").await;
    assert!(
        table.contains("POST /orders") && table.contains("process mes.order-created (error)"),
        "{table}"
    );
    screenshot(&c, "waterfall-sre").await;
    // On a phone-sized screen nothing needs sideways scrolling.
    c.set_window_size(390, 844).await.unwrap();
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, serde_json::Value::Bool(true));
    screenshot(&c, "waterfall-sre-390px").await;
    // Signed out, a page load goes back to the login.
    c.set_window_size(1280, 900).await.unwrap();
    c.find(Locator::Css("header button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The sign-out is a form post and then Keycloak's end-session page: only once the browser
    // has left the gate is the session gone (a page load any earlier would still carry it).
    eventually(
        "the browser through Keycloak's sign-out",
        Duration::from_secs(20),
        || async {
            let url = c.current_url().await.ok()?;
            (url.path().ends_with("/logout") || url.path() == "/auth/logged-out").then_some(())
        },
    )
    .await;
    c.goto(&format!("{base}/traces")).await.unwrap();
    c.wait()
        .for_element(Locator::Id("username"))
        .await
        .expect("back at the login");
    c.close().await.unwrap();

    // production: the same trace, the Shop's span a counted gap.
    let c = browser(&driver).await;
    open_signed_in(&c, &base, "pat", &format!("/traces/{id}")).await;
    let main = text_of(&c, "main").await;
    assert!(main.contains("1 span hidden"), "{main}");
    assert!(!main.contains("POST /orders"));
    assert!(main.contains("process mes.order-created"));
    screenshot(&c, "waterfall-production").await;
    c.close().await.unwrap();

    // A customer signs in but gets no console.
    let c = browser(&driver).await;
    open_signed_in(&c, &base, "alice", "/traces").await;
    assert_eq!(text_of(&c, "h1").await, "No access");
    c.close().await.unwrap();
}
