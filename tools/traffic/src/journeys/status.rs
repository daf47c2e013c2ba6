//! Checking on an order: its status, and sometimes the whole order.

use super::Context;
use crate::outcome::{Failure, FailureKind};
use crate::shop::endpoint;
use rand::rngs::StdRng;
use rand::Rng;
use std::time::Instant;
use uuid::Uuid;

/// Asks for the status of `order_id` (an order placed in this run), checks it belongs to that
/// order and did not go backwards, and now and then opens the order as well.
#[tracing::instrument(skip_all, fields(journey = "status", order.id = %order_id))]
pub(super) async fn check(ctx: &Context, rng: &mut StdRng, order_id: Uuid) -> Result<(), Failure> {
    let asked_at = Instant::now();
    let status = ctx
        .shop
        .order_status(order_id)
        .await?
        // A 404 here means an order Shop accepted was lost (seed point 5).
        .expect_accepted(endpoint::ORDER_STATUS)?;
    let answered_at = Instant::now();
    if status.order_id != order_id {
        return Err(Failure::new(
            FailureKind::WrongResult,
            endpoint::ORDER_STATUS,
            format!("status of order {order_id} names order {}", status.order_id),
        ));
    }
    ctx.orders
        .observe(order_id, status.status_version, asked_at, answered_at)
        .map_err(|r| {
            Failure::new(
                FailureKind::StatusRegressed,
                endpoint::ORDER_STATUS,
                format!(
                    "order {order_id} status_version went from {} to {}",
                    r.previous, r.now
                ),
            )
        })?;

    if rng.random_bool(0.3) {
        let order = ctx
            .shop
            .order(order_id)
            .await?
            .expect_accepted(endpoint::ORDER)?;
        if order.order_id != order_id {
            return Err(Failure::new(
                FailureKind::WrongResult,
                endpoint::ORDER,
                format!("order {order_id} answered as order {}", order.order_id),
            ));
        }
    }
    Ok(())
}
