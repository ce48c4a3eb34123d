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
//! | [`Inbox`] | events each consumer finished | one record per consumer and event; expires after a retention |
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
//!
//! ## Example
//!
//! A write model stored with its event in one write (the transactional
//! outbox), and a read model queried by filter:
//!
//! ```
//! use erp_core::{EventEnvelope, PurchaseCompleted, PurchaseId, StoreId, Timestamp};
//! use erp_store::{
//!     Filter, Outbox, OutboxRecord, ReadModel, ViewQuery, WriteStore,
//!     memory::{MemoryOutbox, MemoryReadModel, MemoryWriteStore},
//! };
//! use serde_json::json;
//!
//! # futures::executor::block_on(async {
//! let outbox = MemoryOutbox::new();
//! let purchases = MemoryWriteStore::<String>::new(outbox.clone());
//! let event = EventEnvelope::new(
//!     PurchaseCompleted {
//!         purchase_id: PurchaseId::new(),
//!         store_id: StoreId::main(),
//!         purchased_at: Timestamp::now(),
//!         lines: vec![],
//!         supplier: None,
//!     },
//!     "purchase-svc",
//!     "c",
//!     "c",
//! );
//! purchases
//!     .insert("p-1", "the purchase".into(), vec![OutboxRecord::published(event.into_raw())])
//!     .await
//!     .unwrap();
//! assert_eq!(outbox.pending(10).await.unwrap().len(), 1); // waiting for the relay
//!
//! let views = MemoryReadModel::<serde_json::Value>::new();
//! views.upsert("p-1", json!({"id": "p-1", "store_id": "main", "total": 750})).await.unwrap();
//! let page = views
//!     .query(&ViewQuery {
//!         filters: vec![Filter::Eq("store_id".into(), json!("main"))],
//!         ..ViewQuery::everything()
//!     })
//!     .await
//!     .unwrap();
//! assert_eq!(page.total_items, 1);
//! # });
//! ```

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
