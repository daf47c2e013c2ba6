//! A real browser for the console's tests: Debian's Chromium, headless, driven through
//! chromium-driver (WebDriver, `scripts/test.sh` installs both with apt), and the sign-in through
//! the real Keycloak login page.

pub use fantoccini::{Client, Locator};

use crate::{eventually, identity};
use fantoccini::ClientBuilder;
use std::time::Duration;
use tokio::process::{Child, Command};

/// chromium-driver on a free port; dropped, it is killed with every browser it started.
#[derive(Debug)]
pub struct Driver {
    /// The driver process, leader of its own process group (the browsers are in it too).
    child: Child,
    /// Its WebDriver URL.
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Killing the driver alone leaves its Chromium processes running (a test that panics
        // never closes its session): the whole group goes.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

/// Starts chromium-driver and waits until it answers.
pub async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
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
    Driver { child, url }
}

/// A fresh headless Chromium, 1280 × 900, with its own profile (no cookies of another test).
pub async fn browser(driver: &Driver) -> Client {
    let caps = serde_json::json!({"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900"]}});
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("a JSON object literal")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Opens `path` at `gate` as `user`, through the login: Keycloak's page is filled in, and its
/// redirect to the registered address (port 16686) is followed to this test's gate instead.
pub async fn open_signed_in(c: &Client, gate: &str, user: &str, path: &str) {
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

/// The text of the first element matching `css`, once there is one.
pub async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Whether the page needs no sideways scrolling at the window's width.
pub async fn fits_width(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1",
        vec![],
    )
    .await
    .unwrap()
        == serde_json::Value::Bool(true)
}

/// Saves the page as `docs/screenshots/{name}.png`, where docs/console.md shows it (the folder
/// is git-ignored: the pictures are made by every test run, not committed).
pub async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{name}.png")),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
}
