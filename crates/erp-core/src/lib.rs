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
