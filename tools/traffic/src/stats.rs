//! Running totals for the summary line, and the latency percentiles of searches.

use crate::mix::JourneyKind;
use crate::outcome::FailureKind;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// Search latencies kept per summary window. At the supported rates a window holds far
/// fewer; the cap only keeps memory bounded if someone sets an absurd rate.
const MAX_WINDOW_SAMPLES: usize = 100_000;

/// Counters shared by all journeys. A plain mutex is enough: it is held for a few
/// instructions and never across an `.await`.
#[derive(Debug, Default)]
pub struct Stats {
    /// The counters.
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Finished journeys by kind (successful or not).
    journeys: BTreeMap<JourneyKind, u64>,
    /// Orders Shop accepted.
    orders_placed: u64,
    /// Deliberately invalid requests refused as they should be.
    expected_rejections: u64,
    /// Unexpected outcomes by kind.
    failures: BTreeMap<FailureKind, u64>,
    /// Search latencies since the last window reset.
    search_window: Vec<Duration>,
}

impl Stats {
    /// A journey finished, ending in `failure` if it went wrong.
    pub fn journey_finished(&self, kind: JourneyKind, failure: Option<FailureKind>) {
        let mut c = self.lock();
        *c.journeys.entry(kind).or_default() += 1;
        if let Some(failure) = failure {
            *c.failures.entry(failure).or_default() += 1;
        }
    }

    /// Shop accepted an order.
    pub fn order_placed(&self) {
        self.lock().orders_placed += 1;
    }

    /// Shop refused a request we built to be refused.
    pub fn expected_rejection(&self) {
        self.lock().expected_rejections += 1;
    }

    /// One catalog search took `elapsed` (whatever its outcome: a slow failure is exactly the
    /// latency worth seeing).
    pub fn search_latency(&self, elapsed: Duration) {
        let mut c = self.lock();
        if c.search_window.len() < MAX_WINDOW_SAMPLES {
            c.search_window.push(elapsed);
        }
    }

    /// The totals so far and the search latencies of the current window; with `reset_window`
    /// the next window starts empty.
    pub fn snapshot(&self, reset_window: bool) -> Snapshot {
        let mut c = self.lock();
        let samples = if reset_window {
            std::mem::take(&mut c.search_window)
        } else {
            c.search_window.clone()
        };
        Snapshot {
            journeys: c.journeys.clone(),
            orders_placed: c.orders_placed,
            expected_rejections: c.expected_rejections,
            failures: c.failures.clone(),
            search: LatencySummary::from_samples(samples),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while holding this lock cannot leave the counters inconsistent enough to
        // matter, so keep counting rather than poison the whole run.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The state of the run at one moment; its `Display` is the summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Finished journeys by kind.
    pub journeys: BTreeMap<JourneyKind, u64>,
    /// Orders Shop accepted.
    pub orders_placed: u64,
    /// Deliberately invalid requests refused as they should be.
    pub expected_rejections: u64,
    /// Unexpected outcomes by kind.
    pub failures: BTreeMap<FailureKind, u64>,
    /// Search latencies of the window.
    pub search: LatencySummary,
}

impl Snapshot {
    /// All finished journeys.
    pub fn journeys_total(&self) -> u64 {
        self.journeys.values().sum()
    }

    /// All unexpected outcomes.
    pub fn failures_total(&self) -> u64 {
        self.failures.values().sum()
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "journeys={} (", self.journeys_total())?;
        for (i, kind) in JourneyKind::ALL.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            let n = self.journeys.get(kind).copied().unwrap_or(0);
            write!(f, "{sep}{}={n}", kind.as_str())?;
        }
        write!(
            f,
            ") orders={} expected_4xx={} failures={}",
            self.orders_placed,
            self.expected_rejections,
            self.failures_total()
        )?;
        if !self.failures.is_empty() {
            let kinds: Vec<String> = FailureKind::ALL
                .iter()
                .filter_map(|k| self.failures.get(k).map(|n| format!("{}={n}", k.as_str())))
                .collect();
            write!(f, " [{}]", kinds.join(" "))?;
        }
        write!(f, " search {}", self.search)
    }
}

/// Percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median, `None` without samples.
    pub p50: Option<Duration>,
    /// 95th percentile, `None` without samples.
    pub p95: Option<Duration>,
}

impl LatencySummary {
    /// Summarises `samples` (any order).
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        LatencySummary {
            count: samples.len(),
            p50: percentile(&samples, 50.0),
            p95: percentile(&samples, 95.0),
        }
    }
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.p50, self.p95) {
            (Some(p50), Some(p95)) => write!(
                f,
                "p50={:.1}ms p95={:.1}ms n={}",
                p50.as_secs_f64() * 1000.0,
                p95.as_secs_f64() * 1000.0,
                self.count
            ),
            _ => write!(f, "p50=- p95=- n=0"),
        }
    }
}

/// Nearest-rank percentile of already sorted samples: the smallest sample that at least `p`
/// percent of the samples do not exceed. It is always a latency that really happened, which
/// is what one wants to read off a summary line.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_sign_loss,
        reason = "a negative `p` gives a negative rank, which saturates to 0 and is clamped to 1"
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&samples, 50.0), Some(ms(50)));
        assert_eq!(percentile(&samples, 95.0), Some(ms(95)));
        assert_eq!(percentile(&samples, 100.0), Some(ms(100)));
        assert_eq!(percentile(&samples, 0.0), Some(ms(1)));
        assert_eq!(percentile(&[ms(7)], 95.0), Some(ms(7)));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summaries_sort_their_samples_first() {
        let summary = LatencySummary::from_samples(vec![ms(30), ms(10), ms(20), ms(1000)]);
        assert_eq!(summary.count, 4);
        assert_eq!(summary.p50, Some(ms(20)));
        assert_eq!(summary.p95, Some(ms(1000)));
        assert_eq!(summary.to_string(), "p50=20.0ms p95=1000.0ms n=4");
        assert_eq!(
            LatencySummary::from_samples(vec![]).to_string(),
            "p50=- p95=- n=0"
        );
    }

    #[test]
    fn the_summary_line_counts_everything_and_resets_only_latencies() {
        let stats = Stats::default();
        stats.journey_finished(JourneyKind::Browse, None);
        stats.journey_finished(JourneyKind::Browse, Some(FailureKind::Timeout));
        stats.journey_finished(JourneyKind::Purchase, None);
        stats.order_placed();
        stats.expected_rejection();
        stats.search_latency(ms(12));

        let first = stats.snapshot(true);
        assert_eq!(first.journeys_total(), 3);
        assert_eq!(first.failures_total(), 1);
        assert_eq!(
            first.to_string(),
            "journeys=3 (browse=2 design=0 purchase=1 status=0) orders=1 expected_4xx=1 \
             failures=1 [timeout=1] search p50=12.0ms p95=12.0ms n=1"
        );

        let second = stats.snapshot(true);
        assert_eq!(second.journeys_total(), 3);
        assert_eq!(second.search.count, 0);
    }
}
