//! The `Idempotency-Key` middleware for creating POST routes.
//!
//! The same key with the same JSON body (compared as JSON, not bytes) gets the
//! first answer again and creates nothing; with another body → 422
//! `idempotency_key_reused`; while the first request is still running → 409
//! `request_in_progress` with `Retry-After: 1`. Keys are scoped to the
//! route. Only final answers are remembered (2xx, and 4xx except 401 and 429):
//! after a 5xx the key is released so a retry is processed afresh.
//!
//! The remembered answer alone cannot prevent a double create: a request
//! whose deadline passes, whose client disconnects or whose process dies
//! after its write but before its answer is stored leaves the claim
//! unfinished, and once the claim's lease lapses a retry runs again. So the
//! handler gets the request's [`IdempotentRequest`] (a request extension)
//! and names the resource it creates with [`IdempotentRequest::derived_id`]:
//! every retry of one key writes under the same id, the store's unique id
//! refuses the second write, and the handler answers with the first
//! resource.

use std::{convert::Infallible, sync::Arc};

use axum::{
    body::Body,
    extract::{MatchedPath, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use erp_store::{Claim, IdempotencyStore, StoredResponse};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::{ApiError, body::read_limited};

/// The request header carrying the key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on answers replayed from the store.
pub const REPLAYED: &str = "idempotent-replayed";
/// The largest response body remembered.
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// The namespace of ids derived from idempotency keys (a fixed v4 UUID).
const KEY_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2a55_9d0e_4b7a_8c3e_51a2_e0d4_7b19);

/// The key of the request being processed, put in the request's
/// extensions by [`IdempotencyLayer`] when the request claimed its key; read it
/// with `Option<axum::Extension<IdempotentRequest>>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// `METHOD /route/template`: keys are scoped to their route.
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
}

impl IdempotentRequest {
    /// The id of what this request creates: a name-based (v5) UUID of scope
    /// and key, the same for every retry, distinct across keys and routes.
    pub fn derived_id(&self) -> uuid::Uuid {
        let name = format!("{}\n{}", self.scope, self.key);
        uuid::Uuid::new_v5(&KEY_NAMESPACE, name.as_bytes())
    }
}

/// The middleware, as a tower layer; install it on each creating route:
/// `post(handler).layer(IdempotencyLayer::new(store))`. A request without
/// the header goes straight to the route, at no cost beyond the header
/// look-up; only a keyed request takes the boxed, store-backed path.
#[derive(Clone)]
pub struct IdempotencyLayer {
    store: Arc<dyn IdempotencyStore>,
}

impl IdempotencyLayer {
    /// Remembers answers in `store`.
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Self {
        Self { store }
    }
}

impl std::fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer").finish_non_exhaustive()
    }
}

impl<S> tower::Layer<S> for IdempotencyLayer {
    type Service = Idempotency<S>;

    fn layer(&self, inner: S) -> Idempotency<S> {
        Idempotency {
            store: Arc::clone(&self.store),
            inner,
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Clone)]
pub struct Idempotency<S> {
    store: Arc<dyn IdempotencyStore>,
    inner: S,
}

impl<S> std::fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency").finish_non_exhaustive()
    }
}

impl<S> tower::Service<Request> for Idempotency<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<
        S::Future,
        std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        let Some(raw_key) = req.headers().get(IDEMPOTENCY_KEY).cloned() else {
            return Either::Left(self.inner.call(req));
        };
        // The keyed path awaits the store before it calls the route, so it
        // takes the service that was made ready and leaves a clone behind.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let store = Arc::clone(&self.store);
        Either::Right(Box::pin(async move {
            Ok(match handle(store.as_ref(), &raw_key, req, inner).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            })
        }))
    }
}

/// The longest accepted key.
pub const KEY_MAX_LEN: usize = 255;
/// A key: visible ASCII (`!` to `~`), the rule the middleware checks.
pub const KEY_PATTERN: &str = "^[!-~]+$";

/// The `Idempotency-Key` header, as an OpenAPI parameter.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // documents what `valid_key` reads
pub struct IdempotencyKeyHeader {
    #[param(rename = "Idempotency-Key", schema_with = key_schema)]
    idempotency_key: Option<String>,
}

fn key_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(KEY_MAX_LEN))
        .pattern(Some(KEY_PATTERN))
        .description(Some(
            "replays the first answer for the same body; another body → 422 `idempotency_key_reused`",
        ))
        .build()
}

fn valid_key(raw: &HeaderValue) -> Result<String, ApiError> {
    raw.to_str()
        .ok()
        .filter(|k| (1..=KEY_MAX_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })
}

/// What was already created under `id`, the id a keyed request derived:
/// a retry whose first try wrote but never answered finds it here and
/// answers with it, without running the command again.
pub async fn already_created<T: Send + Sync + 'static>(
    store: &dyn erp_store::WriteStore<T>,
    id: &str,
) -> Result<Option<T>, ApiError> {
    Ok(store.get(id).await?.map(|v| v.value))
}

/// The answer of a create under `id`: when the request was keyed and the
/// write lost to a concurrent try of the same key (the id was taken), that
/// try's resource, so neither caller sees an error and only one exists.
pub async fn settle_create<T, E>(
    store: &dyn erp_store::WriteStore<T>,
    id: &str,
    keyed: bool,
    result: Result<T, erp_bus::relay::CreateError<E>>,
) -> Result<T, ApiError>
where
    T: Send + Sync + 'static,
    E: std::fmt::Display,
{
    match result {
        Err(erp_bus::relay::CreateError::Store(erp_store::StoreError::Conflict(_))) if keyed => {
            already_created(store, id).await?.ok_or_else(|| {
                ApiError::internal(format!("{id} conflicted on insert but cannot be read"))
            })
        }
        other => other.map_err(ApiError::from),
    }
}

/// A request that carries `raw_key` in its `Idempotency-Key` header.
async fn handle<S>(
    store: &dyn IdempotencyStore,
    raw_key: &HeaderValue,
    req: Request,
    inner: S,
) -> Result<Response, ApiError>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let key = valid_key(raw_key)?;
    let scope = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or_else(|| req.uri().path(), MatchedPath::as_str)
    );
    let (parts, body) = req.into_parts();
    let bytes = read_limited(body).await?;
    let fingerprint = fingerprint(&bytes);

    match store.claim(&scope, &key, &fingerprint).await? {
        Claim::Replay(stored) => Ok(replay(stored)),
        Claim::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )
        .with_detail("Idempotency-Key", "already used with a different body")),
        Claim::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "request_in_progress",
            "a request with this Idempotency-Key is still being processed",
        )
        .with_retry_after(1)),
        Claim::Acquired => {
            let mut parts = parts;
            parts.extensions.insert(IdempotentRequest {
                scope: scope.clone(),
                key: key.clone(),
            });
            let response = inner
                .oneshot(Request::from_parts(parts, Body::from(bytes)))
                .await
                .unwrap_or_else(|e| match e {});
            Ok(remember(store, &scope, &key, response).await)
        }
    }
}

async fn remember(
    store: &dyn IdempotencyStore,
    scope: &str,
    key: &str,
    response: Response,
) -> Response {
    let status = response.status();
    let is_final = status.is_success()
        || (status.is_client_error()
            && status != StatusCode::UNAUTHORIZED
            && status != StatusCode::TOO_MANY_REQUESTS);
    if !is_final {
        if let Err(e) = store.release(scope, key).await {
            tracing::warn!(error = %e, "could not release an idempotency key; it lapses with its lease");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, RESPONSE_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store.release(scope, key).await;
            return ApiError::internal(format!("response body unreadable: {e}")).into_response();
        }
    };
    let stored = StoredResponse {
        status: status.as_u16(),
        body: bytes.to_vec(),
        location: parts
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if let Err(e) = store.complete(scope, key, stored).await {
        // The answer stands; only its replay is lost. The claim lapses with
        // its lease, after which a retry would be processed again.
        tracing::warn!(error = %e, "could not store an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    if let Some(loc) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, loc);
    }
    response
}

/// SHA-256 of the body's canonical JSON (keys sorted, no whitespace), or of
/// its raw bytes when it is not JSON, so `{"a":1,"b":2}` and
/// `{ "b": 2, "a": 1 }` count as the same request.
pub fn fingerprint(body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let mut canonical = String::with_capacity(body.len());
            write_canonical(&v, &mut canonical);
            hasher.update(b"json:");
            hasher.update(canonical.as_bytes());
        }
        Err(_) => {
            hasher.update(b"raw:");
            hasher.update(body);
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// Written by hand rather than relying on serde_json's map order: that order
// changes if any crate in the build enables serde_json's `preserve_order`.
fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_per_key_and_distinct_across_keys_and_routes() {
        let req = |scope: &str, key: &str| IdempotentRequest {
            scope: scope.into(),
            key: key.into(),
        };
        let a = req("POST /purchases", "k1").derived_id();
        assert_eq!(a, req("POST /purchases", "k1").derived_id());
        assert_ne!(a, req("POST /purchases", "k2").derived_id());
        assert_ne!(a, req("POST /sales", "k1").derived_id());
        assert_eq!(a.get_version(), Some(uuid::Version::Sha1));
    }

    #[test]
    fn equal_json_has_equal_fingerprints() {
        assert_eq!(
            fingerprint(br#"{"a":1,"b":[{"y":2,"x":1}]}"#),
            fingerprint(br#" { "b" : [ {"x":1, "y":2} ], "a": 1 } "#)
        );
        assert_ne!(fingerprint(br#"{"a":1}"#), fingerprint(br#"{"a":2}"#));
        assert_ne!(fingerprint(b"{oops"), fingerprint(b"{oops!"));
    }

    use std::sync::atomic::{AtomicU16, Ordering};

    use axum::{Router, routing::post};
    use erp_store::memory::MemoryIdempotency;
    use tower::ServiceExt;

    /// A route answering the statuses of `answers` in turn.
    fn app(answers: &'static [u16], calls: &'static AtomicU16) -> Router {
        let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryIdempotency::default());
        Router::new().route(
            "/things",
            post(move || async move {
                let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
                let status = StatusCode::from_u16(answers[n.min(answers.len() - 1)]).unwrap();
                (status, format!("{{\"answer\":{n}}}"))
            })
            .layer(IdempotencyLayer::new(store)),
        )
    }

    async fn send(app: &Router, key: &str) -> (StatusCode, String) {
        let req = Request::post("/things")
            .header(IDEMPOTENCY_KEY, key)
            .body(Body::from(r#"{"a":1}"#))
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_5xx_is_not_remembered_so_the_retry_runs_again() {
        static CALLS: AtomicU16 = AtomicU16::new(0);
        let app = app(&[503, 201], &CALLS);
        assert_eq!(send(&app, "k").await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            send(&app, "k").await,
            (StatusCode::CREATED, r#"{"answer":1}"#.into())
        );
        assert_eq!(
            send(&app, "k").await,
            (StatusCode::CREATED, r#"{"answer":1}"#.into()),
            "now replayed"
        );
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_401_or_429_is_not_remembered_but_other_4xx_are() {
        static CALLS: AtomicU16 = AtomicU16::new(0);
        let app = app(&[401, 429, 409, 201], &CALLS);
        assert_eq!(send(&app, "k").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(send(&app, "k").await.0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(send(&app, "k").await.0, StatusCode::CONFLICT);
        assert_eq!(
            send(&app, "k").await.0,
            StatusCode::CONFLICT,
            "the 409 is final and replayed"
        );
        assert_eq!(CALLS.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn keys_must_be_visible_ascii() {
        assert!(valid_key(&HeaderValue::from_static("abc-123")).is_ok());
        assert!(valid_key(&HeaderValue::from_static("")).is_err());
        assert!(valid_key(&HeaderValue::from_static("a b")).is_err());
        let long = "k".repeat(256);
        assert!(valid_key(&HeaderValue::from_str(&long).unwrap()).is_err());
    }
}
