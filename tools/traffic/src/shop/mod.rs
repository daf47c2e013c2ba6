//! The Shop API client: one method per endpoint, every answer classified as accepted,
//! rejected (4xx in the error shape) or a [`Failure`].

pub mod search_query;
pub mod types;

use crate::outcome::{Failure, FailureKind, Rejection};
use printflow_auth::{ClientSettings, ServiceToken};
use printflow_contracts::orders::StatusView;
use search_query::SearchQuery;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use types::{
    CategoryCount, Design, EditOp, EditRequest, OrderRequest, OrderSummary, Product, ProductId,
    ProductPage, SavedVersion,
};
use uuid::Uuid;

/// Endpoint templates, used to label failures (ids left out so failures group together).
pub mod endpoint {
    /// Catalog search.
    pub const SEARCH: &str = "GET /catalog/products";
    /// Category list.
    pub const CATEGORIES: &str = "GET /catalog/categories";
    /// One product.
    pub const PRODUCT: &str = "GET /catalog/products/{id}";
    /// New design.
    pub const CREATE_DESIGN: &str = "POST /designs";
    /// Design edit.
    pub const EDIT_DESIGN: &str = "POST /designs/{id}/edits";
    /// Design save.
    pub const SAVE_DESIGN: &str = "POST /designs/{id}/versions";
    /// Order placement.
    pub const PLACE_ORDER: &str = "POST /orders";
    /// One order.
    pub const ORDER: &str = "GET /orders/{id}";
    /// An order's status.
    pub const ORDER_STATUS: &str = "GET /orders/{id}/status";
}

/// How Shop answered a request that reached it and made sense.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    /// 2xx with the expected body.
    Accepted(T),
    /// 4xx with the shared error body.
    Rejected(Rejection),
}

impl<T> Reply<T> {
    /// The body, for a request built to be valid: a rejection is a failure.
    pub fn expect_accepted(self, endpoint: &'static str) -> Result<T, Failure> {
        match self {
            Reply::Accepted(body) => Ok(body),
            Reply::Rejected(rejection) => Err(rejection.unexpected(endpoint)),
        }
    }
}

/// The error body every Shop endpoint answers 4xx/5xx with. `message` is deliberately not
/// read: it may echo what was sent (an e-mail address), and we log what we keep.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    /// Machine-readable code.
    code: String,
    /// The field at fault.
    #[serde(default)]
    field: Option<String>,
}

/// Talks to one Shop instance.
#[derive(Debug, Clone)]
pub struct ShopClient {
    /// Client with the per-request deadline.
    http: reqwest::Client,
    /// Base URL without a trailing slash.
    base: String,
    /// The generator's own token (client credentials), sent with every request; `None` runs
    /// anonymously (catalog only).
    token: Option<Arc<ServiceToken>>,
}

impl ShopClient {
    /// A client for the Shop at `base_url` whose requests give up after `timeout`, with a
    /// token from `client` when given.
    pub fn new(base_url: &str, timeout: Duration, client: Option<ClientSettings>) -> Self {
        ShopClient {
            http: printflow_web::client::http_client(timeout),
            base: base_url.trim_end_matches('/').to_owned(),
            token: client.map(|c| Arc::new(ServiceToken::new(c))),
        }
    }

    /// The base URL, for messages.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /readyz`: `Ok` when Shop is ready, otherwise why not.
    pub async fn ready(&self) -> Result<(), String> {
        let resp = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .map_err(transport_reason)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        // The readiness body names failing dependencies (database, broker): worth showing.
        let body = resp.text().await.unwrap_or_default();
        Err(format!("HTTP {} {}", status.as_u16(), body.trim()))
    }

    /// Catalog search.
    pub async fn search(&self, query: &SearchQuery) -> Result<Reply<ProductPage>, Failure> {
        let req = self
            .http
            .get(format!("{}/catalog/products", self.base))
            .query(&query.pairs());
        self.send(endpoint::SEARCH, req).await
    }

    /// Category list.
    pub async fn categories(&self) -> Result<Reply<Vec<CategoryCount>>, Failure> {
        let req = self.http.get(format!("{}/catalog/categories", self.base));
        self.send(endpoint::CATEGORIES, req).await
    }

    /// One product.
    pub async fn product(&self, id: &ProductId) -> Result<Reply<Product>, Failure> {
        let req = self
            .http
            .get(format!("{}/catalog/products/{id}", self.base));
        self.send(endpoint::PRODUCT, req).await
    }

    /// Starts a design from a product.
    pub async fn create_design(&self, product_id: &ProductId) -> Result<Reply<Design>, Failure> {
        let req = self
            .http
            .post(format!("{}/designs", self.base))
            .json(&serde_json::json!({ "product_id": product_id }));
        self.send(endpoint::CREATE_DESIGN, req).await
    }

    /// Applies edit operations to a design.
    pub async fn edit_design(
        &self,
        design_id: Uuid,
        operations: &[EditOp],
    ) -> Result<Reply<Design>, Failure> {
        let req = self
            .http
            .post(format!("{}/designs/{design_id}/edits", self.base))
            .json(&EditRequest { operations });
        self.send(endpoint::EDIT_DESIGN, req).await
    }

    /// Saves the design's current state as a new version.
    pub async fn save_design(&self, design_id: Uuid) -> Result<Reply<SavedVersion>, Failure> {
        // An empty JSON object rather than no body, so a JSON extractor on Shop's side is
        // satisfied either way.
        let req = self
            .http
            .post(format!("{}/designs/{design_id}/versions", self.base))
            .json(&serde_json::json!({}));
        self.send(endpoint::SAVE_DESIGN, req).await
    }

    /// Places an order.
    pub async fn place_order(&self, order: &OrderRequest) -> Result<Reply<OrderSummary>, Failure> {
        let req = self.http.post(format!("{}/orders", self.base)).json(order);
        self.send(endpoint::PLACE_ORDER, req).await
    }

    /// One order.
    pub async fn order(&self, order_id: Uuid) -> Result<Reply<OrderSummary>, Failure> {
        let req = self.http.get(format!("{}/orders/{order_id}", self.base));
        self.send(endpoint::ORDER, req).await
    }

    /// An order's status.
    pub async fn order_status(&self, order_id: Uuid) -> Result<Reply<StatusView>, Failure> {
        let req = self
            .http
            .get(format!("{}/orders/{order_id}/status", self.base));
        self.send(endpoint::ORDER_STATUS, req).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Reply<T>, Failure> {
        let (req, token) = match &self.token {
            Some(source) => {
                let token = source.bearer().await.map_err(|e| {
                    Failure::new(FailureKind::Transport, endpoint, format!("no token: {e}"))
                })?;
                (req.bearer_auth(&*token), Some((source, token)))
            }
            None => (req, None),
        };
        let resp = req.send().await.map_err(|e| transport(endpoint, e))?;
        let status = resp.status().as_u16();
        if let (401, Some((source, token))) = (status, &token) {
            // The next journey fetches a fresh token; this one reports the refusal.
            source.invalidate(token).await;
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport(endpoint, e).with_status(status))?;
        classify(endpoint, status, &body)
    }
}

/// Sorts an HTTP answer into accepted, rejected or failed. Pure, so the rules are tested
/// without a Shop.
pub fn classify<T: DeserializeOwned>(
    endpoint: &'static str,
    status: u16,
    body: &[u8],
) -> Result<Reply<T>, Failure> {
    match status {
        200..=299 => serde_json::from_slice(body)
            .map(Reply::Accepted)
            // Response types declare no personal field, so the parse error cannot quote one.
            .map_err(|e| {
                Failure::new(FailureKind::BadShape, endpoint, e.to_string()).with_status(status)
            }),
        400..=499 => match serde_json::from_slice::<ErrorBody>(body) {
            Ok(err) => Ok(Reply::Rejected(Rejection {
                status,
                code: err.code,
                field: err.field,
            })),
            Err(_) => Err(Failure::new(
                FailureKind::BadShape,
                endpoint,
                "error body is not {code, message, field}",
            )
            .with_status(status)),
        },
        500..=599 => {
            let detail = serde_json::from_slice::<ErrorBody>(body)
                .map(|err| format!("code {}", err.code))
                .unwrap_or_else(|_| "no error body".to_owned());
            Err(Failure::new(FailureKind::ServerError, endpoint, detail).with_status(status))
        }
        _ => Err(Failure::new(
            FailureKind::BadShape,
            endpoint,
            "unexpected HTTP status class",
        )
        .with_status(status)),
    }
}

fn transport(endpoint: &'static str, error: reqwest::Error) -> Failure {
    let kind = if error.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Transport
    };
    Failure::new(kind, endpoint, transport_reason(error))
}

/// A transport error's description without the URL, which holds search words and ids that
/// are already in the endpoint label or are noise in a log line.
fn transport_reason(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Thing {
        id: u32,
    }

    #[test]
    fn success_bodies_are_parsed_or_reported_as_bad_shape() {
        let ok: Reply<Thing> = classify("GET /x", 200, br#"{"id": 7, "extra": true}"#).unwrap();
        assert_eq!(ok, Reply::Accepted(Thing { id: 7 }));
        let bad = classify::<Thing>("GET /x", 201, br#"{"id": "seven"}"#).unwrap_err();
        assert_eq!(bad.kind, FailureKind::BadShape);
        assert_eq!(bad.status, Some(201));
        assert_eq!(bad.endpoint, "GET /x");
    }

    #[test]
    fn client_errors_are_rejections_without_the_message() {
        let body = br#"{"code": "validation_failed", "message": "customer-1@example.test is bad", "field": "customer.email"}"#;
        let reply = classify::<Thing>("POST /orders", 422, body).unwrap();
        let Reply::Rejected(rejection) = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(rejection.status, 422);
        assert_eq!(rejection.code, "validation_failed");
        assert_eq!(rejection.field.as_deref(), Some("customer.email"));
        let failure = rejection.unexpected("POST /orders");
        assert!(!failure.to_string().contains("example.test"), "{failure}");
    }

    #[test]
    fn client_errors_must_use_the_error_shape() {
        let failure = classify::<Thing>("GET /x", 404, b"Not Found").unwrap_err();
        assert_eq!(failure.kind, FailureKind::BadShape);
        assert_eq!(failure.status, Some(404));
    }

    #[test]
    fn server_errors_fail_with_their_code() {
        let failure = classify::<Thing>(
            "GET /x",
            503,
            br#"{"code": "request_timeout", "message": "m"}"#,
        )
        .unwrap_err();
        assert_eq!(failure.kind, FailureKind::ServerError);
        assert_eq!(failure.status, Some(503));
        assert_eq!(failure.detail, "code request_timeout");
        let bare = classify::<Thing>("GET /x", 502, b"").unwrap_err();
        assert_eq!(bare.kind, FailureKind::ServerError);
    }

    #[test]
    fn redirects_are_not_part_of_the_contract() {
        let failure = classify::<Thing>("GET /x", 302, b"").unwrap_err();
        assert_eq!(failure.kind, FailureKind::BadShape);
    }

    #[test]
    fn expect_accepted_turns_rejections_into_failures() {
        let rejected: Reply<Thing> = Reply::Rejected(Rejection {
            status: 409,
            code: "conflict".into(),
            field: None,
        });
        let failure = rejected.expect_accepted("POST /orders").unwrap_err();
        assert_eq!(failure.kind, FailureKind::UnexpectedRejection);
        assert_eq!(Reply::Accepted(1).expect_accepted("GET /x"), Ok(1));
    }
}
