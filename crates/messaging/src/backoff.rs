//! The one back-off policy of the workspace: how long to wait after the n-th consecutive failure.
//! The consume loop (reconnects and transient requeues), the outbox relay and MES's model fetch
//! each configure one [`Backoff`] (first delay, growth factor, cap, optional jitter) instead of
//! writing their own formula.
//!
//! The schedule comes from `backon`'s exponential builder. The callers here count failures
//! themselves (MES even persists the count in its database, so a restart keeps its place in the
//! schedule), so a policy answers "the delay after `n` failures" rather than driving a retry
//! loop.

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// Enough steps for any sensible factor to reach its cap; bounds the work for huge failure
/// counts (MES stores an `i32`).
const MAX_STEPS: u32 = 64;

/// An exponential back-off: `first`, then `first × factor`, `first × factor²`, ... up to `cap`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The configured schedule (never exhausted: `without_max_times`).
    builder: ExponentialBuilder,
}

impl Backoff {
    /// A doubling schedule that starts at `first` and never exceeds `cap`.
    pub const fn exponential(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            builder: ExponentialBuilder::new()
                .with_min_delay(first)
                .with_max_delay(cap)
                .with_factor(2.0)
                .without_max_times(),
        }
    }

    /// The same schedule growing by `factor` per failure instead of doubling.
    pub const fn with_factor(self, factor: f32) -> Backoff {
        Backoff {
            builder: self.builder.with_factor(factor),
        }
    }

    /// Adds a random 0-100 % to every delay, so many clients failing together do not retry in
    /// lockstep. A jittered delay may therefore reach twice the cap.
    pub const fn with_jitter(self) -> Backoff {
        Backoff {
            builder: self.builder.with_jitter(),
        }
    }

    /// The wait after `failures` consecutive failures: the first delay for 0 or 1, growing from
    /// there up to the cap. Rounded to whole milliseconds, because `backon` multiplies in `f32`
    /// and the schedule should read as configured (200 ms, not 200.000003 ms).
    pub fn delay(&self, failures: u32) -> Duration {
        let step = failures.saturating_sub(1).min(MAX_STEPS) as usize;
        let exact = self
            .builder
            .build()
            .nth(step)
            .expect("the schedule has no maximum number of attempts");
        let millis = (exact.as_nanos() + 500_000) / 1_000_000;
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_from_the_first_delay_up_to_the_cap() {
        let policy = Backoff::exponential(ms(200), ms(5_000));
        let delays: Vec<Duration> = (1..=7).map(|n| policy.delay(n)).collect();
        assert_eq!(
            delays,
            [200, 400, 800, 1_600, 3_200, 5_000, 5_000].map(ms).to_vec()
        );
    }

    #[test]
    fn zero_failures_wait_the_first_delay_and_huge_counts_the_cap() {
        let policy = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(policy.delay(0), Duration::from_secs(1));
        assert_eq!(policy.delay(5), Duration::from_secs(16));
        assert_eq!(policy.delay(6), Duration::from_secs(30));
        assert_eq!(policy.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn another_factor_grows_accordingly() {
        let policy = Backoff::exponential(ms(100), ms(1_000)).with_factor(3.0);
        assert_eq!(
            (1..=4).map(|n| policy.delay(n)).collect::<Vec<_>>(),
            [100, 300, 900, 1_000].map(ms).to_vec()
        );
    }

    #[test]
    fn jitter_stays_between_the_delay_and_twice_it() {
        let plain = Backoff::exponential(ms(100), ms(2_000));
        let jittered = plain.with_jitter();
        for n in 1..=8 {
            for _ in 0..20 {
                let d = jittered.delay(n);
                assert!(d >= plain.delay(n) && d <= plain.delay(n) * 2, "{n}: {d:?}");
            }
        }
    }
}
