//! Reading JSON request bodies with the contract's errors.

use axum::{
    body::Body,
    extract::{FromRequest, Request},
    http::StatusCode,
};
use bytes::Bytes;
use serde_json::Value;

use crate::ApiError;

/// The largest request body accepted (64 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;

/// A request body parsed as a JSON object.
///
/// Rejections: over [`BODY_LIMIT`] → 413 `payload_too_large`; not JSON →
/// 400 `malformed_json`; JSON but not an object → 422 `validation_failed`.
/// The content type is not checked: a JSON body is accepted however labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBody(pub serde_json::Map<String, Value>);

/// Reads a whole body, at most [`BODY_LIMIT`] bytes.
pub async fn read_limited(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|e| {
        let too_large =
            std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            payload_too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "the request body could not be read",
            )
        }
    })
}

/// 413 `payload_too_large`.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body exceeds {BODY_LIMIT} bytes"),
    )
}

/// Parses bytes as a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation(erp_core::ValidationError::single(
            "$",
            "the body must be a JSON object",
        ))),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let bytes = read_limited(req.into_body()).await?;
        parse_object(&bytes).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn extract(body: impl Into<Body>) -> Result<JsonBody, ApiError> {
        let req = Request::builder().body(body.into()).unwrap();
        JsonBody::from_request(req, &()).await
    }

    #[tokio::test]
    async fn maps_each_failure_to_its_status() {
        assert!(extract(r#"{"a":1}"#).await.is_ok());
        assert_eq!(
            extract("{oops").await.unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            extract("").await.unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            extract("[1]").await.unwrap_err().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(BODY_LIMIT));
        assert_eq!(
            extract(big).await.unwrap_err().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let just_fits = format!(r#"{{"a":"{}"}}"#, "x".repeat(BODY_LIMIT - 8));
        assert!(extract(just_fits).await.is_ok());
    }
}
