//! The console's pages over HTTP, on a trace written through the gate by two services with
//! their own tokens: the traces page lists it, the waterfall shows what the viewer may see and
//! counts the rest as a gap, names are escaped, and people without trace access get no page.
//! (What a browser renders of them is for the browser tests.)

mod common;

use common::{gate, hex, trace_id, write_failed_job_trace};
use printflow_test_support::identity;

async fn page(gate: &str, user: &str, path: &str) -> (u16, String) {
    identity::page_as(user, &format!("{gate}{path}")).await
}

#[tokio::test]
async fn traces_and_waterfall_pages_follow_the_viewers_role() {
    let gate = gate(&[]).await;
    let base = gate.base_url.as_str();
    // A root operation of its own: the shared Jaeger holds other tests' traces too.
    let root = format!("POST /orders <console> {}", uuid::Uuid::new_v4().simple());
    let id = write_failed_job_trace(base, &root).await;

    // sre: the trace in the list of the Shop's traces of that operation, and every span in its
    // waterfall.
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("service", "shop-api")
        .append_pair("operation", &root)
        .append_pair("lookback", "1h")
        .finish();
    let (status, list) = page(base, "riley", &format!("/traces?{query}")).await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!(r#"href="/traces/{id}""#)), "{list}");
    let (status, waterfall) = page(base, "riley", &format!("/traces/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        waterfall.contains("POST /orders &lt;console&gt;"),
        "names are escaped"
    );
    assert!(!waterfall.contains("<console>"));
    assert!(waterfall.contains("process mes.order-created (error)"));
    assert!(!waterfall.contains("spans hidden"));
    assert!(waterfall.contains("riley (sre)"));

    // production: MES only, the Shop's span a counted gap.
    let (status, waterfall) = page(base, "pat", &format!("/traces/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        waterfall.contains("<strong>1 span hidden</strong>"),
        "{waterfall}"
    );
    assert!(!waterfall.contains("POST /orders"));
    assert!(waterfall.contains("process mes.order-created"));
    let (_, list) = page(base, "pat", "/traces").await;
    assert!(
        !list.contains(">shop-api<"),
        "production is not offered the Shop"
    );

    // The trace id box, an unknown id, and someone without trace access.
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/traces?id={id}"))
        .bearer_auth(identity::user_token("sam").await)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], format!("/traces/{id}").as_str());
    let (status, _) = page(base, "sam", &format!("/traces/{}", hex(&trace_id()))).await;
    assert_eq!(status, 404);
    let (status, refused) = page(base, "alice", "/traces").await;
    assert_eq!(status, 403);
    assert!(refused.contains("no access to trace data"));
}
