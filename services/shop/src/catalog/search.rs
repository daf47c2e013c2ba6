//! `GET /catalog/products`: full-text search with filters, sort orders and stable paging.
//!
//! The query string is read into [`SearchParams`] by serde (a number that does not parse names
//! its parameter: 400 `invalid_query`), then [`SearchParams::validate`] checks the values
//! (422 `validation_failed`, except a `page` above [`MAX_PAGE`], which is 400 like any number out
//! of its type's range). A `min_price_cents` above `max_price_cents` is an empty price range,
//! not an error: it answers an empty page. Paging arithmetic cannot overflow: `page` and
//! `per_page` are bounded before the offset is computed.
//!
//! Text goes through `websearch_to_tsquery`, which accepts any user input (quotes, `-`, `or`)
//! without raising syntax errors, and matches the GIN-indexed `search` column. Every sort order
//! ends with `id`, so rows with equal keys keep one order and pages never repeat or skip rows.
//!
//! Every search request, answered or not, is one `catalog.search` span ([`search_products`]):
//! the parameters as asked (`catalog.search.query`, `.category`, `.material`,
//! `.min_price_cents`, `.max_price_cents`, `.sort`, `.page`, `.per_page`) and the response
//! summary (`.result_count`, `.total`, `.total_pages`, `.duration_ms`, `.empty`). An empty page
//! adds the event `catalog.search.empty`; a rejected parameter records
//! `catalog.search.rejected_field` and the event `catalog.search.rejected` (the client's mistake,
//! so not ERROR); a timeout or database failure marks the span ERROR.
//!
//! The same function observes `printflow_catalog_search_duration_seconds{outcome}` (`ok`,
//! `empty`, `rejected`, `failed`; exemplar: the span's trace) and, for answered searches,
//! `printflow_catalog_search_results` (the total matches).

use super::product::{Product, CATEGORIES, PRODUCT_COLUMNS};
use super::{traced, with_statement_timeout, CatalogError};
use crate::metrics::{SearchOutcome, ShopMetrics};
use crate::model::material::Material;
pub use printflow_contracts::Sort;
use printflow_faults::Faults;
use printflow_web::typed;
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::time::{Duration, Instant};
use tracing::field::Empty;

/// Longest accepted `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Largest accepted `per_page`.
pub const MAX_PER_PAGE: u32 = 100;
/// `per_page` when none is given.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// Largest accepted `page`: with [`MAX_PER_PAGE`] the offset stays at most 999,900, far below
/// any integer limit, and far beyond the catalog's last page.
pub const MAX_PAGE: u32 = 10_000;

/// The query string as sent. Numbers are typed, so one that does not parse (or does not fit)
/// is reported with its name; names (`category`, `material`, `sort`) stay text so the error can
/// list the allowed values. An empty value counts as absent. Unknown parameters are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SearchParams {
    /// Free text.
    pub q: Option<String>,
    /// Category filter.
    pub category: Option<String>,
    /// Material filter.
    pub material: Option<String>,
    /// Lowest base price, cents (inclusive).
    #[serde(default, deserialize_with = "whole_number")]
    pub min_price_cents: Option<i64>,
    /// Highest base price, cents (inclusive).
    #[serde(default, deserialize_with = "whole_number")]
    pub max_price_cents: Option<i64>,
    /// Sort order.
    pub sort: Option<String>,
    /// 1-based page number.
    #[serde(default, deserialize_with = "whole_number")]
    pub page: Option<u64>,
    /// Page size.
    #[serde(default, deserialize_with = "whole_number")]
    pub per_page: Option<u64>,
}

/// A query-string number: trimmed, empty as absent, otherwise it must parse as `T`.
fn whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
{
    let Some(raw) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match raw.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("must be a whole number in range, got `{v}`"))
        }),
    }
}

/// The ORDER BY clause of a sort order; `id` last breaks ties.
trait OrderBy {
    /// The clause, for a search with or without words.
    fn order_by(self, has_text: bool) -> &'static str;
}

impl OrderBy for Sort {
    fn order_by(self, has_text: bool) -> &'static str {
        match self {
            Sort::Relevance if has_text => " ORDER BY rank DESC, id ASC",
            Sort::Relevance | Sort::Name => " ORDER BY name ASC, id ASC",
            Sort::PriceAsc => " ORDER BY base_price_cents ASC, id ASC",
            Sort::PriceDesc => " ORDER BY base_price_cents DESC, id ASC",
            Sort::Newest => " ORDER BY created_at DESC, id ASC",
        }
    }
}

/// A validated search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Free text, trimmed; `None` when absent or blank.
    pub text: Option<String>,
    /// Category filter.
    pub category: Option<&'static str>,
    /// Material filter.
    pub material: Option<Material>,
    /// Inclusive lower price bound.
    pub min_price_cents: Option<i64>,
    /// Inclusive upper price bound.
    pub max_price_cents: Option<i64>,
    /// Sort order.
    pub sort: Sort,
    /// 1-based page, at most [`MAX_PAGE`].
    pub page: u32,
    /// Page size, 1..=[`MAX_PER_PAGE`].
    pub per_page: u32,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid {
        field,
        message: message.into(),
    }
}

impl SearchParams {
    /// Reads a raw query string (`q=lamp&page=2`); a value of the wrong type names its parameter.
    pub fn from_query(raw: &str) -> Result<SearchParams, CatalogError> {
        typed::from_query(raw).map_err(|e| CatalogError::Malformed {
            field: e.field,
            message: e.message,
        })
    }

    /// Checks the values; the error names the parameter at fault.
    pub fn validate(&self) -> Result<SearchQuery, CatalogError> {
        // U+0000 is a space to us: PostgreSQL refuses it in any text parameter (a 500 otherwise).
        let text = self
            .q
            .as_deref()
            .map(|q| q.replace('\0', " "))
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        if let Some(q) = &text {
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(invalid(
                    "q",
                    format!("q must be at most {MAX_QUERY_CHARS} characters"),
                ));
            }
        }
        let category = match self.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(
                CATEGORIES
                    .iter()
                    .copied()
                    .find(|k| k.eq_ignore_ascii_case(c))
                    .ok_or_else(|| {
                        invalid(
                            "category",
                            format!("unknown category `{c}`; allowed: {}", CATEGORIES.join(", ")),
                        )
                    })?,
            ),
        };
        let material = match self.material.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(
                m.parse::<Material>()
                    .map_err(|e| invalid("material", e.to_string()))?,
            ),
        };
        let sort = match self.sort.as_deref().map(str::trim) {
            None | Some("") => Sort::Relevance,
            Some(s) => Sort::parse(s).ok_or_else(|| {
                let allowed: Vec<_> = Sort::ALL.iter().map(|sort| sort.as_str()).collect();
                invalid(
                    "sort",
                    format!("unknown sort `{s}`; allowed: {}", allowed.join(", ")),
                )
            })?,
        };
        for (field, v) in [
            ("min_price_cents", self.min_price_cents),
            ("max_price_cents", self.max_price_cents),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(invalid(field, format!("{field} must not be negative")));
            }
        }
        // min above max is an empty range, answered with an empty page: not checked here.
        let page = self.page.unwrap_or(1);
        if page < 1 {
            return Err(invalid("page", "page must be at least 1"));
        }
        let page = u32::try_from(page)
            .ok()
            .filter(|p| *p <= MAX_PAGE)
            .ok_or_else(|| CatalogError::Malformed {
                field: Some("page".to_owned()),
                message: format!("page must be at most {MAX_PAGE}, got {page}"),
            })?;
        let per_page = self.per_page.unwrap_or(u64::from(DEFAULT_PER_PAGE));
        let per_page = u32::try_from(per_page)
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| {
                invalid(
                    "per_page",
                    format!("per_page must be between 1 and {MAX_PER_PAGE}"),
                )
            })?;
        Ok(SearchQuery {
            text,
            category,
            material,
            min_price_cents: self.min_price_cents,
            max_price_cents: self.max_price_cents,
            sort,
            page,
            per_page,
        })
    }
}

impl SearchQuery {
    /// Rows before this page. `page` and `per_page` are bounded by validation; the arithmetic
    /// saturates anyway, so no input can make it overflow.
    fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)).saturating_mul(i64::from(self.per_page))
    }

    /// Appends the WHERE clause (shared by the page query and the count query).
    fn push_filters(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push(" WHERE TRUE");
        if let Some(text) = &self.text {
            qb.push(" AND search @@ websearch_to_tsquery('english', ")
                .push_bind(text.clone())
                .push(")");
        }
        if let Some(category) = self.category {
            qb.push(" AND category = ").push_bind(category);
        }
        if let Some(material) = self.material {
            qb.push(" AND material = ").push_bind(material.as_str());
        }
        if let Some(lo) = self.min_price_cents {
            qb.push(" AND base_price_cents >= ").push_bind(lo);
        }
        if let Some(hi) = self.max_price_cents {
            qb.push(" AND base_price_cents <= ").push_bind(hi);
        }
    }

    /// The page query: products and their rank. The total comes from [`Self::count_sql`]: a
    /// `count(*) OVER ()` window would force every ordered plan to read all matches, turning
    /// a sub-millisecond index walk into a full scan.
    ///
    /// With words but another order than relevance, the rank is computed for the page only (an
    /// inner query picks the page): ranking every match just to keep a page of them was most of
    /// a search's cost in PostgreSQL (docs/benchmarks.md: 1,313 against 1,833 searches/s).
    pub fn page_sql(&self) -> QueryBuilder<'static, Postgres> {
        let order_by = self.sort.order_by(self.text.is_some());
        let mut qb = QueryBuilder::new(format!("SELECT {PRODUCT_COLUMNS}, "));
        match &self.text {
            Some(text) if self.sort != Sort::Relevance => {
                qb.push("ts_rank_cd(search, websearch_to_tsquery('english', ")
                    .push_bind(text.clone())
                    .push(")) AS rank FROM (SELECT * FROM products");
                self.push_filters(&mut qb);
                qb.push(order_by);
                self.push_page(&mut qb);
                qb.push(") AS page");
                qb.push(order_by);
                return qb;
            }
            Some(text) => {
                qb.push("ts_rank_cd(search, websearch_to_tsquery('english', ")
                    .push_bind(text.clone())
                    .push(")) AS rank");
            }
            None => {
                qb.push("NULL::real AS rank");
            }
        }
        qb.push(" FROM products");
        self.push_filters(&mut qb);
        qb.push(order_by);
        self.push_page(&mut qb);
        qb
    }

    /// Appends `LIMIT` and `OFFSET` of the requested page.
    fn push_page(&self, qb: &mut QueryBuilder<'static, Postgres>) {
        qb.push(" LIMIT ")
            .push_bind(i64::from(self.per_page))
            .push(" OFFSET ")
            .push_bind(self.offset());
    }

    /// Counts the matches.
    pub fn count_sql(&self) -> QueryBuilder<'static, Postgres> {
        let mut qb = QueryBuilder::new("SELECT count(*) FROM products");
        self.push_filters(&mut qb);
        qb
    }
}

/// A product in a result list.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// The product.
    #[serde(flatten)]
    pub product: Product,
    /// Text-match score (`ts_rank_cd`, higher is better); `null` without `q`.
    pub relevance: Option<f32>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// The products on this page.
    pub items: Vec<SearchHit>,
    /// The page number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
    /// Matching products in total.
    pub total: i64,
    /// Pages in total (0 when nothing matches).
    pub total_pages: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    product: Product,
    rank: Option<f32>,
}

/// Parses, validates and runs one search request (`raw_query` is the query string as sent)
/// inside the `catalog.search` span (see the module docs for what it records), and observes it
/// in `metrics` (`printflow_catalog_search_duration_seconds{outcome}`,
/// `printflow_catalog_search_results`).
pub async fn search_products(
    pool: &PgPool,
    timeout: Duration,
    metrics: &ShopMetrics,
    faults: &Faults,
    raw_query: &str,
) -> Result<SearchPage, CatalogError> {
    let span = tracing::info_span!(
        "catalog.search",
        catalog.search.query = Empty,
        catalog.search.category = Empty,
        catalog.search.material = Empty,
        catalog.search.min_price_cents = Empty,
        catalog.search.max_price_cents = Empty,
        catalog.search.sort = Empty,
        catalog.search.page = Empty,
        catalog.search.per_page = Empty,
        catalog.search.result_count = Empty,
        catalog.search.total = Empty,
        catalog.search.total_pages = Empty,
        catalog.search.duration_ms = Empty,
        catalog.search.empty = Empty,
        catalog.search.rejected_field = Empty,
        error.type = Empty,
    );
    traced(span, async move {
        let span = tracing::Span::current();
        let received = Instant::now();
        let query = match SearchParams::from_query(raw_query).and_then(|p| p.validate()) {
            Ok(query) => query,
            Err(err) => {
                record_rejection(&span, raw_query, &err);
                metrics.search(SearchOutcome::Rejected, received.elapsed(), None);
                return Err(err);
            }
        };
        record_query(&span, &query);
        let started = Instant::now();
        let result = search(pool, timeout, faults, &query).await;
        span.record(
            "catalog.search.duration_ms",
            started.elapsed().as_secs_f64() * 1000.0,
        );
        match &result {
            Ok(page) => {
                record_page(&span, page);
                let outcome = if page.items.is_empty() {
                    SearchOutcome::Empty
                } else {
                    SearchOutcome::Ok
                };
                metrics.search(outcome, received.elapsed(), Some(page.total));
            }
            Err(_) => metrics.search(SearchOutcome::Failed, received.elapsed(), None),
        }
        result
    })
    .await
}

/// The validated parameters, defaults applied; filters that were not given stay unset.
///
/// Numbers are recorded as `i64`: `tracing-opentelemetry` exports unsigned integers as strings.
fn record_query(span: &tracing::Span, query: &SearchQuery) {
    span.record(
        "catalog.search.query",
        query.text.as_deref().unwrap_or_default(),
    );
    if let Some(category) = query.category {
        span.record("catalog.search.category", category);
    }
    if let Some(material) = query.material {
        span.record("catalog.search.material", material.as_str());
    }
    if let Some(lo) = query.min_price_cents {
        span.record("catalog.search.min_price_cents", lo);
    }
    if let Some(hi) = query.max_price_cents {
        span.record("catalog.search.max_price_cents", hi);
    }
    span.record("catalog.search.sort", query.sort.as_str());
    span.record("catalog.search.page", i64::from(query.page));
    span.record("catalog.search.per_page", i64::from(query.per_page));
}

/// The response summary, and the `catalog.search.empty` event when the page has no products
/// (`catalog.search.past_last_page` tells "nothing matches" from "paged past the end").
fn record_page(span: &tracing::Span, page: &SearchPage) {
    let empty = page.items.is_empty();
    span.record("catalog.search.result_count", page.items.len() as i64);
    span.record("catalog.search.total", page.total);
    span.record("catalog.search.total_pages", page.total_pages);
    span.record("catalog.search.empty", empty);
    if empty {
        tracing::info!(
            catalog.search.past_last_page = page.total > 0,
            "catalog.search.empty"
        );
    }
}

/// A rejected request: the parameters as sent (so the trace shows what was asked, even when
/// they did not parse; text cut to [`MAX_QUERY_CHARS`], numbers only if they are numbers), the
/// field at fault and the `catalog.search.rejected` event with the reason.
fn record_rejection(span: &tracing::Span, raw_query: &str, err: &CatalogError) {
    let mut text = String::new();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let number = value.parse::<i64>().ok();
        let value = truncate_chars(value, MAX_QUERY_CHARS);
        match key.as_ref() {
            "q" => text = value.to_owned(),
            "category" => _ = span.record("catalog.search.category", value),
            "material" => _ = span.record("catalog.search.material", value),
            "sort" => _ = span.record("catalog.search.sort", value),
            "min_price_cents" => _ = span.record("catalog.search.min_price_cents", number),
            "max_price_cents" => _ = span.record("catalog.search.max_price_cents", number),
            "page" => _ = span.record("catalog.search.page", number),
            "per_page" => _ = span.record("catalog.search.per_page", number),
            _ => {}
        }
    }
    span.record("catalog.search.query", text.as_str());
    let (field, message) = match err {
        CatalogError::Invalid { field, message } => (Some(*field), message),
        CatalogError::Malformed { field, message } => (field.as_deref(), message),
        _ => return,
    };
    if let Some(field) = field {
        span.record("catalog.search.rejected_field", field);
    }
    tracing::info!(
        catalog.search.rejected_field = field,
        catalog.search.rejection_reason = %message,
        "catalog.search.rejected"
    );
}

/// At most `max` characters of `s` (never splits a character).
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        // `end` is a char boundary (it came from `char_indices`), so `get` always succeeds.
        Some((end, _)) => s.get(..end).unwrap_or(s),
        None => s,
    }
}

/// Runs a validated search under the statement timeout.
pub async fn search(
    pool: &PgPool,
    timeout: Duration,
    faults: &Faults,
    query: &SearchQuery,
) -> Result<SearchPage, CatalogError> {
    let mut tx = with_statement_timeout(pool, timeout).await?;
    if let Some(hit) = faults.hit(crate::faults::SEARCH_SLOW) {
        // A slow statement in the database, under the same statement timeout as the search
        // itself: what a bloated index or a lock on the catalog would cost.
        sqlx::query("SELECT pg_sleep($1)")
            .bind(hit.delay.as_secs_f64())
            .execute(&mut *tx)
            .await
            .map_err(|e| CatalogError::from_db(e, timeout))?;
    }
    let total: i64 = query
        .count_sql()
        .build_query_scalar()
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    let rows: Vec<Row> = if query.offset() < total {
        query
            .page_sql()
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| CatalogError::from_db(e, timeout))?
    } else {
        // Nothing matches, or the page is past the end.
        Vec::new()
    };
    tx.commit()
        .await
        .map_err(|e| CatalogError::from_db(e, timeout))?;
    let per_page = i64::from(query.per_page);
    Ok(SearchPage {
        items: rows
            .into_iter()
            .map(|r| SearchHit {
                product: r.product,
                relevance: r.rank,
            })
            .collect(),
        page: query.page,
        per_page: query.per_page,
        total,
        // Written so it cannot overflow whatever `total` is.
        total_pages: if total > 0 {
            (total - 1) / per_page + 1
        } else {
            0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<SearchQuery, CatalogError> {
        SearchParams::from_query(query)?.validate()
    }

    /// The parameter at fault and whether it is a 400 (malformed) rather than a 422.
    fn rejected(query: &str) -> (String, bool) {
        match parse(query).unwrap_err() {
            CatalogError::Invalid { field, .. } => (field.to_owned(), false),
            CatalogError::Malformed { field, .. } => (field.unwrap_or_default(), true),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let q = parse("q=%20%20&page=&per_page=%20").unwrap();
        assert_eq!(q.text, None);
        assert_eq!((q.page, q.per_page, q.sort), (1, 20, Sort::Relevance));
        let q = parse("q=lamp+shade&page=%202%20&category=TOYS&material=petg&unknown=1").unwrap();
        assert_eq!(q.text.as_deref(), Some("lamp shade"));
        assert_eq!(
            (q.page, q.category, q.material),
            (2, Some("toys"), Some(Material::Petg))
        );
    }

    #[test]
    fn each_bad_value_names_its_parameter() {
        let long = format!("q={}", "x".repeat(MAX_QUERY_CHARS + 1));
        let cases: [(&str, &str, bool); 14] = [
            ("per_page=0", "per_page", false),
            ("per_page=1000", "per_page", false),
            ("per_page=-3", "per_page", true),
            ("page=0", "page", false),
            ("page=abc", "page", true),
            ("page=10001", "page", true),
            ("page=99999999999", "page", true),
            ("page=99999999999999999999999", "page", true),
            ("page=1&page=2", "page", true),
            ("sort=bogus", "sort", false),
            ("category=weapons", "category", false),
            ("material=wood", "material", false),
            ("min_price_cents=-1", "min_price_cents", false),
            (&long, "q", false),
        ];
        for (query, field, malformed) in cases {
            assert_eq!(rejected(query), (field.to_owned(), malformed), "{query}");
        }
        assert_eq!(
            rejected("max_price_cents=99999999999999999999"),
            ("max_price_cents".to_owned(), true)
        );
    }

    #[test]
    fn documented_maxima_are_accepted_and_cannot_overflow() {
        let q = parse(&format!("page={MAX_PAGE}&per_page={MAX_PER_PAGE}")).unwrap();
        assert_eq!(
            q.offset(),
            i64::from(MAX_PAGE - 1) * i64::from(MAX_PER_PAGE)
        );
        let q = parse(&format!(
            "min_price_cents={}&max_price_cents={}",
            i64::MAX,
            i64::MAX
        ))
        .unwrap();
        assert_eq!(q.min_price_cents, Some(i64::MAX));
    }

    #[test]
    fn a_minimum_above_the_maximum_is_an_empty_range_not_an_error() {
        let q = parse("min_price_cents=500&max_price_cents=100").unwrap();
        assert_eq!(
            (q.min_price_cents, q.max_price_cents),
            (Some(500), Some(100))
        );
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo", 50), "héllo");
        assert_eq!(truncate_chars("", 3), "");
    }

    #[test]
    fn relevance_without_text_sorts_by_name() {
        assert_eq!(Sort::Relevance.order_by(false), Sort::Name.order_by(false));
        assert!(Sort::Relevance.order_by(true).contains("rank"));
        for sort in Sort::ALL {
            assert!(sort.order_by(true).ends_with("id ASC"));
        }
    }
}
