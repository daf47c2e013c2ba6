//! HTTP handlers: thin adapters from requests to the domain functions, which carry the
//! tracing instrumentation and the logic.

pub mod catalog;
pub mod designs;
pub mod orders;

/// Every service route as (method, path), in the order the router declares them. The OpenAPI
/// test checks this list, the router and `openapi.json` against each other.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/catalog/products"),
    ("GET", "/catalog/products/{id}"),
    ("GET", "/catalog/categories"),
    ("POST", "/designs"),
    ("GET", "/designs/{id}"),
    ("POST", "/designs/{id}/edits"),
    ("GET", "/designs/{id}/edits"),
    ("POST", "/designs/{id}/versions"),
    ("GET", "/designs/{id}/versions"),
    ("GET", "/designs/{id}/versions/{version}"),
    ("GET", "/designs/{id}/versions/{version}/model"),
    ("GET", "/designs/{id}/saves"),
    ("POST", "/orders"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/status"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
];
