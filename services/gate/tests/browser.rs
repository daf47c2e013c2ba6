//! The console in a real browser: Debian's Chromium, headless, driven through chromium-driver
//! (WebDriver). People sign in on the real Keycloak login page; sre finds a trace on the traces
//! page and opens its waterfall, production sees the same trace with a counted gap, a customer
//! gets no page, a phone-sized window needs no sideways scrolling, and after signing out a page
//! load goes back to the login. Screenshots go to `docs/screenshots/` (docs/console.md).

mod common;

use common::write_failed_job_trace;
use printflow_test_support::browser::{
    browser, driver, fits_width, open_signed_in, screenshot, text_of, Locator,
};
use printflow_test_support::eventually;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_see_the_console_their_role_allows() {
    let gate = common::browser::login_gate().await;
    let base = gate.base_url.clone();
    // A root operation of its own: the shared Jaeger holds other tests' traces too, and a list of
    // the slowest could leave this one out.
    let root = format!("POST /orders {}", uuid::Uuid::new_v4().simple());
    let id = write_failed_job_trace(&base, &root).await;
    let driver = driver().await;

    // sre: the console's home is the overview; the Shop's traces of that operation list this
    // one, whose waterfall shows both spans, the failed one marked.
    let c = browser(&driver).await;
    open_signed_in(&c, &base, "riley", "/").await;
    assert_eq!(text_of(&c, "h1").await, "Overview");
    assert!(text_of(&c, "header").await.contains("riley (sre)"));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("service", "shop-api")
        .append_pair("operation", &root)
        .append_pair("lookback", "1h")
        .finish();
    c.goto(&format!("{base}/traces?{query}")).await.unwrap();
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
    assert!(fits_width(&c).await);
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
    // Production's menu: the overview and the traces, not the orders nor the failure points.
    assert_eq!(text_of(&c, "nav").await, "Overview Traces");
    screenshot(&c, "waterfall-production").await;
    c.close().await.unwrap();

    // A customer signs in but gets no console.
    let c = browser(&driver).await;
    open_signed_in(&c, &base, "alice", "/traces").await;
    assert_eq!(text_of(&c, "h1").await, "No access");
    c.close().await.unwrap();
}
