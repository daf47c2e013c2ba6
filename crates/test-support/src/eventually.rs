//! Polling with a deadline: how tests wait for asynchronous effects (never a fixed sleep).

use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `probe` until it returns `Some`, and returns that value. Panics naming `what` if
/// `timeout` passes first.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Asserts that an async condition becomes true within a deadline (default 20 s).
#[macro_export]
macro_rules! assert_eventually {
    ($what:expr, $cond:expr) => {
        $crate::assert_eventually!($what, ::std::time::Duration::from_secs(20), $cond)
    };
    ($what:expr, $timeout:expr, $cond:expr) => {
        $crate::eventually($what, $timeout, || async {
            if $cond {
                Some(())
            } else {
                None
            }
        })
        .await
    };
}
