//! The closed-loop order benchmark behind `scripts/bench-orders.sh`: `connections` customers
//! each place orders back to back through the Shop(s), while `status_connections` more read
//! the status of recent orders, for a warm-up and then a measured window. It prints one JSON
//! object with the figures; the script adds what only the databases, the broker and the
//! telemetry pipeline know (orders shipped, spans lost).

use crate::generate::customer;
use crate::shop::types::OrderRequest;
use crate::shop::ShopClient;
use crate::shop::{endpoint, search_query::SearchQuery};
use printflow_contracts::messages::Shipping;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// The Shops, taken in turn by the customers.
    pub shops: Vec<ShopClient>,
    /// Customers placing orders back to back.
    pub connections: usize,
    /// Orders per second the customers aim at together, each waiting its share of the interval
    /// between orders (still closed loop: a slow answer delays the next order); `None` places
    /// back to back, which overloads a pipeline slower than placement.
    pub rate: Option<f64>,
    /// Customers reading statuses back to back.
    pub status_connections: usize,
    /// Status reads per second the readers aim at together, paced as the orders are; `None`
    /// reads back to back, which makes the probe itself a load that grows as reads get faster.
    pub status_rate: Option<f64>,
    /// Run before measuring (pools, caches, JIT of the planner).
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Start of the measured window (Unix seconds).
    pub window_start: f64,
    /// End of the measured window (Unix seconds).
    pub window_end: f64,
    /// Orders confirmed (201) in the window.
    pub placed: usize,
    /// `placed` per second.
    pub placed_per_second: f64,
    /// Placement latency, milliseconds.
    pub placement_p50_ms: f64,
    /// Placement latency, milliseconds.
    pub placement_p99_ms: f64,
    /// Placements that failed (transport error, 5xx or an unexpected 4xx) in the window.
    pub placement_errors: usize,
    /// Status reads answered in the window.
    pub status_reads: usize,
    /// Status read latency, milliseconds.
    pub status_p50_ms: f64,
    /// Status read latency, milliseconds.
    pub status_p99_ms: f64,
    /// Status reads that failed.
    pub status_errors: usize,
    /// A sample of orders placed in the window (for the trace check).
    pub sample: Vec<Uuid>,
}

/// What the customer tasks share.
#[derive(Debug)]
struct Shared {
    /// The Shops, taken in turn.
    shops: Vec<ShopClient>,
    /// The window's figures.
    samples: Mutex<Samples>,
    /// The last 1,000 orders placed, whose statuses are read.
    recent: Mutex<Vec<Uuid>>,
    /// Set during the measured window.
    measuring: AtomicBool,
    /// Set at the end.
    stop: AtomicBool,
}

/// Latencies of the window, and the orders placed in it.
#[derive(Debug, Default)]
struct Samples {
    placement_ms: Vec<f64>,
    placement_errors: usize,
    status_ms: Vec<f64>,
    status_errors: usize,
    orders: Vec<Uuid>,
}

/// The first delay and the interval of customer `i` of `connections` placing `rate` orders/s
/// together: each takes `connections / rate` seconds per order, their starts spread over one
/// interval so the orders arrive evenly rather than in bursts. `None` without a (positive) rate.
fn pacing(rate: Option<f64>, connections: usize, i: usize) -> Option<(Duration, Duration)> {
    let rate = rate.filter(|r| r.is_finite() && *r > 0.0)?;
    let every = Duration::from_secs_f64(connections.max(1) as f64 / rate);
    let first = every.mul_f64(i as f64 / connections.max(1) as f64);
    Some((first, every))
}

/// A ticker for [`pacing`]'s delays: a late tick is not made up with a burst.
fn ticker(first: Duration, every: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}

/// Runs the benchmark.
pub async fn run(settings: BenchSettings) -> anyhow::Result<BenchReport> {
    let mut designs = Vec::new();
    for i in 0..settings.connections {
        let shop = &settings.shops[i % settings.shops.len()];
        designs.push(saved_design(shop).await?);
    }
    let shared = Arc::new(Shared {
        shops: settings.shops.clone(),
        samples: Mutex::default(),
        recent: Mutex::default(),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    for (i, (design_id, version)) in designs.into_iter().enumerate() {
        let shared = shared.clone();
        let pace = pacing(settings.rate, settings.connections, i);
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            let mut ticker = pace.map(|(first, every)| ticker(first, every));
            while !shared.stop.load(Ordering::Relaxed) {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                let shop = &shared.shops[(i + n) % shared.shops.len()];
                n += 1;
                let order = OrderRequest {
                    design_id,
                    design_version: version,
                    quantity: 1,
                    shipping: Shipping::Standard,
                    customer: customer::customer(u32::try_from(i).unwrap_or(0) + 1),
                };
                let started = Instant::now();
                let result = shop.place_order(&order).await;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let placed = result
                    .ok()
                    .and_then(|r| r.expect_accepted(endpoint::PLACE_ORDER).ok());
                if let Some(placed) = &placed {
                    let mut recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
                    if recent.len() >= 1000 {
                        recent.remove(0);
                    }
                    recent.push(placed.order_id);
                }
                if shared.measuring.load(Ordering::Relaxed) {
                    let mut s = shared.samples.lock().unwrap_or_else(|p| p.into_inner());
                    match placed {
                        Some(p) => {
                            s.placement_ms.push(ms);
                            s.orders.push(p.order_id);
                        }
                        None => s.placement_errors += 1,
                    }
                }
            }
        }));
    }
    for i in 0..settings.status_connections {
        let shared = shared.clone();
        let pace = pacing(settings.status_rate, settings.status_connections, i);
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            let mut ticker = pace.map(|(first, every)| ticker(first, every));
            while !shared.stop.load(Ordering::Relaxed) {
                if let Some(ticker) = ticker.as_mut() {
                    ticker.tick().await;
                }
                let id = {
                    let recent = shared.recent.lock().unwrap_or_else(|p| p.into_inner());
                    recent
                        .get((i * 7919 + n * 31) % recent.len().max(1))
                        .copied()
                };
                n += 1;
                let Some(id) = id else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let shop = &shared.shops[(i + n) % shared.shops.len()];
                let started = Instant::now();
                let ok = matches!(
                    shop.order_status(id)
                        .await
                        .map(|r| r.expect_accepted(endpoint::ORDER_STATUS)),
                    Ok(Ok(_))
                );
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                if shared.measuring.load(Ordering::Relaxed) {
                    let mut s = shared.samples.lock().unwrap_or_else(|p| p.into_inner());
                    if ok {
                        s.status_ms.push(ms);
                    } else {
                        s.status_errors += 1;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(settings.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let window_start = unix_now();
    let started = Instant::now();
    tokio::time::sleep(settings.duration).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let window_end = unix_now();
    shared.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await?;
    }
    let mut s = std::mem::take(&mut *shared.samples.lock().unwrap_or_else(|p| p.into_inner()));
    s.placement_ms.sort_by(f64::total_cmp);
    s.status_ms.sort_by(f64::total_cmp);
    // Every n-th order of the window: spread over it, not bunched at the start.
    let step = (s.orders.len() / 20).max(1);
    let sample = s.orders.iter().step_by(step).take(20).copied().collect();
    Ok(BenchReport {
        window_start,
        window_end,
        placed: s.placement_ms.len(),
        placed_per_second: s.placement_ms.len() as f64 / elapsed,
        placement_p50_ms: percentile(&s.placement_ms, 50),
        placement_p99_ms: percentile(&s.placement_ms, 99),
        placement_errors: s.placement_errors,
        status_reads: s.status_ms.len(),
        status_p50_ms: percentile(&s.status_ms, 50),
        status_p99_ms: percentile(&s.status_ms, 99),
        status_errors: s.status_errors,
        sample,
    })
}

/// The `percent` percentile of `sorted` (nearest rank); 0 when there are none.
pub fn percentile(sorted: &[f64], percent: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (percent * sorted.len()).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A saved design of the cheapest product: (design id, version).
async fn saved_design(shop: &ShopClient) -> anyhow::Result<(Uuid, i32)> {
    let query = SearchQuery {
        sort: Some(crate::shop::search_query::Sort::PriceAsc),
        per_page: Some(1),
        ..SearchQuery::default()
    };
    let page = shop
        .search(&query)
        .await
        .map_err(|f| anyhow::anyhow!("{f:?}"))?
        .expect_accepted(endpoint::SEARCH)
        .map_err(|f| anyhow::anyhow!("{f:?}"))?;
    let product = page
        .items
        .first()
        .ok_or_else(|| anyhow::anyhow!("the catalog is empty"))?;
    let design = shop
        .create_design(&product.id)
        .await
        .map_err(|f| anyhow::anyhow!("{f:?}"))?
        .expect_accepted(endpoint::CREATE_DESIGN)
        .map_err(|f| anyhow::anyhow!("{f:?}"))?;
    let saved = shop
        .save_design(design.design_id)
        .await
        .map_err(|f| anyhow::anyhow!("{f:?}"))?
        .expect_accepted(endpoint::SAVE_DESIGN)
        .map_err(|f| anyhow::anyhow!("{f:?}"))?;
    Ok((design.design_id, saved.version))
}

#[cfg(test)]
mod tests {
    use super::{pacing, percentile};
    use std::time::Duration;

    #[test]
    fn pacing_spreads_the_rate_over_the_customers() {
        // 40 orders/s from 4 customers: one order every 100 ms each, starts 25 ms apart.
        assert_eq!(
            pacing(Some(40.0), 4, 1),
            Some((Duration::from_millis(25), Duration::from_millis(100)))
        );
        assert_eq!(
            pacing(Some(40.0), 4, 0),
            Some((Duration::ZERO, Duration::from_millis(100)))
        );
        assert_eq!(pacing(None, 4, 0), None);
        assert_eq!(pacing(Some(0.0), 4, 0), None);
        assert_eq!(pacing(Some(f64::NAN), 4, 0), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50), 50.0);
        assert_eq!(percentile(&v, 99), 99.0);
        assert_eq!(percentile(&v, 100), 100.0);
        assert_eq!(percentile(&[], 50), 0.0);
        assert_eq!(percentile(&[7.0], 99), 7.0);
    }
}
