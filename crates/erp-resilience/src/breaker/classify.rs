//! What counts as a failure for the breaker.

/// Decides whether a call's result counts as a failure.
pub trait Classify<T, E>: Send + Sync + 'static {
    /// Whether `result` is a failure.
    fn is_failure(&self, result: &Result<T, E>) -> bool;
}

/// Only errors of the inner service (transport errors, timeouts) fail.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorsOnly;

impl<T, E> Classify<T, E> for ErrorsOnly {
    fn is_failure(&self, result: &Result<T, E>) -> bool {
        result.is_err()
    }
}

/// For gRPC over a tonic channel: transport errors and timeouts fail, and so
/// do answers whose `grpc-status` is Unknown (2), DeadlineExceeded (4),
/// ResourceExhausted (8), Internal (13) or Unavailable (14). Caller errors
/// such as InvalidArgument, NotFound or FailedPrecondition do not: the
/// server is healthy, the request was wrong.
///
/// It reads `grpc-status` from the response headers, where tonic puts the
/// status of every unary error (a trailers-only response).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcFailures;

/// gRPC codes that say the server, not the caller, is in trouble.
pub const SERVER_FAILURE_CODES: [u8; 5] = [2, 4, 8, 13, 14];

impl<B, E> Classify<http::Response<B>, E> for GrpcFailures {
    fn is_failure(&self, result: &Result<http::Response<B>, E>) -> bool {
        match result {
            Err(_) => true,
            Ok(response) => response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u8>().ok())
                .is_some_and(|code| SERVER_FAILURE_CODES.contains(&code)),
        }
    }
}
