//! Browsing: the landing page's categories, a few searches, maybe a second page, a typo that
//! finds nothing, a look at one product.

use super::Context;
use crate::generate::search::{self, check_page, PageProblem};
use crate::outcome::{Failure, FailureKind};
use crate::shop::endpoint;
use crate::shop::search_query::SearchQuery;
use crate::shop::types::{Product, ProductId, ProductPage};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use std::time::Instant;

/// The choices of one browse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowsePlan {
    /// Searches to run (1..=3).
    pub searches: u8,
    /// Open the second page of the first search that has one.
    pub page_two: bool,
    /// Finish with a search that matches nothing.
    pub empty_search: bool,
    /// Open one product found.
    pub view_product: bool,
}

impl BrowsePlan {
    /// A visitor's random browse.
    pub fn random(rng: &mut StdRng) -> Self {
        BrowsePlan {
            searches: rng.random_range(1..=3),
            page_two: rng.random_bool(0.3),
            empty_search: rng.random_bool(0.15),
            view_product: rng.random_bool(0.4),
        }
    }
}

#[tracing::instrument(skip_all, fields(journey = "browse"))]
pub(super) async fn browse(
    ctx: &Context,
    rng: &mut StdRng,
    plan: &BrowsePlan,
) -> Result<(), Failure> {
    let categories: Vec<String> = ctx
        .shop
        .categories()
        .await?
        .expect_accepted(endpoint::CATEGORIES)?
        .into_iter()
        .map(|c| c.category)
        .collect();

    let mut seen: Vec<Product> = Vec::new();
    let mut paged = false;
    for _ in 0..plan.searches.max(1) {
        let query = search::random_search(rng, &categories);
        let page = search_checked(ctx, &query).await?;
        if plan.page_two && !paged && page.total_pages >= 2 {
            paged = true;
            let second = search_checked(ctx, &query.next_page()).await?;
            seen.extend(second.items);
        }
        seen.extend(page.items);
    }
    if plan.empty_search {
        // Shop may match loosely, so a hit is no failure; what matters is a clean answer.
        search_checked(ctx, &search::empty_search(rng)).await?;
    }
    if plan.view_product {
        if let Some(product) = seen.choose(rng) {
            view_product(ctx, &product.id).await?;
        }
    }
    Ok(())
}

/// Runs a search built to be valid, records its latency and checks the page against it.
pub(super) async fn search_checked(
    ctx: &Context,
    query: &SearchQuery,
) -> Result<ProductPage, Failure> {
    let started = Instant::now();
    let reply = ctx.shop.search(query).await;
    ctx.stats.search_latency(started.elapsed());
    let page = reply?.expect_accepted(endpoint::SEARCH)?;
    check_page(query, &page).map_err(|problem| match problem {
        PageProblem::Shape(detail) => Failure::new(FailureKind::BadShape, endpoint::SEARCH, detail),
        PageProblem::Wrong(detail) => {
            Failure::new(FailureKind::WrongResult, endpoint::SEARCH, detail)
        }
    })?;
    Ok(page)
}

/// Opens a product page; it must be the product asked for.
pub(super) async fn view_product(ctx: &Context, id: &ProductId) -> Result<Product, Failure> {
    let product = ctx
        .shop
        .product(id)
        .await?
        .expect_accepted(endpoint::PRODUCT)?;
    if &product.id != id {
        return Err(Failure::new(
            FailureKind::WrongResult,
            endpoint::PRODUCT,
            format!("asked for product {id}, got {}", product.id),
        ));
    }
    Ok(product)
}
