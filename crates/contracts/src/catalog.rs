//! The catalog search's vocabulary shared by the Shop (which sorts) and its clients (the traffic
//! generator): the `sort` values of `GET /catalog/products`.

use serde::Serialize;

/// A sort order of the catalog search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best text match first (by name without search words); the default.
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// Alphabetical (byte order).
    Name,
    /// Most recently listed first.
    Newest,
}

impl Sort {
    /// Every sort order.
    pub const ALL: [Sort; 5] = [
        Sort::Relevance,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::Name,
        Sort::Newest,
    ];

    /// The query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::Name => "name",
            Sort::Newest => "newest",
        }
    }

    /// The sort order spelled `s`, if there is one.
    pub fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|sort| sort.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_match_serde() {
        for sort in Sort::ALL {
            assert_eq!(Sort::parse(sort.as_str()), Some(sort));
            assert_eq!(
                serde_json::to_value(sort).unwrap(),
                serde_json::Value::from(sort.as_str())
            );
        }
        assert_eq!(Sort::parse("Price_Asc"), None);
    }
}
