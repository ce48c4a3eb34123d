//! The consumer side of exactly once: which events a consumer has finished.
//!
//! A bus delivers a message at least once. A consumer whose effect is not
//! idempotent by itself checks [`Inbox::contains`] before acting and calls
//! [`Inbox::insert`] once the effect is durable; a redelivery then finds the
//! event and only acknowledges it. Records are kept for a retention period
//! (redeliveries come within minutes; the default keeps a week), then
//! forgotten, so the inbox does not grow with history.

use std::time::Duration;

use async_trait::async_trait;
use erp_core::EventId;

use crate::StoreError;

/// How long an inbox record is kept when the consumer sets nothing else.
pub const DEFAULT_INBOX_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Which events each consumer has finished, per consumer name (one inbox
/// serves several consumers of a service).
#[async_trait]
pub trait Inbox: Send + Sync {
    /// Whether `consumer` finished `event` (within the retention).
    async fn contains(&self, consumer: &str, event: EventId) -> Result<bool, StoreError>;

    /// Records that `consumer` finished `event`; `false` when it was
    /// recorded already (a racing instance finished it too).
    async fn insert(&self, consumer: &str, event: EventId) -> Result<bool, StoreError>;
}
