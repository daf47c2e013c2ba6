//! Orders placed during this run, kept so later status checks have something to look at and
//! so an order's status can be checked for going backwards.

use rand::Rng;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;
use uuid::Uuid;

/// Orders kept; a returning customer looks at a recent order, not one from an hour ago.
pub const KEEP: usize = 32;

/// The most recent orders, newest last.
#[derive(Debug, Default)]
pub struct RecentOrders {
    /// The orders; a plain mutex, never held across an `.await`.
    inner: Mutex<VecDeque<Tracked>>,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    /// Order id.
    id: Uuid,
    /// Highest `status_version` seen and when that answer arrived.
    seen: Option<(i64, Instant)>,
}

/// A status answer older than one already seen (see [`RecentOrders::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regression {
    /// The version seen before.
    pub previous: i64,
    /// The version answered now.
    pub now: i64,
}

impl RecentOrders {
    /// Remembers a new order, forgetting the oldest beyond [`KEEP`].
    pub fn add(&self, id: Uuid) {
        let mut orders = self.lock();
        orders.push_back(Tracked { id, seen: None });
        while orders.len() > KEEP {
            orders.pop_front();
        }
    }

    /// Whether any order is known.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A random known order.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Uuid> {
        let orders = self.lock();
        if orders.is_empty() {
            return None;
        }
        Some(orders[rng.random_range(0..orders.len())].id)
    }

    /// Records that a status request sent at `asked_at` was answered at `answered_at` with
    /// `version`. It is a regression only if that request was sent after a higher version
    /// had already been received: two overlapping requests may legitimately come back in
    /// either order.
    pub fn observe(
        &self,
        id: Uuid,
        version: i64,
        asked_at: Instant,
        answered_at: Instant,
    ) -> Result<(), Regression> {
        let mut orders = self.lock();
        let Some(order) = orders.iter_mut().find(|o| o.id == id) else {
            return Ok(()); // forgotten meanwhile; nothing to compare with
        };
        match order.seen {
            Some((previous, seen_at)) if version < previous => {
                if asked_at > seen_at {
                    Err(Regression {
                        previous,
                        now: version,
                    })
                } else {
                    Ok(())
                }
            }
            _ => {
                order.seen = Some((version, answered_at));
                Ok(())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Tracked>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::time::Duration;

    #[test]
    fn only_the_most_recent_orders_are_kept() {
        let orders = RecentOrders::default();
        assert!(orders.is_empty());
        assert_eq!(orders.pick(&mut StdRng::seed_from_u64(1)), None);
        let ids: Vec<Uuid> = (0..KEEP + 5).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            orders.add(*id);
        }
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..500 {
            let picked = orders.pick(&mut rng).unwrap();
            assert!(ids[5..].contains(&picked), "an old order was picked");
        }
    }

    #[test]
    fn a_later_request_must_not_see_an_older_version() {
        let orders = RecentOrders::default();
        let id = Uuid::new_v4();
        orders.add(id);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);

        assert_eq!(orders.observe(id, 3, at(0), at(10)), Ok(()));
        // Sent before version 3 arrived: an overlapping request, not a regression.
        assert_eq!(orders.observe(id, 2, at(5), at(20)), Ok(()));
        // Sent after version 3 arrived: the status went backwards.
        assert_eq!(
            orders.observe(id, 2, at(30), at(40)),
            Err(Regression {
                previous: 3,
                now: 2
            })
        );
        assert_eq!(orders.observe(id, 3, at(50), at(60)), Ok(()));
        assert_eq!(orders.observe(id, 5, at(70), at(80)), Ok(()));
        assert!(orders.observe(id, 4, at(90), at(100)).is_err());
    }

    #[test]
    fn unknown_orders_are_not_judged() {
        let orders = RecentOrders::default();
        let now = Instant::now();
        assert_eq!(orders.observe(Uuid::new_v4(), 1, now, now), Ok(()));
    }
}
