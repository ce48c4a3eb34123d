use async_trait::async_trait;

use crate::StoreError;

/// How long an idempotency record is kept after its last write when the
/// service sets nothing else: 24 hours. A replay later than that is
/// processed as a new request.
pub const DEFAULT_IDEMPOTENCY_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(24 * 60 * 60);

/// A final answer remembered for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body, byte for byte.
    pub body: Vec<u8>,
    /// The `Location` header, if any.
    pub location: Option<String>,
}

/// The outcome of claiming a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: the caller processes the request, then calls
    /// [`IdempotencyStore::complete`] or [`IdempotencyStore::release`].
    Acquired,
    /// The key was used with the same request: answer this again.
    Replay(StoredResponse),
    /// The key was used with a different request.
    Mismatch,
    /// Another request with this key is being processed right now.
    InProgress,
}

/// Remembers answers per (scope, key). The scope is the route, so one key may
/// be reused on different routes.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose canonical form hashes to `fingerprint`.
    /// Exactly one of several concurrent claims of a new key gets
    /// [`Claim::Acquired`]. A claim that is never completed nor released
    /// (its process died) lapses after the store's lease time.
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim, StoreError>;

    /// Stores the final answer of an acquired claim.
    async fn complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError>;

    /// Gives up an acquired claim without an answer (e.g. after a 5xx), so a
    /// retry is processed afresh.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}
