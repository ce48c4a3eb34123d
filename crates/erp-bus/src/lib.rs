//! # erp-bus
//!
//! The event bus port of the ERP SDK, its adapters and the outbox relay.
//!
//! - [`EventBus`]: `publish` returns once the bus has *accepted* the message
//!   (an unroutable message is an error); `subscribe` attaches a
//!   [`MessageHandler`] to a queue, and the handler's [`Disposition`] decides
//!   what happens to each delivery: ack, retry after a delay, or dead-letter
//!   with a reason. After [`Subscription::max_attempts`] the bus dead-letters
//!   by itself, so a poison message never loops.
//! - [`memory::MemoryBus`]: topic routing, competing consumers, retries and a
//!   dead-letter list, in process. For users' tests and the embedded default;
//!   [`memory::MemoryBus::settled`] waits until a queue has nothing left.
//! - [`relay::OutboxRelay`]: moves events from a service's outbox
//!   ([`erp_store::Outbox`]) to its projections and to the bus, then marks them
//!   sent. Services never publish inline after a write; a consumer may
//!   publish before it acks, since its unacked delivery keeps the event.
//! - `rabbitmq::RabbitBus` (feature `rabbitmq`): the same port on RabbitMQ.
//! - [`patience::until_available`]: in a handler, wait out a dependency's
//!   outage with the delivery in hand, instead of spending its attempts.
//! - [`projection`]: a read-model [`erp_core::Projection`] fed from a
//!   subscription, each event once per consumer through an
//!   [`erp_store::Inbox`].
//! - [`trace_context`]: OpenTelemetry context as W3C `traceparent` across
//!   the outbox, the bus and outbound calls; a message carries its
//!   publisher's span, and a consumer's span is its child.
//! - `contract` (feature `testkit`): the suite every adapter must pass.
//! - `Recorder` (feature `testkit`): a handler that hands deliveries to a
//!   channel, for tests that listen to what a service publishes.
//!
//! | feature | adds |
//! |---|---|
//! | `rabbitmq` | [`rabbitmq::RabbitBus`], the lapin adapter (quorum queues, confirms, retries via a TTL queue, dead-letter queue, reconnection) |
//! | `testkit` | `contract` (the adapter suite) and `Recorder`, for tests: enable it in `[dev-dependencies]` |
//!
//! Start with [`memory::MemoryBus`] and the example `examples/bus.rs`.
//!
//! ## Example
//!
//! A subscription on the in-memory bus, a message published to it, and a
//! test that waits for the queue to settle instead of sleeping:
//!
//! ```
//! use std::{sync::{Arc, atomic::{AtomicUsize, Ordering}}, time::Duration};
//! use erp_bus::{
//!     Delivery, Disposition, EventBus, MessageHandler, OutgoingMessage, Subscription,
//!     async_trait::async_trait, memory::MemoryBus,
//! };
//!
//! struct Count(AtomicUsize);
//!
//! #[async_trait]
//! impl MessageHandler for Count {
//!     async fn handle(&self, _: &Delivery) -> Disposition {
//!         self.0.fetch_add(1, Ordering::SeqCst);
//!         Disposition::Ack
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let bus = MemoryBus::new();
//! let count = Arc::new(Count(AtomicUsize::new(0)));
//! let handle = bus
//!     .subscribe(Subscription::new("audit.sales", &["sale.*"]), count.clone())
//!     .await
//!     .unwrap();
//! bus.publish(OutgoingMessage {
//!     message_id: "m-1".into(),
//!     routing_key: "sale.completed".into(),
//!     headers: Default::default(),
//!     body: bytes::Bytes::from_static(b"{}"),
//! })
//! .await
//! .unwrap();
//! assert!(bus.settled("audit.sales", Duration::from_secs(5)).await);
//! assert_eq!(count.0.load(Ordering::SeqCst), 1);
//! handle.stop().await;
//! # });
//! ```

// Every public item is documented: the crate is used from other projects.
#![warn(missing_docs)]

#[cfg(any(test, feature = "testkit"))]
pub mod contract;
mod error;
pub mod memory;
mod message;
pub mod patience;
mod port;
pub mod projection;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
#[cfg(any(test, feature = "testkit"))]
mod recorder;
pub mod relay;
mod topic;
pub mod trace_context;

// The ports are `#[async_trait]` traits: implement them with this very
// version, re-exported so it never has to be matched by hand.
pub use async_trait;

pub use error::BusError;
pub use message::{
    CORRELATION_HEADER, DeadLetter, Delivery, Disposition, Headers, MAX_REDRIVES, OutgoingMessage,
    REDRIVES_HEADER, Redriven, TRACEPARENT_HEADER, redrives,
};
pub use port::{BusStatus, EventBus, MessageHandler, Subscription, SubscriptionHandle};
#[cfg(any(test, feature = "testkit"))]
pub use recorder::Recorder;
pub use topic::topic_matches;
