//! Whose designs and orders a caller may see: a customer its own, the staff (and MES, for the
//! model files it prints) any. Someone else's record answers exactly like a missing one (404), so
//! ids cannot be probed for existence.

use printflow_auth::{Principal, Role};
use sqlx::PgPool;
use uuid::Uuid;

/// Who may see every customer's designs and orders (on the routes their roles reach).
pub const SEES_ALL: &[Role] = &[Role::Support, Role::Admin, Role::ModelReader];

/// Whether `principal` may see design `design_id`. `Ok(true)` too when the design does not
/// exist: the caller's own not-found answer follows.
pub async fn may_see_design(
    pool: &PgPool,
    principal: &Principal,
    design_id: Uuid,
) -> Result<bool, sqlx::Error> {
    if principal.has_any(SEES_ALL) {
        return Ok(true);
    }
    let owner: Option<Option<String>> =
        sqlx::query_scalar("SELECT owner_subject FROM designs WHERE id = $1")
            .bind(design_id)
            .fetch_optional(pool)
            .await?;
    Ok(match owner {
        None => true,
        Some(owner) => owner.as_deref() == Some(principal.subject.as_str()),
    })
}

/// Records that `subject` places `order_id` (an id the Shop has just assigned), before CRM is
/// asked to record the order: an order CRM has is never without an owner here.
pub async fn record_order_owner(
    pool: &PgPool,
    order_id: Uuid,
    subject: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO order_owners (order_id, owner_subject) VALUES ($1, $2)")
        .bind(order_id)
        .bind(subject)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Whether `principal` may see order `order_id`: staff any, a customer only one it placed
/// through the Shop.
pub async fn may_see_order(
    pool: &PgPool,
    principal: &Principal,
    order_id: Uuid,
) -> Result<bool, sqlx::Error> {
    if principal.has_any(SEES_ALL) {
        return Ok(true);
    }
    let owned: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM order_owners WHERE order_id = $1 AND owner_subject = $2")
            .bind(order_id)
            .bind(&principal.subject)
            .fetch_optional(pool)
            .await?;
    Ok(owned.is_some())
}
