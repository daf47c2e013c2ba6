//! Catalog products.

use super::{traced, with_statement_timeout, CatalogError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

/// The product categories, in display order.
pub const CATEGORIES: [&str; 10] = [
    "home",
    "kitchen",
    "garden",
    "toys",
    "office",
    "tools",
    "cosplay",
    "miniatures",
    "replacement-parts",
    "jewelry",
];

/// Columns selected for a [`Product`], shared by every product query.
pub const PRODUCT_COLUMNS: &str = "id, sku, name, description, category, material, shape, \
     width_mm, depth_mm, height_mm, diameter_mm, base_price_cents, created_at";

/// A printable product as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Product {
    /// Stable id (derived from the seed row number).
    pub id: Uuid,
    /// Stock-keeping unit, `PF-00042`.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Marketing description.
    pub description: String,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// Default material code (`PLA`, `PETG`, `ABS`, `TPU`, `RESIN`).
    pub material: String,
    /// `box` or `cylinder`.
    pub shape: String,
    /// Default width in mm (boxes only).
    pub width_mm: Option<f64>,
    /// Default depth in mm (boxes only).
    pub depth_mm: Option<f64>,
    /// Default height in mm.
    pub height_mm: f64,
    /// Default diameter in mm (cylinders only).
    pub diameter_mm: Option<f64>,
    /// Price of the product before material, cents.
    pub base_price_cents: i64,
    /// When the product was listed.
    pub created_at: DateTime<Utc>,
}

/// Product count of one category.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CategoryCount {
    /// The category.
    pub category: String,
    /// How many products it has.
    pub product_count: i64,
}

/// One product by id, in the span `catalog.product.get` (`product.id`).
pub async fn get_product(
    pool: &PgPool,
    timeout: Duration,
    id: Uuid,
) -> Result<Product, CatalogError> {
    let span = tracing::info_span!(
        "catalog.product.get",
        product.id = %id,
        error.type = tracing::field::Empty,
    );
    traced(span, fetch_product(pool, timeout, id)).await
}

async fn fetch_product(
    pool: &PgPool,
    timeout: Duration,
    id: Uuid,
) -> Result<Product, CatalogError> {
    let mut tx = with_statement_timeout(pool, timeout).await?;
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1");
    let product = sqlx::query_as::<_, Product>(&sql)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    tx.commit()
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    product.ok_or(CatalogError::NotFound(id))
}

/// Every category with its product count (categories without products included, as 0), in the
/// span `catalog.categories`.
pub async fn category_counts(
    pool: &PgPool,
    timeout: Duration,
) -> Result<Vec<CategoryCount>, CatalogError> {
    let span = tracing::info_span!("catalog.categories", error.type = tracing::field::Empty);
    traced(span, count_categories(pool, timeout)).await
}

async fn count_categories(
    pool: &PgPool,
    timeout: Duration,
) -> Result<Vec<CategoryCount>, CatalogError> {
    let mut tx = with_statement_timeout(pool, timeout).await?;
    let rows = sqlx::query_as::<_, CategoryCount>(
        "SELECT c.category, count(p.id) AS product_count \
         FROM unnest($1::text[]) WITH ORDINALITY AS c(category, ord) \
         LEFT JOIN products p ON p.category = c.category \
         GROUP BY c.category, c.ord ORDER BY c.ord",
    )
    .bind(CATEGORIES.to_vec())
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| CatalogError::from_db(e, timeout))?;
    tx.commit()
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    Ok(rows)
}
