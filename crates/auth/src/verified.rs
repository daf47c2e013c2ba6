//! Tokens verified lately, so a caller that sends the same access token again is not checked
//! with RSA every time. A signature check was the largest single cost of a status read in the
//! Shop and in CRM under the order benchmark (docs/benchmarks.md), and every client sends one
//! token for minutes.
//!
//! Only successes are kept, keyed by the SHA-256 of the token (the token itself is not held),
//! until the token's `exp` or [`MAX_AGE`], whichever comes first: a token is refused after it
//! expires exactly as before, and a key the realm withdraws stops covering cached tokens within
//! [`MAX_AGE`]. A verifier has its own cache, so one audience's success never answers for
//! another's.

use crate::principal::Principal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long a verified token is trusted without a new signature check.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Entries at most; expired ones are dropped first, then all (a burst of distinct tokens only
/// costs signature checks again).
const CAPACITY: usize = 4096;

/// The cache of one [`crate::Verifier`].
#[derive(Debug, Default)]
pub(crate) struct Verified(Mutex<HashMap<[u8; 32], (Principal, SystemTime)>>);

impl Verified {
    /// The principal of `token` if it was verified and is still within its time.
    pub(crate) fn get(&self, token: &str, now: SystemTime) -> Option<Principal> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&digest(token))
            .filter(|(_, until)| now < *until)
            .map(|(principal, _)| principal.clone())
    }

    /// Remembers that `token` stands for `principal` until `exp` (Unix seconds) or
    /// [`MAX_AGE`] from `now`.
    pub(crate) fn insert(&self, token: &str, principal: &Principal, exp: u64, now: SystemTime) {
        let until = (SystemTime::UNIX_EPOCH + Duration::from_secs(exp)).min(now + MAX_AGE);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CAPACITY {
            map.retain(|_, (_, until)| now < *until);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(digest(token), (principal.clone(), until));
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn someone() -> Principal {
        Principal {
            subject: "s".to_owned(),
            client: None,
            username: None,
            roles: HashSet::new(),
        }
    }

    fn unix(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_token_is_trusted_until_its_exp_or_the_max_age() {
        let cache = Verified::default();
        cache.insert("a", &someone(), 1_000, unix(990));
        assert_eq!(cache.get("a", unix(999)), Some(someone()));
        assert_eq!(cache.get("a", unix(1_000)), None, "expired at exp");
        assert_eq!(cache.get("b", unix(990)), None, "another token");

        cache.insert("c", &someone(), 10_000, unix(1_000));
        assert!(cache.get("c", unix(1_059)).is_some());
        assert_eq!(
            cache.get("c", unix(1_060)),
            None,
            "checked again after MAX_AGE"
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_everything() {
        let cache = Verified::default();
        for i in 0..CAPACITY {
            cache.insert(&format!("old-{i}"), &someone(), 100, unix(50));
        }
        cache.insert("new", &someone(), 10_000, unix(200));
        let map = cache.0.lock().unwrap();
        assert_eq!(map.len(), 1, "every expired entry was dropped");
    }
}
