//! Which journey comes next, and when.

use rand::Rng;
use std::time::Duration;

/// The customer journeys the generator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JourneyKind {
    /// Look around the catalog: categories, a few searches, maybe a second page.
    Browse,
    /// Find a product, design a part from it, edit and save it, and leave without ordering.
    Design,
    /// Design, save and order.
    Purchase,
    /// Check on an order placed earlier in this run.
    StatusCheck,
}

impl JourneyKind {
    /// Every kind, in the order the summary prints them.
    pub const ALL: [JourneyKind; 4] = [
        JourneyKind::Browse,
        JourneyKind::Design,
        JourneyKind::Purchase,
        JourneyKind::StatusCheck,
    ];

    /// Short name used in logs and the summary line.
    pub fn as_str(self) -> &'static str {
        match self {
            JourneyKind::Browse => "browse",
            JourneyKind::Design => "design",
            JourneyKind::Purchase => "purchase",
            JourneyKind::StatusCheck => "status",
        }
    }
}

/// How the journeys that do not order are shared: most visitors browse, fewer design, and
/// some come back to look at an order.
const BROWSE_WEIGHT: f64 = 0.5;
const DESIGN_WEIGHT: f64 = 0.3;
const STATUS_WEIGHT: f64 = 0.2;

/// The weighted choice of the next journey.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JourneyMix {
    /// Probability that a journey places an order; exactly the configured order share, so
    /// the order rate is `rate x share` whatever the other weights are.
    purchase: f64,
    /// Probability of [`JourneyKind::Browse`].
    browse: f64,
    /// Probability of [`JourneyKind::Design`].
    design: f64,
}

impl JourneyMix {
    /// A mix in which `order_share` (clamped to 0..=1) of journeys place an order.
    pub fn new(order_share: f64) -> Self {
        let purchase = order_share.clamp(0.0, 1.0);
        let rest = 1.0 - purchase;
        let total = BROWSE_WEIGHT + DESIGN_WEIGHT + STATUS_WEIGHT;
        JourneyMix {
            purchase,
            browse: rest * BROWSE_WEIGHT / total,
            design: rest * DESIGN_WEIGHT / total,
        }
    }

    /// Picks a journey. A status check needs an order to look at, so without one it becomes
    /// a browse. Exactly one random number is drawn either way, so a seeded run makes the
    /// same choices whatever the timing of earlier orders.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R, have_orders: bool) -> JourneyKind {
        let roll: f64 = rng.random();
        if roll < self.purchase {
            JourneyKind::Purchase
        } else if roll < self.purchase + self.browse {
            JourneyKind::Browse
        } else if roll < self.purchase + self.browse + self.design {
            JourneyKind::Design
        } else if have_orders {
            JourneyKind::StatusCheck
        } else {
            JourneyKind::Browse
        }
    }
}

/// Time until the next journey starts. Visitors arrive independently of each other, so the
/// gaps are exponential (a Poisson process) with mean `1 / rate`: bursts and lulls like real
/// traffic, at the configured average.
pub fn next_gap<R: Rng + ?Sized>(rng: &mut R, rate_per_second: f64) -> Duration {
    let uniform: f64 = rng.random(); // in [0, 1), so 1 - uniform is never 0
    let seconds = -(1.0 - uniform).ln() / rate_per_second;
    // An extremely unlucky draw must not stall the run; ten mean gaps is plenty of lull.
    Duration::from_secs_f64(seconds.min(10.0 / rate_per_second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn shares(mix: &JourneyMix, have_orders: bool, draws: usize) -> HashMap<JourneyKind, f64> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts: HashMap<JourneyKind, usize> = HashMap::new();
        for _ in 0..draws {
            *counts.entry(mix.pick(&mut rng, have_orders)).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(k, n)| (k, n as f64 / draws as f64))
            .collect()
    }

    #[test]
    fn the_order_share_is_the_fraction_of_purchases() {
        for share in [0.05, 0.1, 0.5] {
            let got = shares(&JourneyMix::new(share), true, 100_000);
            let purchases = got.get(&JourneyKind::Purchase).copied().unwrap_or(0.0);
            assert!((purchases - share).abs() < 0.01, "{share}: {purchases}");
        }
    }

    #[test]
    fn every_journey_occurs_once_orders_exist() {
        let got = shares(&JourneyMix::new(0.1), true, 10_000);
        for kind in JourneyKind::ALL {
            assert!(
                got.get(&kind).copied().unwrap_or(0.0) > 0.05,
                "{kind:?}: {got:?}"
            );
        }
        assert!(got[&JourneyKind::Browse] > got[&JourneyKind::Design]);
    }

    #[test]
    fn status_checks_wait_for_an_order() {
        let got = shares(&JourneyMix::new(0.1), false, 10_000);
        assert!(!got.contains_key(&JourneyKind::StatusCheck), "{got:?}");
    }

    #[test]
    fn zero_share_never_orders_and_full_share_always_does() {
        assert!(!shares(&JourneyMix::new(0.0), true, 10_000).contains_key(&JourneyKind::Purchase));
        let all = shares(&JourneyMix::new(1.0), true, 1_000);
        assert_eq!(all.get(&JourneyKind::Purchase), Some(&1.0));
    }

    #[test]
    fn gaps_average_to_the_inverse_rate() {
        let mut rng = StdRng::seed_from_u64(11);
        for rate in [0.5, 2.0, 20.0] {
            let n = 50_000;
            let total: f64 = (0..n).map(|_| next_gap(&mut rng, rate).as_secs_f64()).sum();
            let mean = total / n as f64;
            let expected = 1.0 / rate;
            assert!((mean - expected).abs() < expected * 0.03, "{rate}: {mean}");
            assert!(next_gap(&mut rng, rate).as_secs_f64() <= 10.0 / rate);
        }
    }
}
