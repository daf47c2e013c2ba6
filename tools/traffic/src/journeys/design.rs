//! Designing: find a product, start a design from it, edit it, save it.

use super::browse::{search_checked, view_product};
use super::Context;
use crate::generate::edits::{self, DesignPlan, EditIntent};
use crate::generate::search::VOCABULARY;
use crate::outcome::{Failure, FailureKind};
use crate::shop::search_query::SearchQuery;
use crate::shop::types::{Design, EditOp, Product, SavedVersion};
use crate::shop::{endpoint, Reply};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use uuid::Uuid;

/// How a design journey ended, when it ended as intended.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Designed {
    /// The design.
    pub design_id: Uuid,
    /// The saved version; `None` when the save was refused as intended (an oversized part).
    pub saved: Option<SavedVersion>,
}

#[tracing::instrument(skip_all, fields(journey = "design", product.id, design.id))]
pub(super) async fn design(
    ctx: &Context,
    rng: &mut StdRng,
    plan: &DesignPlan,
) -> Result<Designed, Failure> {
    let product = pick_product(ctx, rng).await?;
    tracing::Span::current().record("product.id", tracing::field::display(&product.id));

    let mut current = ctx
        .shop
        .create_design(&product.id)
        .await?
        .expect_accepted(endpoint::CREATE_DESIGN)?;
    if current.product_id != product.id {
        return Err(Failure::new(
            FailureKind::WrongResult,
            endpoint::CREATE_DESIGN,
            format!(
                "design for product {} reports product {}",
                product.id, current.product_id
            ),
        ));
    }
    let design_id = current.design_id;
    tracing::Span::current().record("design.id", tracing::field::display(design_id));

    // An invalid edit Shop took anyway must at least be caught when saving.
    let mut invalid_kept = false;
    for intent in &plan.edits {
        let ops = edits::edit_for(rng, *intent, &current.parameters);
        match (intent, edit(ctx, design_id, &ops).await?) {
            (_, Reply::Accepted(next)) => {
                invalid_kept |= *intent == EditIntent::Invalid;
                current = next;
            }
            (EditIntent::Invalid, Reply::Rejected(r)) if r.is_validation() => {
                ctx.expected_rejection(endpoint::EDIT_DESIGN, &r);
            }
            (_, Reply::Rejected(r)) => return Err(r.unexpected(endpoint::EDIT_DESIGN)),
        }
    }

    let mut oversized = false;
    if plan.oversize {
        for ops in edits::oversize_edits() {
            match edit(ctx, design_id, &ops).await? {
                Reply::Accepted(next) => {
                    oversized = true;
                    current = next;
                }
                // Refusing the scale-up outright is as good as refusing to save it.
                Reply::Rejected(r) if r.is_validation() => {
                    ctx.expected_rejection(endpoint::EDIT_DESIGN, &r);
                    break;
                }
                Reply::Rejected(r) => return Err(r.unexpected(endpoint::EDIT_DESIGN)),
            }
        }
    }

    let saved = match ctx.shop.save_design(design_id).await? {
        Reply::Accepted(version) => {
            version.check().map_err(|detail| {
                Failure::new(FailureKind::BadShape, endpoint::SAVE_DESIGN, detail)
            })?;
            if invalid_kept {
                return Err(Failure::new(
                    FailureKind::InvalidAccepted,
                    endpoint::SAVE_DESIGN,
                    "an invalid edit was accepted and the design saved",
                ));
            }
            if oversized {
                // We do not know the printer's build volume, so this is no failure.
                tracing::debug!(
                    scale = current.parameters.scale,
                    "an oversized design was saved"
                );
            }
            Some(version)
        }
        Reply::Rejected(r) if r.is_validation() && (invalid_kept || oversized) => {
            ctx.expected_rejection(endpoint::SAVE_DESIGN, &r);
            None
        }
        Reply::Rejected(r) => return Err(r.unexpected(endpoint::SAVE_DESIGN)),
    };
    Ok(Designed { design_id, saved })
}

/// One edit request; an accepted edit must answer for the design it was sent to.
async fn edit(ctx: &Context, design_id: Uuid, ops: &[EditOp]) -> Result<Reply<Design>, Failure> {
    let reply = ctx.shop.edit_design(design_id, ops).await?;
    if let Reply::Accepted(design) = &reply {
        if design.design_id != design_id {
            return Err(Failure::new(
                FailureKind::WrongResult,
                endpoint::EDIT_DESIGN,
                format!(
                    "edit of design {design_id} answered design {}",
                    design.design_id
                ),
            ));
        }
    }
    Ok(reply)
}

/// Searches for a word, opens one of the products found. A word with no hits falls back to
/// the plain listing, as a visitor would; only an empty catalog fails.
async fn pick_product(ctx: &Context, rng: &mut StdRng) -> Result<Product, Failure> {
    let word = VOCABULARY.choose(rng).copied().unwrap_or("holder");
    let query = SearchQuery {
        q: Some(word.to_owned()),
        ..SearchQuery::default()
    };
    let mut items = search_checked(ctx, &query).await?.items;
    if items.is_empty() {
        items = search_checked(ctx, &SearchQuery::default()).await?.items;
    }
    let Some(chosen) = items.choose(rng) else {
        return Err(Failure::new(
            FailureKind::EmptyCatalog,
            endpoint::SEARCH,
            "the catalog lists no product",
        ));
    };
    view_product(ctx, &chosen.id).await
}
