//! `GET /orders?status=&customer=&page=&per_page=`: orders by status and customer, newest first,
//! paged.

use super::validate::FieldError;
use super::{as_attribute, traced, OrderError, OrderRow, ORDER_COLUMNS};
use crate::db::Db;
use printflow_contracts::orders::OrderView;
use printflow_contracts::OrderStatus;
use serde::{Deserialize, Serialize};
use tracing::field::Empty;
use uuid::Uuid;

/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Largest page size.
pub const MAX_PER_PAGE: u32 = 100;
/// Highest page number; far beyond any real listing, it keeps the offset arithmetic small.
pub const MAX_PAGE: u32 = 1_000_000;

/// The raw query string; every value is text so a bad one is a 422 naming it, not a 400.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    /// Status filter (case-insensitive).
    pub status: Option<String>,
    /// Customer filter: a customer id, or an e-mail address (matched ignoring case).
    pub customer: Option<String>,
    /// 1-based page number.
    pub page: Option<String>,
    /// Items per page.
    pub per_page: Option<String>,
}

/// Whose orders a listing is limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerFilter {
    /// The customer with this id.
    Id(Uuid),
    /// The customer with this e-mail address (ignoring case).
    Email(String),
}

/// A checked listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Only orders in this status; all orders when `None`.
    pub status: Option<OrderStatus>,
    /// Only this customer's orders; everyone's when `None`.
    pub customer: Option<CustomerFilter>,
    /// 1-based page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

impl ListParams {
    /// Checks the parameters: a known status, `page >= 1`, `per_page` in `1..=100`.
    pub fn parse(&self) -> Result<ListFilter, FieldError> {
        let status = match self
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(text) => Some(text.parse::<OrderStatus>().map_err(|_| {
                let allowed: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
                FieldError::new(
                    "status",
                    format!("unknown status `{text}`; allowed: {}", allowed.join(", ")),
                )
            })?),
        };
        let customer = match self
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(text) => Some(customer_filter(text)?),
        };
        let page = number("page", self.page.as_deref(), 1, 1, MAX_PAGE)?;
        let per_page = number(
            "per_page",
            self.per_page.as_deref(),
            DEFAULT_PER_PAGE,
            1,
            MAX_PER_PAGE,
        )?;
        Ok(ListFilter {
            status,
            customer,
            page,
            per_page,
        })
    }
}

/// Longest e-mail address accepted as a filter, in characters (the SMTP limit).
const MAX_EMAIL_LEN: usize = 254;

fn customer_filter(text: &str) -> Result<CustomerFilter, FieldError> {
    if let Ok(id) = text.parse::<Uuid>() {
        return Ok(CustomerFilter::Id(id));
    }
    // Something on both sides of an `@`: the matching ignores case and nothing else, so any
    // finer check would only refuse addresses someone once typed.
    let last = text.len().saturating_sub(1);
    let plausible = text.chars().count() <= MAX_EMAIL_LEN
        && text
            .char_indices()
            .any(|(i, c)| c == '@' && i > 0 && i < last);
    if plausible {
        Ok(CustomerFilter::Email(text.to_owned()))
    } else {
        Err(FieldError::new(
            "customer",
            "must be a customer id (UUID) or an e-mail address",
        ))
    }
}

fn number(
    field: &'static str,
    raw: Option<&str>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, FieldError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    match raw.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(FieldError::new(
            field,
            format!("must be a whole number between {min} and {max} (got `{raw}`)"),
        )),
    }
}

/// One page of orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPage {
    /// The orders on this page, newest first.
    pub items: Vec<OrderView>,
    /// This page's number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// Orders matching the filter across all pages.
    pub total: i64,
}

/// Lists orders matching `filter`.
///
/// Span `order.list`: `order.status.filter` (absent when listing every status),
/// `order.list.by_customer` (whether a customer filter was given; never the customer),
/// `order.list.page`, `order.list.per_page`, then `order.list.total` (matches across all pages)
/// and `order.list.returned` (orders on this page).
#[tracing::instrument(
    name = "order.list",
    skip_all,
    fields(
        order.status.filter = filter.status.map(|s| s.as_str()),
        order.list.by_customer = filter.customer.is_some(),
        order.list.page = i64::from(filter.page),
        order.list.per_page = i64::from(filter.per_page),
        order.list.total = Empty,
        order.list.returned = Empty,
        error.type = Empty,
    )
)]
pub async fn list_orders(db: &Db, filter: ListFilter) -> Result<OrderPage, OrderError> {
    let result = traced(load_page(db, filter).await);
    if let Ok(page) = &result {
        let span = tracing::Span::current();
        span.record("order.list.total", page.total);
        span.record("order.list.returned", as_attribute(page.items.len()));
    }
    result
}

/// One page of orders and the total, read in one transaction.
async fn load_page(db: &Db, filter: ListFilter) -> Result<OrderPage, OrderError> {
    let limit = i64::from(filter.per_page);
    let offset = i64::from(filter.page - 1) * limit;
    let mut tx = db.begin().await?;
    // Two fixed statements rather than `status = $1 OR $1 IS NULL`, so each keeps a plan that
    // uses its index.
    let (rows, total): (Vec<OrderRow>, i64) = match (&filter.customer, filter.status) {
        (Some(customer), status) => {
            let customer_id: Option<Uuid> = match customer {
                CustomerFilter::Id(id) => Some(*id),
                CustomerFilter::Email(email) => {
                    sqlx::query_scalar("SELECT id FROM customers WHERE lower(email) = lower($1)")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            // One customer's orders are few (index orders_customer_idx), so one statement
            // serves with and without a status.
            let status = status.map(OrderStatus::as_str);
            let rows = sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders
                 WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)
                 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
            ))
            .bind(customer_id)
            .bind(status)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
            let total = sqlx::query_scalar(
                "SELECT count(*) FROM orders WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)",
            )
            .bind(customer_id)
            .bind(status)
            .fetch_one(&mut *tx)
            .await?;
            (rows, total)
        }
        (None, Some(status)) => {
            let rows = sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1
                 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
            ))
            .bind(status.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
            let total = sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = $1")
                .bind(status.as_str())
                .fetch_one(&mut *tx)
                .await?;
            (rows, total)
        }
        (None, None) => {
            let rows = sqlx::query_as(&format!(
                "SELECT {ORDER_COLUMNS} FROM orders
                 ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *tx)
            .await?;
            let total = sqlx::query_scalar("SELECT count(*) FROM orders")
                .fetch_one(&mut *tx)
                .await?;
            (rows, total)
        }
    };
    tx.commit().await?;
    Ok(OrderPage {
        items: rows
            .into_iter()
            .map(OrderRow::into_view)
            .collect::<Result<_, _>>()?,
        page: filter.page,
        per_page: filter.per_page,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(status: Option<&str>, page: Option<&str>, per_page: Option<&str>) -> ListParams {
        ListParams {
            status: status.map(Into::into),
            customer: None,
            page: page.map(Into::into),
            per_page: per_page.map(Into::into),
        }
    }

    #[test]
    fn defaults() {
        let f = params(None, None, None).parse().unwrap();
        assert_eq!(
            f,
            ListFilter {
                status: None,
                customer: None,
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
    }

    #[test]
    fn status_is_case_insensitive_and_unknown_lists_allowed() {
        let f = params(Some("printing"), Some("2"), Some("5"))
            .parse()
            .unwrap();
        assert_eq!(f.status, Some(OrderStatus::Printing));
        assert_eq!((f.page, f.per_page), (2, 5));
        let err = params(Some("LOST"), None, None).parse().unwrap_err();
        assert_eq!(err.field, "status");
        for st in OrderStatus::ALL {
            assert!(err.message.contains(st.as_str()));
        }
    }

    #[test]
    fn a_customer_is_an_id_or_an_email_address() {
        let with = |c: &str| ListParams {
            customer: Some(c.into()),
            ..ListParams::default()
        };
        let id = Uuid::now_v7();
        assert_eq!(
            with(&format!(" {id} ")).parse().unwrap().customer,
            Some(CustomerFilter::Id(id))
        );
        assert_eq!(
            with("Ada@Example.org").parse().unwrap().customer,
            Some(CustomerFilter::Email("Ada@Example.org".into()))
        );
        assert_eq!(with("  ").parse().unwrap().customer, None);
        // The same rule as the OpenAPI document's pattern: something on both sides of an `@`.
        assert!(with("@a@b").parse().is_ok());
        for bad in [
            "ada",
            "@example.org",
            "ada@",
            "@@",
            &format!("{}@x.org", "a".repeat(260)),
        ] {
            assert_eq!(with(bad).parse().unwrap_err().field, "customer", "{bad}");
        }
    }

    #[test]
    fn paging_bounds() {
        for (page, per_page, field) in [
            ("0", "1", "page"),
            ("x", "1", "page"),
            ("-1", "1", "page"),
            ("1", "0", "per_page"),
            ("1", "101", "per_page"),
            ("1", "1.5", "per_page"),
        ] {
            let err = params(None, Some(page), Some(per_page))
                .parse()
                .unwrap_err();
            assert_eq!(err.field, field, "page={page} per_page={per_page}");
        }
        assert!(params(None, Some("1"), Some("100")).parse().is_ok());
    }
}
