//! [`Auth`] and the middleware that puts it in front of routes.

use crate::metrics::AuthMetrics;
use crate::principal::Principal;
use crate::role::Role;
use crate::settings::AuthSettings;
use crate::verify::{Rejection, Verifier};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use printflow_metrics::Metrics;
use printflow_web::ApiError;
use std::sync::Arc;

/// One service's authentication: its verifier and refusal counter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Shared state.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Checks tokens.
    verifier: Verifier,
    /// Counts refusals.
    metrics: AuthMetrics,
}

impl Auth {
    /// Authentication for `service` (its name in the refusal counter), registering the counter
    /// in `metrics`.
    pub fn new(settings: &AuthSettings, service: &'static str, metrics: &Metrics) -> Auth {
        Auth {
            inner: Arc::new(Inner {
                verifier: Verifier::new(settings),
                metrics: AuthMetrics::register(metrics, service),
            }),
        }
    }

    /// The caller of a request with `headers`, if it has one of `roles` (any verified caller
    /// when `roles` is empty).
    pub async fn authorise(
        &self,
        headers: &HeaderMap,
        roles: &[Role],
    ) -> Result<Principal, Rejection> {
        let token = bearer(headers)?;
        let principal = self.inner.verifier.verify(token).await?;
        permit(&principal, roles)?;
        Ok(principal)
    }

    /// Counts and logs a refusal and renders it.
    fn refuse(&self, rejection: Rejection, req: &Request) -> Response {
        self.refused(rejection, req.method().as_str(), req.uri().path());
        render(rejection)
    }

    /// Counts and logs a refusal of a request that did not go through [`RequireExt::require`]
    /// (a gRPC call checked with [`Auth::authorise`]): `method` and `path` say what was asked.
    pub fn refused(&self, rejection: Rejection, method: &str, path: &str) {
        self.inner.metrics.refused(rejection);
        // The path, not the token nor any header: enough to find the caller in the trace.
        tracing::info!(reason = rejection.reason(), method, path, "request refused");
    }
}

/// Puts [`Auth`] in front of a group of routes.
pub trait RequireExt {
    /// Every route added so far needs a verified caller with one of `roles` (any verified
    /// caller when empty); the handlers can extract its [`Principal`].
    #[must_use]
    fn require(self, auth: &Auth, roles: &'static [Role]) -> Self;
}

impl<S: Clone + Send + Sync + 'static> RequireExt for Router<S> {
    fn require(self, auth: &Auth, roles: &'static [Role]) -> Self {
        self.route_layer(axum::middleware::from_fn_with_state(
            (auth.clone(), roles),
            guard,
        ))
    }
}

/// Verifies once per request: an inner guard (a role check on a route group inside an
/// authenticated router) finds the principal an outer one put there.
async fn guard(
    State((auth, roles)): State<(Auth, &'static [Role])>,
    mut req: Request,
    next: Next,
) -> Response {
    let checked = match req.extensions().get::<Principal>() {
        Some(principal) => permit(principal, roles).map(|()| principal.clone()),
        None => auth.authorise(req.headers(), roles).await,
    };
    match checked {
        Ok(principal) => {
            tracing::Span::current().record("enduser.id", principal.subject.as_str());
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(rejection) => auth.refuse(rejection, &req),
    }
}

fn permit(principal: &Principal, roles: &[Role]) -> Result<(), Rejection> {
    if roles.is_empty() || principal.has_any(roles) {
        Ok(())
    } else {
        Err(Rejection::Forbidden)
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750).
fn bearer(headers: &HeaderMap) -> Result<&str, Rejection> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Rejection::Missing)?
        .to_str()
        .map_err(|_| Rejection::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(Rejection::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Rejection::Malformed);
    }
    Ok(token)
}

/// 401 with a `WWW-Authenticate` challenge (RFC 6750 section 3), 403, or 503; the body is the
/// usual JSON error.
fn render(rejection: Rejection) -> Response {
    let (status, code, challenge) = match rejection {
        Rejection::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            Some(r#"Bearer realm="printflow""#.to_owned()),
        ),
        Rejection::Forbidden => (
            StatusCode::FORBIDDEN,
            "forbidden",
            Some(r#"Bearer realm="printflow", error="insufficient_scope""#.to_owned()),
        ),
        Rejection::KeysUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
            None,
        ),
        other => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some(format!(
                r#"Bearer realm="printflow", error="invalid_token", error_description="{}""#,
                other.reason()
            )),
        ),
    };
    let mut resp = ApiError::new(status, code, rejection.description()).into_response();
    // The challenge is built from static text and a reason label: always a valid header value.
    if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer(&headers("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer(&headers("bearer abc")), Ok("abc"));
        assert_eq!(bearer(&HeaderMap::new()), Err(Rejection::Missing));
        assert_eq!(
            bearer(&headers("Basic dXNlcjpwYXNz")),
            Err(Rejection::Missing)
        );
        assert_eq!(bearer(&headers("Bearer")), Err(Rejection::Malformed));
        assert_eq!(bearer(&headers("Bearer  ")), Err(Rejection::Malformed));
    }

    #[test]
    fn refusals_render_with_a_challenge_and_no_secret() {
        let r = render(Rejection::Missing);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="printflow""#
        );
        let r = render(Rejection::Expired);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#));
        let r = render(Rejection::Forbidden);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = render(Rejection::KeysUnavailable);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
