//! One RabbitMQ vhost per test, created through the management HTTP API, plus helpers to look
//! into queues the way an operator would.

use serde_json::{json, Value};

pub(crate) fn api_base() -> String {
    std::env::var("PRINTFLOW_TEST_RABBITMQ_API")
        .unwrap_or_else(|_| "http://127.0.0.1:15672".to_owned())
}

/// The broker's administrator (`PRINTFLOW_TEST_RABBITMQ_USER` / `_PASSWORD`, defaults those of
/// scripts/lib.sh): tests create vhosts and look into queues as it.
pub fn admin() -> (String, String) {
    (
        std::env::var("PRINTFLOW_TEST_RABBITMQ_USER")
            .unwrap_or_else(|_| "printflow-admin".to_owned()),
        std::env::var("PRINTFLOW_TEST_RABBITMQ_PASSWORD")
            .unwrap_or_else(|_| "rabbit-admin-dev-only".to_owned()),
    )
}

/// A request to the management API at `path` (starting with `/api/`), as the administrator.
pub fn management(method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    let (user, password) = admin();
    reqwest::Client::new()
        .request(method, format!("{}{path}", api_base()))
        .basic_auth(user, Some(password))
}

fn amqp_base() -> String {
    std::env::var("PRINTFLOW_TEST_AMQP_URL_BASE").unwrap_or_else(|_| {
        let (user, password) = admin();
        format!("amqp://{user}:{password}@127.0.0.1:5672")
    })
}

/// A private vhost.
#[derive(Debug, Clone)]
pub struct TestVhost {
    /// Vhost name.
    pub name: String,
    /// AMQP URL pointing at it.
    pub amqp_url: String,
    /// Management API client.
    http: reqwest::Client,
}

impl TestVhost {
    /// Creates a vhost named `test-<pid>-<uuid>` and grants the administrator full rights on it.
    pub async fn new() -> TestVhost {
        // The creating process in the name: crate::leftovers keeps vhosts whose test runs.
        let name = crate::names::owned_name("test", '-');
        let http = reqwest::Client::new();
        let base = api_base();
        let (user, password) = admin();
        http.put(format!("{base}/api/vhosts/{name}"))
            .basic_auth(&user, Some(&password))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("create vhost (is RabbitMQ's management plugin up?)");
        http.put(format!("{base}/api/permissions/{name}/{user}"))
            .basic_auth(&user, Some(&password))
            .json(&json!({"configure": ".*", "write": ".*", "read": ".*"}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("grant vhost permissions");
        TestVhost {
            amqp_url: format!("{}/{name}", amqp_base()),
            name,
            http,
        }
    }

    /// Messages in `queue` (ready + unacknowledged), or `None` if the queue does not exist yet.
    /// The management API refreshes its statistics every few seconds, so poll it.
    pub async fn queue_depth(&self, queue: &str) -> Option<i64> {
        let resp = self
            .http
            .get(format!("{}/api/queues/{}/{}", api_base(), self.name, queue))
            .basic_auth(admin().0, Some(admin().1))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let v: Value = resp.json().await.ok()?;
        v.get("messages").and_then(Value::as_i64)
    }

    /// Publishes a raw body through the management API (how a test injects a poison message).
    pub async fn publish_raw(&self, exchange: &str, routing_key: &str, body: &str) {
        self.publish_raw_with_headers(exchange, routing_key, body, json!({}))
            .await
    }

    /// Like [`TestVhost::publish_raw`], with AMQP headers (e.g. a `traceparent`).
    pub async fn publish_raw_with_headers(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &str,
        headers: Value,
    ) {
        let resp: Value = self
            .http
            .post(format!(
                "{}/api/exchanges/{}/{}/publish",
                api_base(),
                self.name,
                exchange
            ))
            .basic_auth(admin().0, Some(admin().1))
            .json(&json!({
                "properties": {
                    "delivery_mode": 2,
                    "message_id": uuid::Uuid::new_v4().to_string(),
                    "headers": headers,
                },
                "routing_key": routing_key,
                "payload": body,
                "payload_encoding": "string",
            }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("publish through management API")
            .json()
            .await
            .expect("publish answer");
        assert_eq!(
            resp["routed"], true,
            "raw message to {routing_key} was not routed"
        );
    }

    /// Peeks at up to `count` messages of `queue` without consuming them (they are requeued).
    /// Each item has `payload` and `properties.headers`.
    pub async fn peek(&self, queue: &str, count: u32) -> Vec<Value> {
        let resp = self
            .http
            .post(format!(
                "{}/api/queues/{}/{}/get",
                api_base(),
                self.name,
                queue
            ))
            .basic_auth(admin().0, Some(admin().1))
            .json(&json!({"count": count, "ackmode": "ack_requeue_true", "encoding": "auto"}))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Deletes the vhost (and everything in it).
    pub async fn delete(&self) {
        let _ = self
            .http
            .delete(format!("{}/api/vhosts/{}", api_base(), self.name))
            .basic_auth(admin().0, Some(admin().1))
            .send()
            .await;
    }
}
