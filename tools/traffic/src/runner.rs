//! The two ways to run: continuously at a rate, or once through every journey.
#![allow(
    clippy::print_stdout,
    reason = "the per-journey lines and the summary are the tool's command-line output"
)]

use crate::config::Config;
use crate::journeys::{self, Context, Journey};
use crate::mix::{next_gap, JourneyMix};
use crate::shop::ShopClient;
use crate::stats::Snapshot;
use anyhow::bail;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the summary line is printed.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// How long journeys still running at shutdown may finish before they are cut short. Short:
/// they are demo traffic, and a half-finished design harms nobody.
const DRAIN_FOR: Duration = Duration::from_secs(5);

/// Pause between two readiness probes.
const READY_POLL: Duration = Duration::from_secs(1);

/// Produces journeys at the configured rate until `shutdown` resolves or the configured
/// duration has passed; returns the final totals.
pub async fn run_continuous(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Snapshot> {
    let stop = cancel_on(shutdown);
    let ctx = Arc::new(Context::new(ShopClient::new(
        &config.shop_url,
        config.request_timeout,
        config.client(),
    )));
    if !wait_until_ready(&ctx.shop, config.ready_timeout, &stop).await? {
        return Ok(ctx.stats.snapshot(true));
    }
    if let Some(duration) = config.duration() {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(duration) => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
    }

    let seed = config.seed.unwrap_or_else(rand::random);
    tracing::info!(
        shop = %config.shop_url,
        rate = config.rate_per_second,
        concurrency = config.concurrency,
        order_share = config.order_share,
        duration_s = config.duration().map(|d| d.as_secs()),
        seed,
        "producing traffic (set TRAFFIC_SEED to repeat these choices)"
    );

    let summary = tokio::spawn(print_summaries(ctx.clone(), stop.clone()));
    let mut rng = StdRng::seed_from_u64(seed);
    let mix = JourneyMix::new(config.order_share);
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut running = JoinSet::new();
    let mut next_start = Instant::now();
    loop {
        next_start += next_gap(&mut rng, config.rate_per_second);
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(next_start) => {}
        }
        // With every slot busy (Shop is slow), wait rather than queue: the load stays bounded.
        let slot = tokio::select! {
            _ = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot?,
        };
        // After waiting for a slot, do not make up for lost time with a burst.
        next_start = next_start.max(Instant::now());

        let kind = mix.pick(&mut rng, !ctx.orders.is_empty());
        let mut journey_rng = StdRng::seed_from_u64(rng.random());
        let journey = Journey::random(kind, &mut journey_rng);
        let ctx = ctx.clone();
        running.spawn(async move {
            let _slot = slot;
            // Failures are counted and logged inside; nothing more to do with them here.
            let _ = journeys::run(&ctx, &journey, &mut journey_rng).await;
        });
        while let Some(done) = running.try_join_next() {
            log_panic(done);
        }
    }

    drain(&mut running).await;
    summary.abort();
    let last = ctx.stats.snapshot(true);
    println!("final: {last}");
    Ok(last)
}

/// Runs every journey once (see [`Journey::smoke_set`]), printing one line per journey and
/// the summary; returns the totals, whose failures decide the exit code.
pub async fn run_once(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Snapshot> {
    let stop = cancel_on(shutdown);
    let ctx = Context::new(ShopClient::new(
        &config.shop_url,
        config.request_timeout,
        config.client(),
    ));
    if !wait_until_ready(&ctx.shop, config.ready_timeout, &stop).await? {
        bail!("stopped before Shop was ready");
    }
    let seed = config.seed.unwrap_or_else(rand::random);
    tracing::info!(shop = %config.shop_url, seed, "running every journey once");
    let mut rng = StdRng::seed_from_u64(seed);
    for journey in Journey::smoke_set() {
        let name = journey.kind().as_str();
        let outcome = tokio::select! {
            _ = stop.cancelled() => bail!("stopped during the {name} journey"),
            outcome = journeys::run(&ctx, &journey, &mut rng) => outcome,
        };
        match outcome {
            Ok(true) => println!("once: {name} ok"),
            Ok(false) => println!("once: {name} skipped (no order was placed to look at)"),
            Err(failure) => println!("once: {name} FAILED: {failure}"),
        }
    }
    let totals = ctx.stats.snapshot(false);
    println!("summary: {totals}");
    Ok(totals)
}

/// Polls `GET /readyz` until it answers 200, for at most `limit`. `Ok(false)` when stopped
/// meanwhile; an error, saying what Shop last answered, when the time is up.
pub async fn wait_until_ready(
    shop: &ShopClient,
    limit: Duration,
    stop: &CancellationToken,
) -> anyhow::Result<bool> {
    let deadline = Instant::now() + limit;
    tracing::info!(
        shop = shop.base_url(),
        limit_s = limit.as_secs(),
        "waiting for Shop to be ready"
    );
    let mut last = String::from("no answer yet");
    let mut attempts = 0u32;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            bail!(
                "Shop at {} was not ready after {} s (last answer: {last}). Is it running? \
                 Set TRAFFIC_SHOP_URL if it listens elsewhere, or TRAFFIC_READY_TIMEOUT_SECONDS \
                 to wait longer.",
                shop.base_url(),
                limit.as_secs()
            );
        }
        let answer = tokio::select! {
            _ = stop.cancelled() => return Ok(false),
            answer = tokio::time::timeout(remaining, shop.ready()) => answer,
        };
        match answer {
            Ok(Ok(())) => {
                tracing::info!(shop = shop.base_url(), "Shop is ready");
                return Ok(true);
            }
            Ok(Err(reason)) => last = reason,
            Err(_) => last = "no answer before the deadline".to_owned(),
        }
        attempts += 1;
        if attempts.is_multiple_of(10) {
            tracing::info!(last = %last, "still waiting for Shop");
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(false),
            _ = tokio::time::sleep(READY_POLL.min(remaining)) => {}
        }
    }
}

/// A token cancelled when `shutdown` resolves.
fn cancel_on(shutdown: impl Future<Output = ()> + Send + 'static) -> CancellationToken {
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    stop
}

async fn print_summaries(ctx: Arc<Context>, stop: CancellationToken) {
    let mut every = tokio::time::interval_at(Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => println!("{}", ctx.stats.snapshot(true)),
        }
    }
}

async fn drain(running: &mut JoinSet<()>) {
    let finished = tokio::time::timeout(DRAIN_FOR, async {
        while let Some(done) = running.join_next().await {
            log_panic(done);
        }
    })
    .await;
    if finished.is_err() {
        tracing::info!(
            cut_short = running.len(),
            "journeys still running at shutdown were stopped"
        );
        running.abort_all();
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!(error = %e, "a journey panicked");
        }
    }
}
