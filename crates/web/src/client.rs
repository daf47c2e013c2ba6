//! Outgoing HTTP clients. Every call a service makes has a deadline: an unanswered request is
//! how an order "hangs" (seed points 1 and 8), so no client is built without one.

use std::time::Duration;

/// A client whose requests fail after `timeout` (connecting gets at most a second of it).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("static reqwest configuration is valid")
}
