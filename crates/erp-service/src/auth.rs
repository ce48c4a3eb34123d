//! Who may call what. `--api-token`: when set, every write route needs
//! `Authorization: Bearer <token>` (401 otherwise); reads stay open.
//! `--admin-token`: the routes under `/admin/` (read-model rebuilds,
//! dead-letter redrives) answer only to it, and are refused (403
//! `admin_disabled`) while it is unset: closed unless configured, like
//! Redis's protected mode. Tokens are compared in constant time and never
//! logged.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
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

/// The prefix every operator-only route lives under.
pub const ADMIN_PREFIX: &str = "/admin/";

/// The tokens a service checks; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Required on every write outside `/admin/`; `None` leaves them open.
    pub api: Option<ApiToken>,
    /// Required on `/admin/`; `None` disables those routes.
    pub admin: Option<ApiToken>,
}

impl Access {
    /// What `req` lacks to pass, as the error to answer; `None` lets it in.
    fn refusal(
        &self,
        method: &Method,
        path: &str,
        headers: &axum::http::HeaderMap,
    ) -> Option<ApiError> {
        let presented = headers.get(header::AUTHORIZATION);
        if path.starts_with(ADMIN_PREFIX) {
            return match &self.admin {
                None => Some(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "admin_disabled",
                    "admin routes are disabled; start the service with --admin-token to enable them",
                )),
                Some(t) if !t.authorizes(presented) => Some(unauthorized("--admin-token")),
                Some(_) => None,
            };
        }
        match &self.api {
            Some(t) if is_write(method) && !t.authorizes(presented) => {
                Some(unauthorized("--api-token"))
            }
            _ => None,
        }
    }
}

/// The warning a service logs at start when it listens beyond loopback with
/// no `--api-token`: anyone who can reach it may then write.
pub fn exposure_warning(addrs: &[std::net::SocketAddr], access: &Access) -> Option<String> {
    if access.api.is_some() {
        return None;
    }
    let exposed: Vec<String> = addrs
        .iter()
        .filter(|a| !a.ip().is_loopback())
        .map(ToString::to_string)
        .collect();
    (!exposed.is_empty()).then(|| {
        format!(
            "listening on {} with no --api-token: anyone who can reach this address may \
             create, buy and sell; set --api-token (ERP_API_TOKEN) or bind to 127.0.0.1",
            exposed.join(", ")
        )
    })
}

/// Logs [`exposure_warning`] at WARN, if there is one.
pub fn warn_if_exposed(addrs: &[std::net::SocketAddr], access: &Access) {
    if let Some(w) = exposure_warning(addrs, access) {
        tracing::warn!("{w}");
    }
}

fn unauthorized(which: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("this route needs Authorization: Bearer <the service's {which}>"),
    )
}

/// The token check of [`Access`] as a tower layer: a refused request is
/// answered here (401 with `WWW-Authenticate: Bearer`, or 403 for disabled
/// admin routes) and never reaches the route. Written as a plain tower
/// service rather than `axum::middleware::from_fn`, which boxes a future,
/// a `Next` and a clone of the inner route on every request.
#[derive(Debug, Clone, Default)]
pub struct GuardLayer {
    access: Arc<Access>,
}

impl GuardLayer {
    /// Guards with `access`.
    pub fn new(access: Access) -> Self {
        Self {
            access: Arc::new(access),
        }
    }
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            access: Arc::clone(&self.access),
            inner,
        }
    }
}

/// The service of [`GuardLayer`].
#[derive(Debug, Clone)]
pub struct Guard<S> {
    access: Arc<Access>,
    inner: S,
}

impl<S> tower::Service<Request> for Guard<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        match self
            .access
            .refusal(req.method(), req.uri().path(), req.headers())
        {
            Some(refusal) => Either::Left(std::future::ready(Ok(refused(refusal)))),
            None => Either::Right(self.inner.call(req)),
        }
    }
}

fn refused(refusal: ApiError) -> Response {
    let unauthorized = refusal.status() == StatusCode::UNAUTHORIZED;
    let mut r = refusal.into_response();
    if unauthorized {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
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

    fn bearer(token: &str) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    fn code(access: &Access, method: Method, path: &str, token: &str) -> Option<&'static str> {
        access
            .refusal(&method, path, &bearer(token))
            .map(|e| e.code())
    }

    #[test]
    fn admin_routes_are_refused_until_an_admin_token_is_set() {
        let open = Access::default();
        assert_eq!(
            code(&open, Method::POST, "/admin/rebuild-read-models", ""),
            Some("admin_disabled")
        );
        assert_eq!(
            code(&open, Method::GET, "/admin/anything", ""),
            Some("admin_disabled")
        );
        assert_eq!(code(&open, Method::POST, "/purchases", ""), None);
        let api_only = Access {
            api: ApiToken::new("api"),
            admin: None,
        };
        assert_eq!(
            code(&api_only, Method::POST, "/admin/rebuild-read-models", "api"),
            Some("admin_disabled")
        );
    }

    #[test]
    fn only_an_open_service_beyond_loopback_is_warned_about() {
        let open = Access::default();
        let local: std::net::SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let any: std::net::SocketAddr = "0.0.0.0:50051".parse().unwrap();
        assert_eq!(exposure_warning(&[local], &open), None);
        let w = exposure_warning(&[local, any], &open).unwrap();
        assert!(
            w.contains("0.0.0.0:50051") && !w.contains("127.0.0.1:8081"),
            "{w}"
        );
        let guarded = Access {
            api: ApiToken::new("t"),
            admin: None,
        };
        assert_eq!(exposure_warning(&[any], &guarded), None);
    }

    #[test]
    fn admin_routes_take_the_admin_token_and_writes_the_api_token() {
        let both = Access {
            api: ApiToken::new("api"),
            admin: ApiToken::new("adm"),
        };
        let admin = "/admin/dead-letters/inventory.stock/redrive";
        assert_eq!(code(&both, Method::POST, admin, "adm"), None);
        assert_eq!(
            code(&both, Method::POST, admin, "api"),
            Some("unauthorized")
        );
        assert_eq!(code(&both, Method::POST, "/purchases", "api"), None);
        assert_eq!(
            code(&both, Method::POST, "/purchases", "adm"),
            Some("unauthorized")
        );
        assert_eq!(code(&both, Method::GET, "/purchases", ""), None);
    }
}
