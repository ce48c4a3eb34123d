use std::error::Error as StdError;

/// Why a store operation failed, grouped by how the caller reacts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The write clashes with existing data: a duplicate id or a stale
    /// expected version. Re-read and decide again, or report a conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot be reached or failed transiently. Retry later or
    /// answer 503; nothing was written.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// Stored data cannot be read back into the expected type. A bug or a
    /// schema drift: report it, do not retry.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}
