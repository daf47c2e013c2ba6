//! Catalog search against the real, seeded catalog.

mod common;

use chrono::{DateTime, Utc};
use common::{assert_error, spawn_app, spawn_app_with};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items array")
}

fn text_of(item: &Value) -> String {
    format!("{} {}", item["name"], item["description"]).to_lowercase()
}

#[tokio::test]
async fn text_query_finds_matching_products() {
    let app = spawn_app().await;
    // Take a real product and search for a word of its name.
    let (status, first) = app
        .get("/catalog/products?sort=name&page=7&per_page=1")
        .await;
    assert_eq!(status, 200);
    let product = items(&first)[0].clone();
    let name = product["name"].as_str().unwrap();
    let word = name.split_whitespace().nth(1).unwrap().to_lowercase();

    let (status, page) = app
        .get(&format!("/catalog/products?q={word}&per_page=100"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["total"].as_i64().unwrap() > 0);
    for item in items(&page) {
        assert!(
            text_of(item).contains(&word),
            "{} does not mention {word}",
            item["name"]
        );
        assert!(item["relevance"].as_f64().unwrap() > 0.0);
    }

    // The full name finds the product itself, and it ranks first.
    let q: String = name.replace(' ', "+");
    let (status, page) = app
        .get(&format!("/catalog/products?q={q}&per_page=100"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(items(&page)[0]["id"], product["id"], "{page}");

    // User syntax never breaks the query, nor does a NUL (which PostgreSQL refuses in text).
    for q in [
        "%22unclosed",
        "-",
        "or+or+or",
        "a+%26+b+%7C+!c",
        "%3A*",
        "%00",
        "a%00b",
    ] {
        let (status, body) = app.get(&format!("/catalog/products?q={q}")).await;
        assert_eq!(status, 200, "q={q}: {body}");
    }
}

#[tokio::test]
async fn filters_hold_on_every_item_and_on_every_page() {
    let app = spawn_app().await;
    let (lo, hi) = (1500, 6000);
    let filter =
        format!("category=miniatures&material=RESIN&min_price_cents={lo}&max_price_cents={hi}");
    let mut seen = HashSet::new();
    let mut total = None;
    for page_no in 1.. {
        let (status, page) = app
            .get(&format!(
                "/catalog/products?{filter}&sort=price_asc&per_page=25&page={page_no}"
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let t = page["total"].as_i64().unwrap();
        assert_eq!(*total.get_or_insert(t), t, "total changed between pages");
        if items(&page).is_empty() {
            break;
        }
        for item in items(&page) {
            assert_eq!(item["category"], "miniatures");
            assert_eq!(item["material"], "RESIN");
            let price = item["base_price_cents"].as_i64().unwrap();
            assert!((lo..=hi).contains(&price), "price {price}");
            assert!(
                seen.insert(item["id"].as_str().unwrap().to_owned()),
                "repeated item"
            );
        }
    }
    let total = total.unwrap();
    assert!(total > 0);
    assert_eq!(seen.len() as i64, total);
    // An independent count straight from the table agrees.
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM products WHERE category = 'miniatures' AND material = 'RESIN' \
         AND base_price_cents BETWEEN $1 AND $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(total, expected);

    // Text and filters combine.
    let (status, page) = app
        .get("/catalog/products?q=dragon&category=miniatures&material=pla&per_page=100")
        .await;
    assert_eq!(status, 200);
    assert!(!items(&page).is_empty());
    for item in items(&page) {
        assert!(text_of(item).contains("dragon"));
        assert_eq!(
            (item["category"].as_str(), item["material"].as_str()),
            (Some("miniatures"), Some("PLA"))
        );
    }
}

fn assert_sorted<K: PartialOrd + std::fmt::Debug>(
    items: &[Value],
    key: impl Fn(&Value) -> K,
    descending: bool,
) {
    for pair in items.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        let ordered = if descending { a >= b } else { a <= b };
        assert!(ordered, "{a:?} then {b:?}");
        if a == b {
            // Ties are broken by id, ascending.
            assert!(
                pair[0]["id"].as_str() < pair[1]["id"].as_str(),
                "tie not broken by id"
            );
        }
    }
}

#[tokio::test]
async fn every_sort_order_is_sorted() {
    let app = spawn_app().await;
    let fetch = |sort: &'static str, extra: &'static str| {
        let app = &app;
        async move {
            let (status, page) = app
                .get(&format!(
                    "/catalog/products?sort={sort}&per_page=100{extra}"
                ))
                .await;
            assert_eq!(status, 200, "{page}");
            let items = items(&page).clone();
            assert_eq!(items.len(), 100);
            items
        }
    };
    let price = |v: &Value| v["base_price_cents"].as_i64().unwrap();
    assert_sorted(&fetch("price_asc", "").await, price, false);
    assert_sorted(&fetch("price_desc", "&category=tools").await, price, true);
    assert_sorted(
        &fetch("name", "").await,
        |v| v["name"].as_str().unwrap().to_owned(),
        false,
    );
    let created = |v: &Value| {
        v["created_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    assert_sorted(&fetch("newest", "").await, created, true);
    let relevance = |v: &Value| v["relevance"].as_f64().unwrap();
    let by_relevance = fetch("relevance", "&q=holder+OR+hook").await;
    assert_sorted(&by_relevance, relevance, true);
    // Words with another order: sorted by it, every hit still with its relevance, the same
    // score a product has in the relevance order (the rank is computed for the page only).
    let by_price = fetch("price_asc", "&q=holder+OR+hook").await;
    assert_sorted(&by_price, price, false);
    let mut shared = 0;
    for hit in &by_price {
        assert!(relevance(hit) > 0.0, "{hit}");
        if let Some(same) = by_relevance.iter().find(|v| v["id"] == hit["id"]) {
            assert_eq!(relevance(same), relevance(hit));
            shared += 1;
        }
    }
    assert!(shared > 0, "no product in both pages to compare");
    // Without q, relevance falls back to name order.
    assert_eq!(fetch("relevance", "").await, fetch("name", "").await);
    // The newest product really is the newest one in the table.
    let newest: DateTime<Utc> = sqlx::query_scalar("SELECT max(created_at) FROM products")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(created(&fetch("newest", "").await[0]), newest);
}

#[tokio::test]
async fn pages_are_disjoint_and_totals_consistent() {
    let app = spawn_app().await;
    let per_page = 7;
    let base = format!("/catalog/products?q=bracket&sort=price_desc&per_page={per_page}");
    let (_, p1) = app.get(&format!("{base}&page=1")).await;
    let (_, p2) = app.get(&format!("{base}&page=2")).await;
    let ids = |p: &Value| -> HashSet<String> {
        items(p)
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&p1).len(), per_page);
    assert!(ids(&p1).is_disjoint(&ids(&p2)));
    let total = p1["total"].as_i64().unwrap();
    assert_eq!(p2["total"], total);
    let total_pages = p1["total_pages"].as_i64().unwrap();
    assert_eq!(total_pages, (total + per_page as i64 - 1) / per_page as i64);
    assert_eq!(
        (p1["page"].as_i64(), p1["per_page"].as_i64()),
        (Some(1), Some(per_page as i64))
    );

    // The last page holds the remainder; the one after it is empty but keeps the total.
    let (_, last) = app.get(&format!("{base}&page={total_pages}")).await;
    let remainder = total - (total_pages - 1) * per_page as i64;
    assert_eq!(items(&last).len() as i64, remainder);
    let (status, past) = app.get(&format!("{base}&page={}", total_pages + 1)).await;
    assert_eq!(status, 200);
    assert!(items(&past).is_empty());
    assert_eq!(past["total"], total);
}

#[tokio::test]
async fn an_empty_result_is_a_200_with_total_zero() {
    let app = spawn_app().await;
    let (status, page) = app.get("/catalog/products?q=xylophonequartz").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 0);
    assert_eq!(page["total_pages"], 0);
    assert!(items(&page).is_empty());
    // Stop words only: nothing to match, still a clean 200.
    let (status, page) = app.get("/catalog/products?q=the+and").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 0);
    // A minimum above the maximum is an empty price range, not a mistake.
    let (status, page) = app
        .get("/catalog/products?min_price_cents=500&max_price_cents=100")
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_i64(), page["total_pages"].as_i64()),
        (Some(0), Some(0))
    );
    assert!(items(&page).is_empty());
}

#[tokio::test]
async fn the_documented_maxima_answer_and_never_overflow() {
    let app = spawn_app().await;
    // The last page allowed at the largest page size: far past the catalog, an empty page.
    let (status, page) = app.get("/catalog/products?page=10000&per_page=100").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["page"].as_i64(), page["per_page"].as_i64()),
        (Some(10_000), Some(100))
    );
    assert!(page["total"].as_i64().unwrap() > 0);
    assert!(items(&page).is_empty());
    // The largest prices there are.
    let max = i64::MAX;
    let (status, page) = app
        .get(&format!(
            "/catalog/products?min_price_cents={max}&max_price_cents={max}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn bad_parameters_are_4xx_naming_the_parameter() {
    let app = spawn_app().await;
    let long_q = "q".repeat(201);
    let cases: Vec<(String, u16, &str, &str)> = vec![
        ("per_page=0".into(), 422, "validation_failed", "per_page"),
        ("per_page=1000".into(), 422, "validation_failed", "per_page"),
        ("page=0".into(), 422, "validation_failed", "page"),
        ("page=abc".into(), 400, "invalid_query", "page"),
        ("per_page=-3".into(), 400, "invalid_query", "per_page"),
        ("sort=bogus".into(), 422, "validation_failed", "sort"),
        (
            "category=weapons".into(),
            422,
            "validation_failed",
            "category",
        ),
        ("material=wood".into(), 422, "validation_failed", "material"),
        // Above the documented maximum, or beyond any integer: 400 naming `page`.
        ("page=10001".into(), 400, "invalid_query", "page"),
        ("page=99999999999".into(), 400, "invalid_query", "page"),
        (
            "page=999999999999999999999999".into(),
            400,
            "invalid_query",
            "page",
        ),
        ("page=1&page=2".into(), 400, "invalid_query", "page"),
        (
            "min_price_cents=-1".into(),
            422,
            "validation_failed",
            "min_price_cents",
        ),
        (
            "max_price_cents=ten".into(),
            400,
            "invalid_query",
            "max_price_cents",
        ),
        (format!("q={long_q}"), 422, "validation_failed", "q"),
    ];
    for (query, status, code, field) in cases {
        let got = app.get(&format!("/catalog/products?{query}")).await;
        assert_error(&got, status, code, Some(field));
    }
    // Unknown values list the allowed ones.
    let (_, body) = app.get("/catalog/products?sort=bogus").await;
    assert!(
        body["message"].as_str().unwrap().contains("price_asc"),
        "{body}"
    );
    let (_, body) = app.get("/catalog/products?category=weapons").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("replacement-parts"),
        "{body}"
    );
}

#[tokio::test]
async fn product_by_id_and_categories() {
    let app = spawn_app().await;
    let (_, page) = app.get("/catalog/products?sort=newest&per_page=1").await;
    let product = &items(&page)[0];
    let (status, got) = app
        .get(&format!(
            "/catalog/products/{}",
            product["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    for key in [
        "id",
        "sku",
        "name",
        "category",
        "material",
        "shape",
        "base_price_cents",
        "height_mm",
    ] {
        assert_eq!(got[key], product[key], "{key}");
    }
    let unknown = app
        .get(&format!("/catalog/products/{}", uuid::Uuid::new_v4()))
        .await;
    assert_error(&unknown, 404, "product_not_found", None);

    let (status, cats) = app.get("/catalog/categories").await;
    assert_eq!(status, 200);
    let cats = cats.as_array().unwrap();
    assert_eq!(cats.len(), 10);
    let sum: i64 = cats
        .iter()
        .map(|c| c["product_count"].as_i64().unwrap())
        .sum();
    let (_, all) = app.get("/catalog/products?per_page=1").await;
    assert_eq!(sum, all["total"].as_i64().unwrap());
    assert_eq!(sum, 12_000);
    for c in cats {
        let (_, page) = app
            .get(&format!(
                "/catalog/products?category={}&per_page=1",
                c["category"].as_str().unwrap()
            ))
            .await;
        assert_eq!(page["total"], c["product_count"]);
    }
}

/// A search that cannot finish (the table is locked by another session) answers 503
/// `search_timeout` after the configured statement timeout instead of hanging.
#[tokio::test]
async fn a_blocked_search_times_out_with_503() {
    let app = spawn_app_with(&[("SHOP_SEARCH_TIMEOUT_MS", "300".into())]).await;
    let mut locker = app.db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *locker)
        .await
        .unwrap();
    let started = Instant::now();
    let got = app
        .get("/catalog/products?q=knob&category=replacement-parts")
        .await;
    let elapsed = started.elapsed();
    assert_error(&got, 503, "search_timeout", None);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "answered before the timeout: {elapsed:?}"
    );
    locker.rollback().await.unwrap();
    // Once the lock is gone the same search works again.
    let (status, _) = app
        .get("/catalog/products?q=knob&category=replacement-parts")
        .await;
    assert_eq!(status, 200);
}
