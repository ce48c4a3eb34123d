//! `--api-token`: when set, every write route needs
//! `Authorization: Bearer <token>` (401 otherwise); reads stay open.
//! Tokens are compared in constant time and never logged.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// A secret bearer token. Its `Debug` output is redacted.
#[derive(Clone)]
pub struct ApiToken(Arc<str>);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl ApiToken {
    /// Wraps a configured token; `None` for an empty one.
    pub fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self(Arc::from(token)))
    }

    /// Whether `presented` is this token, in constant time.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    /// Whether an `Authorization` header value carries this token.
    pub fn authorizes(&self, header: Option<&HeaderValue>) -> bool {
        header
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .is_some_and(|t| self.matches(t))
    }

    /// The `Authorization` header value clients send.
    pub fn bearer(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        v.set_sensitive(true);
        v
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware; install with
/// `layer(axum::middleware::from_fn_with_state(token, require_token))`.
pub async fn require_token(State(token): State<ApiToken>, req: Request, next: Next) -> Response {
    if is_write(req.method()) && !token.authorizes(req.headers().get(header::AUTHORIZATION)) {
        let mut r = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs Authorization: Bearer <token>",
        )
        .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_authorizes() {
        let t = ApiToken::new("s3cret").unwrap();
        assert!(t.authorizes(Some(&HeaderValue::from_static("Bearer s3cret"))));
        for bad in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "bearer s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(!t.authorizes(Some(&HeaderValue::from_static(bad))), "{bad}");
        }
        assert!(!t.authorizes(None));
        assert!(ApiToken::new("").is_none());
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
