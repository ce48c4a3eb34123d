//! The contract's error body: `{"error":{"code","message","details":[{"field","problem"}]}}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use erp_core::{FieldProblem, ValidationError};
use erp_store::StoreError;
use serde_json::json;

/// An error answer. Its message is written for API clients: internal causes
/// (driver errors, panics, paths) are logged, never put in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldProblem>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a stable machine-readable code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds per-field details.
    pub fn with_details(mut self, details: impl IntoIterator<Item = FieldProblem>) -> Self {
        self.details.extend(details);
        self
    }

    /// Adds one detail.
    pub fn with_detail(mut self, field: impl Into<String>, problem: impl Into<String>) -> Self {
        self.details.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
        self
    }

    /// Sets `Retry-After` in whole seconds (at least 1).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 422 `validation_failed`, listing every problem.
    pub fn validation(err: ValidationError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the request has invalid fields",
        )
        .with_details(err.problems().iter().cloned())
    }

    /// 400 `invalid_query`, listing every bad query parameter.
    pub fn invalid_query(err: ValidationError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "the query string has invalid parameters",
        )
        .with_details(err.problems().iter().cloned())
    }

    /// 404 `not_found`, naming the missing thing in `field`.
    pub fn not_found(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(StatusCode::NOT_FOUND, "not_found", message.clone()).with_detail(field, message)
    }

    /// 500 `internal_error`. Logs `cause`; the body says nothing about it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred; it has been logged",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The per-field problems.
    pub fn details(&self) -> &[FieldProblem] {
        &self.details
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::validation(err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(_) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the request conflicts with a concurrent change; retry it",
            ),
            StoreError::Unavailable(cause) => {
                // The outage itself is logged once by the readiness
                // watcher (`Health::log_transitions`); per request, DEBUG.
                tracing::debug!(error = %cause, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the database is unavailable; retry later",
                )
                .with_retry_after(1)
            }
            other => Self::internal(other),
        }
    }
}

/// A create command refused by its aggregate is a 422 `validation_failed`
/// (the aggregate's reason as message); a store failure maps as above.
impl<E: std::fmt::Display> From<erp_bus::relay::CreateError<E>> for ApiError {
    fn from(err: erp_bus::relay::CreateError<E>) -> Self {
        match err {
            erp_bus::relay::CreateError::Refused(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                e.to_string(),
            ),
            erp_bus::relay::CreateError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
            }
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn renders_the_contract_shape() {
        let e = ApiError::new(StatusCode::CONFLICT, "x_taken", "x is taken")
            .with_detail("x", "taken")
            .with_retry_after(0);
        let (status, retry, body) = body_of(e).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(retry.as_deref(), Some("1"), "Retry-After is at least 1");
        assert_eq!(
            body,
            json!({"error":{"code":"x_taken","message":"x is taken","details":[{"field":"x","problem":"taken"}]}})
        );
    }

    #[tokio::test]
    async fn internal_causes_never_reach_the_body() {
        let (status, _, body) = body_of(ApiError::internal("/etc/secret: driver exploded")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let text = body.to_string();
        assert!(
            !text.contains("secret") && !text.contains("driver"),
            "{text}"
        );
        let unavailable = StoreError::Unavailable("connection refused 10.0.0.1".into());
        let (status, retry, body) = body_of(unavailable.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(!body.to_string().contains("10.0.0.1"));
    }
}
