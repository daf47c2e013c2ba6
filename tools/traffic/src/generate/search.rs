//! Catalog searches, and the checks a result page must pass.

use super::random_material;
use crate::shop::search_query::{SearchQuery, Sort};
use crate::shop::types::ProductPage;
use rand::seq::IndexedRandom;
use rand::Rng;

/// Words a visitor of a 3D-printing shop types.
pub const VOCABULARY: [&str; 24] = [
    "organizer",
    "hook",
    "vase",
    "gear",
    "holder",
    "bracket",
    "stand",
    "box",
    "planter",
    "clip",
    "coaster",
    "knob",
    "tray",
    "case",
    "mount",
    "spool",
    "lamp",
    "cable",
    "desk",
    "phone",
    "pen",
    "key",
    "wall",
    "bin",
];

/// A visitor's search: usually a word or two, sometimes narrowed by category, material or a
/// price band, sometimes sorted. `categories` are the names Shop listed.
pub fn random_search<R: Rng + ?Sized>(rng: &mut R, categories: &[String]) -> SearchQuery {
    let q = rng.random_bool(0.75).then(|| {
        let first = VOCABULARY.choose(rng).copied().unwrap_or("hook");
        if rng.random_bool(0.2) {
            let second = VOCABULARY.choose(rng).copied().unwrap_or("holder");
            format!("{first} {second}")
        } else {
            first.to_owned()
        }
    });
    let category = if rng.random_bool(0.35) {
        categories.choose(rng).cloned()
    } else {
        None
    };
    let material = rng.random_bool(0.2).then(|| random_material(rng));
    let (min_price_cents, max_price_cents) = if rng.random_bool(0.25) {
        let min = *[0i64, 500, 1000, 2000].choose(rng).unwrap_or(&0);
        let width = *[1000i64, 3000, 10_000].choose(rng).unwrap_or(&3000);
        // Half the price bands are open-ended at the bottom, as a "max price" slider is.
        (
            (min > 0 || rng.random_bool(0.5)).then_some(min),
            Some(min + width),
        )
    } else {
        (None, None)
    };
    let sort = rng
        .random_bool(0.6)
        .then(|| Sort::ALL.choose(rng).copied())
        .flatten();
    let per_page = rng
        .random_bool(0.3)
        .then(|| [12u32, 24].choose(rng).copied())
        .flatten();
    SearchQuery {
        q,
        category,
        material,
        min_price_cents,
        max_price_cents,
        sort,
        page: None,
        per_page,
    }
}

/// A search that matches nothing (a typo, a product we do not sell): Shop must answer an
/// empty page, not an error.
pub fn empty_search<R: Rng + ?Sized>(rng: &mut R) -> SearchQuery {
    SearchQuery {
        q: Some(format!("qzxv{}", rng.random_range(1000..10_000))),
        ..SearchQuery::default()
    }
}

/// How a result page contradicts its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageProblem {
    /// The page is not what the contract describes (wrong page number, more items than a
    /// page holds).
    Shape(String),
    /// Items that the filters or the sort order exclude.
    Wrong(String),
}

/// Checks a result page against the query that produced it. Filters are compared without
/// regard to case, since Shop may normalise spelling.
pub fn check_page(query: &SearchQuery, page: &ProductPage) -> Result<(), PageProblem> {
    let wanted_page = query.page.unwrap_or(1);
    if page.page != wanted_page {
        return Err(PageProblem::Shape(format!(
            "asked for page {wanted_page}, got page {}",
            page.page
        )));
    }
    if page.per_page == 0 || page.items.len() > page.per_page as usize {
        return Err(PageProblem::Shape(format!(
            "{} items on a page of {}",
            page.items.len(),
            page.per_page
        )));
    }
    if (page.items.len() as u64) > page.total {
        return Err(PageProblem::Shape(format!(
            "{} items but a total of {}",
            page.items.len(),
            page.total
        )));
    }
    for item in &page.items {
        if let Some(category) = &query.category {
            if !item.category.eq_ignore_ascii_case(category) {
                return Err(PageProblem::Wrong(format!(
                    "product {} is in another category than the filter",
                    item.id
                )));
            }
        }
        if let Some(material) = query.material {
            if !item.material.eq_ignore_ascii_case(material) {
                return Err(PageProblem::Wrong(format!(
                    "product {} has material {}, filter {material}",
                    item.id, item.material
                )));
            }
        }
        let above_min = query
            .min_price_cents
            .is_none_or(|min| item.price_cents >= min);
        let below_max = query
            .max_price_cents
            .is_none_or(|max| item.price_cents <= max);
        if !(above_min && below_max) {
            return Err(PageProblem::Wrong(format!(
                "product {} costs {} cents, outside the price filter",
                item.id, item.price_cents
            )));
        }
    }
    let prices: Vec<i64> = page.items.iter().map(|p| p.price_cents).collect();
    let sorted = match query.sort {
        Some(Sort::PriceAsc) => prices.windows(2).all(|w| w[0] <= w[1]),
        Some(Sort::PriceDesc) => prices.windows(2).all(|w| w[0] >= w[1]),
        _ => true,
    };
    if !sorted {
        return Err(PageProblem::Wrong(format!(
            "items are not in {} order",
            query.sort.map(Sort::as_str).unwrap_or_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::types::{Product, ProductId};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn product(id: i64, category: &str, material: &str, price_cents: i64) -> Product {
        Product {
            id: ProductId::Number(id),
            sku: format!("SKU-{id}"),
            name: format!("Product {id}"),
            category: category.into(),
            material: material.into(),
            price_cents,
        }
    }

    fn page(items: Vec<Product>) -> ProductPage {
        let total = items.len() as u64;
        ProductPage {
            items,
            page: 1,
            per_page: 20,
            total,
            total_pages: 1,
        }
    }

    #[test]
    fn random_searches_use_the_vocabulary_and_consistent_filters() {
        let mut rng = StdRng::seed_from_u64(3);
        let categories = vec!["kitchen".to_owned(), "garden".to_owned()];
        let mut saw = (false, false, false);
        for _ in 0..2000 {
            let query = random_search(&mut rng, &categories);
            if let Some(q) = &query.q {
                assert!(q.split(' ').all(|w| VOCABULARY.contains(&w)), "{q}");
                saw.0 = true;
            }
            if let Some(category) = &query.category {
                assert!(categories.contains(category));
                saw.1 = true;
            }
            if let (Some(min), Some(max)) = (query.min_price_cents, query.max_price_cents) {
                assert!(min < max, "{min} >= {max}");
                saw.2 = true;
            }
            assert_eq!(query.page, None);
        }
        assert_eq!(saw, (true, true, true));
    }

    #[test]
    fn without_categories_no_category_filter_is_made_up() {
        let mut rng = StdRng::seed_from_u64(5);
        assert!((0..500).all(|_| random_search(&mut rng, &[]).category.is_none()));
    }

    #[test]
    fn pairs_hold_exactly_the_set_parameters() {
        let query = SearchQuery {
            q: Some("vase".into()),
            max_price_cents: Some(3000),
            sort: Some(Sort::PriceDesc),
            ..SearchQuery::default()
        };
        assert_eq!(
            query.pairs(),
            vec![
                ("q", "vase".to_owned()),
                ("max_price_cents", "3000".to_owned()),
                ("sort", "price_desc".to_owned())
            ]
        );
        assert_eq!(query.next_page().page, Some(2));
        assert_eq!(query.next_page().next_page().page, Some(3));
    }

    #[test]
    fn empty_searches_are_nonsense_words() {
        let mut rng = StdRng::seed_from_u64(1);
        let query = empty_search(&mut rng);
        let q = query.q.unwrap();
        assert!(q.starts_with("qzxv") && !VOCABULARY.contains(&q.as_str()));
    }

    #[test]
    fn pages_that_honour_the_query_pass() {
        let query = SearchQuery {
            category: Some("Kitchen".into()),
            material: Some("PLA"),
            min_price_cents: Some(500),
            max_price_cents: Some(1500),
            sort: Some(Sort::PriceAsc),
            ..SearchQuery::default()
        };
        let result = page(vec![
            product(1, "kitchen", "pla", 500),
            product(2, "Kitchen", "PLA", 1500),
        ]);
        assert_eq!(check_page(&query, &result), Ok(()));
    }

    #[test]
    fn filter_and_sort_violations_are_wrong_results() {
        let by_price = SearchQuery {
            max_price_cents: Some(1000),
            ..SearchQuery::default()
        };
        assert!(matches!(
            check_page(&by_price, &page(vec![product(1, "a", "PLA", 1001)])),
            Err(PageProblem::Wrong(_))
        ));
        let by_material = SearchQuery {
            material: Some("ABS"),
            ..SearchQuery::default()
        };
        assert!(matches!(
            check_page(&by_material, &page(vec![product(1, "a", "PLA", 10)])),
            Err(PageProblem::Wrong(_))
        ));
        let descending = SearchQuery {
            sort: Some(Sort::PriceDesc),
            ..SearchQuery::default()
        };
        let unsorted = page(vec![product(1, "a", "PLA", 10), product(2, "a", "PLA", 20)]);
        assert!(matches!(
            check_page(&descending, &unsorted),
            Err(PageProblem::Wrong(_))
        ));
    }

    #[test]
    fn wrong_page_numbers_and_overfull_pages_are_shape_problems() {
        let second = SearchQuery::default().next_page();
        assert!(matches!(
            check_page(&second, &page(vec![])),
            Err(PageProblem::Shape(_))
        ));
        let mut overfull = page(vec![product(1, "a", "PLA", 1), product(2, "a", "PLA", 2)]);
        overfull.per_page = 1;
        assert!(matches!(
            check_page(&SearchQuery::default(), &overfull),
            Err(PageProblem::Shape(_))
        ));
    }
}
