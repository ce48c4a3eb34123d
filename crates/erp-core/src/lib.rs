//! # erp-core
//!
//! The vocabulary every other crate of the ERP SDK speaks. No I/O lives here.
//!
//! | module | what it holds |
//! |---|---|
//! | [`id`] | [`ProductId`], [`StoreId`] (validated text ids) and [`PurchaseId`], [`SaleId`], [`EventId`] (UUIDs) |
//! | [`amount`] | [`Quantity`] (an integer ≥ 1) and [`Money`] (integer minor units) |
//! | [`time`] | [`Timestamp`], a UTC instant with one canonical text form |
//! | [`envelope`] | [`EventEnvelope`], the wire shape of every event, and its decoding errors |
//! | [`events`] | the integration events: [`PurchaseCompleted`], [`SaleCompleted`], [`StockChanged`] |
//! | [`cqrs`] | the CQRS traits: [`Aggregate`] (decide + apply), [`Projection`], [`QueryHandler`] |
//! | [`schema`] | JSON Schemas of the events, generated from these types |
//! | [`trace`] | W3C `traceparent`: one trace id per request across services |
//! | [`validation`] | [`Problems`], a collector that reports *every* invalid field at once |
//!
//! Start with [`EventEnvelope`] and [`Aggregate`]: a command is handled by an
//! aggregate into past-tense events, the events are wrapped in envelopes, and
//! projections fold envelopes into read models.
//!
//! Values are parsed, not validated: a [`Quantity`] or a [`ProductId`] cannot
//! hold an invalid value, so code that receives one never checks it again.
//!
//! ## Example
//!
//! An aggregate decides, its event travels in an envelope, and the bytes
//! read back into the same event:
//!
//! ```
//! use erp_core::{
//!     EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity,
//!     StoreId, Timestamp,
//! };
//!
//! assert!(ProductId::parse("widget-1").is_ok());
//! assert!(ProductId::parse("no spaces").is_err()); // cannot hold an invalid id
//! assert!(Quantity::new(0).is_err());
//!
//! let event = PurchaseCompleted {
//!     purchase_id: PurchaseId::new(),
//!     store_id: StoreId::main(),
//!     purchased_at: Timestamp::now(),
//!     lines: vec![EventLine {
//!         product_id: ProductId::parse("widget-1").unwrap(),
//!         quantity: Quantity::new(3).unwrap(),
//!         unit_price: Money::from_minor(250).unwrap(),
//!     }],
//!     supplier: None,
//! };
//! let envelope = EventEnvelope::new(event.clone(), "purchase-svc", "request-1", "request-1");
//! let bytes = envelope.clone().into_raw().encode();
//! let back = EventEnvelope::<PurchaseCompleted>::decode(&bytes).unwrap();
//! assert_eq!((back.id, back.data), (envelope.id, event));
//! ```

// Every public item is documented: the crate is used from other projects.
#![warn(missing_docs)]

pub mod amount;
pub mod cqrs;
pub mod envelope;
pub mod events;
pub mod id;
pub mod schema;
pub mod time;
pub mod trace;
pub mod validation;

// The ports are `#[async_trait]` traits: implement them with this very
// version, re-exported so it never has to be matched by hand.
pub use async_trait;

pub use amount::{AmountError, Money, Quantity};
pub use cqrs::{Aggregate, Projection, ProjectionError, Projections, QueryHandler};
pub use envelope::{DecodeError, DomainEvent, EventEnvelope, RawEnvelope};
pub use events::{EventLine, PurchaseCompleted, SaleCompleted, StockChanged};
pub use id::{EventId, IdError, ProductId, PurchaseId, SaleId, StoreId};
pub use time::{Timestamp, TimestampError};
pub use validation::{FieldProblem, Problems, ValidationError};
