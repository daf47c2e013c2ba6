//! Buying: a design that saves, ordered by a synthetic customer.

use super::design::design;
use super::status::check;
use super::Context;
use crate::generate::customer;
use crate::generate::edits::DesignPlan;
use crate::outcome::{Failure, FailureKind};
use crate::shop::endpoint;
use crate::shop::types::OrderRequest;
use rand::rngs::StdRng;

#[tracing::instrument(skip_all, fields(journey = "purchase", design.id, order.id))]
pub(super) async fn purchase(
    ctx: &Context,
    rng: &mut StdRng,
    plan: &DesignPlan,
) -> Result<(), Failure> {
    let designed = design(ctx, rng, plan).await?;
    tracing::Span::current().record("design.id", tracing::field::display(designed.design_id));
    // A purchase plan holds only valid edits, so an unsaved design is a refusal we did not
    // ask for.
    let Some(saved) = designed.saved else {
        return Err(Failure::new(
            FailureKind::UnexpectedRejection,
            endpoint::SAVE_DESIGN,
            "a design with only valid edits was not saved",
        ));
    };

    let order = OrderRequest {
        design_id: designed.design_id,
        design_version: saved.version,
        quantity: customer::random_quantity(rng),
        shipping: customer::random_shipping(rng),
        customer: customer::random_customer(rng),
    };
    let placed = ctx
        .shop
        .place_order(&order)
        .await?
        .expect_accepted(endpoint::PLACE_ORDER)?;
    tracing::Span::current().record("order.id", tracing::field::display(placed.order_id));
    ctx.stats.order_placed();
    ctx.orders.add(placed.order_id);
    tracing::debug!(
        order.id = %placed.order_id,
        design.id = %designed.design_id,
        quantity = order.quantity,
        shipping = order.shipping.as_str(),
        status = placed.status.as_str(),
        "order placed"
    );

    // The confirmation page shows the status straight away.
    check(ctx, rng, placed.order_id).await
}
