//! Message header context: the one place that decides what extra headers a message carries from
//! the code that produced it, and what a consumer restores from them. Trace propagation plugs in
//! here, so publishers, the outbox and consumers need no changes for it.

use std::collections::BTreeMap;

/// Headers to attach to a message produced in the current context.
pub fn capture() -> BTreeMap<String, String> {
    BTreeMap::new()
}
