//! The customer journeys, each a small async function that returns the first unexpected
//! outcome it meets. Expected rejections are counted as they happen.

mod browse;
mod design;
mod purchase;
pub mod recent;
mod status;

pub use browse::BrowsePlan;

use crate::generate::edits::{self, DesignPlan, EditIntent};
use crate::mix::JourneyKind;
use crate::outcome::{Failure, Rejection};
use crate::shop::ShopClient;
use crate::stats::Stats;
use rand::rngs::StdRng;
use recent::RecentOrders;

/// What every journey shares.
#[derive(Debug)]
pub struct Context {
    /// The Shop API.
    pub shop: ShopClient,
    /// Counters for the summary line.
    pub stats: Stats,
    /// Orders placed in this run.
    pub orders: RecentOrders,
}

impl Context {
    /// A context talking to `shop`, with nothing counted yet.
    pub fn new(shop: ShopClient) -> Self {
        Context {
            shop,
            stats: Stats::default(),
            orders: RecentOrders::default(),
        }
    }

    /// Counts a rejection that was the point of the request.
    fn expected_rejection(&self, endpoint: &'static str, rejection: &Rejection) {
        tracing::debug!(
            endpoint,
            status = rejection.status,
            code = %rejection.code,
            "refused as intended"
        );
        self.stats.expected_rejection();
    }
}

/// A journey with its choices made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Journey {
    /// Look around the catalog.
    Browse(BrowsePlan),
    /// Design and save, without ordering.
    Design(DesignPlan),
    /// Design, save and order.
    Purchase(DesignPlan),
    /// Check on a recent order.
    StatusCheck,
}

impl Journey {
    /// `kind` with random choices.
    pub fn random(kind: JourneyKind, rng: &mut StdRng) -> Journey {
        match kind {
            JourneyKind::Browse => Journey::Browse(BrowsePlan::random(rng)),
            JourneyKind::Design => Journey::Design(edits::random_design_plan(rng)),
            JourneyKind::Purchase => Journey::Purchase(edits::purchase_plan(rng)),
            JourneyKind::StatusCheck => Journey::StatusCheck,
        }
    }

    /// The `--once` set: every journey, with the choices that reach every path (second
    /// page, empty search, a refused edit, a part too big to save, an order and its status).
    pub fn smoke_set() -> Vec<Journey> {
        vec![
            Journey::Browse(BrowsePlan {
                searches: 2,
                page_two: true,
                empty_search: true,
                view_product: true,
            }),
            Journey::Design(DesignPlan {
                edits: vec![EditIntent::Valid, EditIntent::Invalid, EditIntent::Valid],
                oversize: false,
            }),
            Journey::Design(DesignPlan {
                edits: vec![EditIntent::Valid],
                oversize: true,
            }),
            Journey::Purchase(DesignPlan {
                edits: vec![EditIntent::Valid],
                oversize: false,
            }),
            Journey::StatusCheck,
        ]
    }

    /// Which kind of journey this is.
    pub fn kind(&self) -> JourneyKind {
        match self {
            Journey::Browse(_) => JourneyKind::Browse,
            Journey::Design(_) => JourneyKind::Design,
            Journey::Purchase(_) => JourneyKind::Purchase,
            Journey::StatusCheck => JourneyKind::StatusCheck,
        }
    }
}

/// Runs `journey`, counts it and logs its failure, if any. A status check with no order to
/// look at does nothing and is not counted; it returns `Ok(false)`.
pub async fn run(ctx: &Context, journey: &Journey, rng: &mut StdRng) -> Result<bool, Failure> {
    let kind = journey.kind();
    let result = match journey {
        Journey::Browse(plan) => browse::browse(ctx, rng, plan).await,
        Journey::Design(plan) => design::design(ctx, rng, plan).await.map(|_| ()),
        Journey::Purchase(plan) => purchase::purchase(ctx, rng, plan).await,
        Journey::StatusCheck => match ctx.orders.pick(rng) {
            Some(order_id) => status::check(ctx, rng, order_id).await,
            None => return Ok(false),
        },
    };
    if let Err(failure) = &result {
        // Endpoint, status and codes only: see `crate::outcome` on personal data.
        tracing::warn!(
            journey = kind.as_str(),
            failure = failure.kind.as_str(),
            endpoint = failure.endpoint,
            status = failure.status,
            detail = %failure.detail,
            "unexpected outcome"
        );
    }
    ctx.stats
        .journey_finished(kind, result.as_ref().err().map(|f| f.kind));
    result.map(|()| true)
}
