//! The catalog search request (`GET /catalog/products`): its parameters and their query-string
//! spelling. The generator picks the values ([`crate::generate::search`]); the client only
//! sends them.

pub use printflow_contracts::Sort;

/// One `GET /catalog/products` request; `None` leaves a parameter out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free-text words.
    pub q: Option<String>,
    /// Category filter, taken from `GET /catalog/categories`.
    pub category: Option<String>,
    /// Material filter.
    pub material: Option<&'static str>,
    /// Lowest price, inclusive.
    pub min_price_cents: Option<i64>,
    /// Highest price, inclusive.
    pub max_price_cents: Option<i64>,
    /// Sort order.
    pub sort: Option<Sort>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size.
    pub per_page: Option<u32>,
}

impl SearchQuery {
    /// The query-string pairs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(category) = &self.category {
            pairs.push(("category", category.clone()));
        }
        if let Some(material) = self.material {
            pairs.push(("material", material.to_owned()));
        }
        if let Some(min) = self.min_price_cents {
            pairs.push(("min_price_cents", min.to_string()));
        }
        if let Some(max) = self.max_price_cents {
            pairs.push(("max_price_cents", max.to_string()));
        }
        if let Some(sort) = self.sort {
            pairs.push(("sort", sort.as_str().to_owned()));
        }
        if let Some(page) = self.page {
            pairs.push(("page", page.to_string()));
        }
        if let Some(per_page) = self.per_page {
            pairs.push(("per_page", per_page.to_string()));
        }
        pairs
    }

    /// The same search, one page further.
    pub fn next_page(&self) -> SearchQuery {
        SearchQuery {
            page: Some(self.page.unwrap_or(1) + 1),
            ..self.clone()
        }
    }
}
