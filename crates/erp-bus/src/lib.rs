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
//! - [`trace_context`]: OpenTelemetry context as W3C `traceparent` across
//!   the outbox, the bus and outbound calls; a message carries its
//!   publisher's span, and a consumer's span is its child.
//! - [`contract`]: the suite every adapter must pass.
//! - [`Recorder`]: a handler that hands deliveries to a channel, for tests
//!   that listen to what a service publishes.
//!
//! | feature | adds |
//! |---|---|
//! | `rabbitmq` | [`rabbitmq::RabbitBus`], the lapin adapter (quorum queues, confirms, retries via a TTL queue, dead-letter queue, reconnection) |
//!
//! Start with [`memory::MemoryBus`] and the example `examples/bus.rs`.

pub mod contract;
mod error;
pub mod memory;
mod message;
pub mod patience;
mod port;
#[cfg(feature = "rabbitmq")]
pub mod rabbitmq;
mod recorder;
pub mod relay;
mod topic;
pub mod trace_context;

pub use error::BusError;
pub use message::{
    CORRELATION_HEADER, DeadLetter, Delivery, Disposition, Headers, MAX_REDRIVES, OutgoingMessage,
    REDRIVES_HEADER, Redriven, TRACEPARENT_HEADER, redrives,
};
pub use port::{BusStatus, EventBus, MessageHandler, Subscription, SubscriptionHandle};
pub use recorder::Recorder;
pub use topic::topic_matches;
