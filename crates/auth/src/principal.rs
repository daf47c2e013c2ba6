//! [`Principal`]: the verified caller of a request.

use crate::role::Role;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use printflow_web::ApiError;
use std::collections::HashSet;

/// Who sent a request, from a verified token. Put into the request's extensions by the guard;
/// a handler behind [`crate::RequireExt::require`] extracts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`: the person's (or service account's) stable id in the realm. Designs
    /// and orders belong to it.
    pub subject: String,
    /// The client the token was issued to (`azp`), e.g. `printflow-cli` or `shop-api`.
    pub client: Option<String>,
    /// `preferred_username`, for logs and display only (never for decisions).
    pub username: Option<String>,
    /// The realm roles printflow knows; others are dropped.
    pub roles: HashSet<Role>,
}

impl Principal {
    /// Whether the caller has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the caller has any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Whether the caller may see every customer's records (support and admin), rather than
    /// only its own.
    pub fn sees_all_customers(&self) -> bool {
        self.has_any(&[Role::Support, Role::Admin])
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    /// Only the guard puts a principal into a request: a handler outside every guard is refused
    /// rather than served anonymously.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            ApiError::internal("a handler asked for the caller on a route without an auth guard")
        })
    }
}
