//! # erp-store
//!
//! Persistence ports of the ERP SDK and their adapters. A service owns its
//! data: each port instance belongs to one service's database.
//!
//! | port | what it stores | guarantees |
//! |---|---|---|
//! | [`WriteStore`] | aggregates (the write model), versioned | insert fails on a duplicate id; update is optimistic (expected version); the outbox records given with a write are stored atomically with it |
//! | [`Outbox`] | events waiting to be published | pending records come back until marked sent |
//! | [`ReadModel`] | views built by projections | upsert by id, filtered/sorted/paged queries, sums |
//! | [`IdempotencyStore`] | answers to requests carrying an `Idempotency-Key` | one claim per key, even under concurrency |
//!
//! Adapters: [`memory`] (always built; for unit tests and the embedded
//! default) and, behind the `mongodb` feature, `mongo` (MongoDB 6.0+ or
//! the project's test server; its module doc lists the server features it relies on).
//!
//! `contract` (feature `testkit`) holds the generic test suites every
//! adapter must pass; run them against your own adapter, from its tests, to
//! check it honours the ports.
//!
//! Ports are object safe: services hold `Arc<dyn WriteStore<T>>` and pick
//! the adapter at start-up.

// Every public item is documented: the crate is used from other projects.
#![warn(missing_docs)]

#[cfg(any(test, feature = "testkit"))]
pub mod contract;
mod error;
mod idempotency;
mod inbox;
pub mod memory;
#[cfg(feature = "mongodb")]
pub mod mongo;
mod outbox;
mod read;
mod write;

// The ports are `#[async_trait]` traits: implement them with this very
// version, re-exported so it never has to be matched by hand.
pub use async_trait;

pub use error::StoreError;
pub use idempotency::{Claim, DEFAULT_IDEMPOTENCY_RETENTION, IdempotencyStore, StoredResponse};
pub use inbox::{DEFAULT_INBOX_RETENTION, Inbox};
pub use outbox::{Outbox, OutboxRecord};
pub use read::{Filter, Order, Page, ReadModel, Totals, ViewQuery};
pub use write::{Versioned, WriteStore};
