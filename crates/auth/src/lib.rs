//! Who may call what: bearer tokens from the realm's identity provider (Keycloak), verified on
//! every protected route, and the client-credentials tokens services call each other with.
//!
//! - [`Auth`] verifies a request's `Authorization: Bearer` token ([`Verifier`]: RS256 only,
//!   keys from the realm's JWKS by `kid`, `iss`/`aud`/`exp`/`nbf` checked with a small leeway)
//!   and checks roles. A token that passed is trusted again until its expiry or a minute
//!   (`verified`), without another RSA check. [`RequireExt::require`] puts it in front of a group of routes;
//!   [`Principal`] is what a handler extracts to learn who calls (and to check ownership).
//! - A refusal is a [`Rejection`]: `401` with `WWW-Authenticate: Bearer error=...` for a missing
//!   or invalid token, `403` for a valid token without the role, `503` when the keys cannot be
//!   fetched. Each one moves `auth_failures_total{service, reason}` and logs one line without
//!   the token.
//! - [`ServiceToken`] fetches and caches a client-credentials token (refreshed shortly before it
//!   expires, and once when a call answers `401`); fetches are CLIENT spans.
//! - [`AuthSettings`] and [`ClientSettings`] read the settings under a service's prefix.
//!
//! Error types: handlers return `printflow_web::ApiError` (a [`Rejection`] converts into it);
//! [`TokenError`] is what fetching a service token fails with.
//!
//! Modules, top-down: `guard` (the axum middleware) uses `verify` and `metrics`; `verify` uses
//! `jwks` and `verified`; `service_token` and `settings`, `role`, `principal` use no sibling but `role`.

mod guard;
mod jwks;
mod metrics;
mod principal;
mod role;
mod service_token;
mod settings;
mod verified;
mod verify;

pub use guard::{Auth, RequireExt};
pub use jwks::KeySet;
pub use metrics::AuthMetrics;
pub use principal::Principal;
pub use role::Role;
pub use service_token::{SendError, ServiceToken, TokenError};
pub use settings::{AuthSettings, ClientSettings};
pub use verify::{Rejection, Verifier};
