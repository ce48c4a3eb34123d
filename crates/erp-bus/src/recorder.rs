//! [`Recorder`]: a [`MessageHandler`] that hands every delivery to a
//! channel, for tests that listen to what a service publishes.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::{Delivery, Disposition, MessageHandler};

type Behaviour = Box<dyn Fn(&Delivery) -> Disposition + Send + Sync>;

/// Forwards every delivery to a channel, then answers with its behaviour.
///
/// ```
/// # async fn demo(bus: &dyn erp_bus::EventBus) -> Result<(), erp_bus::BusError> {
/// let (recorder, mut deliveries) = erp_bus::Recorder::acking();
/// let _listening = bus
///     .subscribe(erp_bus::Subscription::new("test.changes", &["stock.changed"]), recorder)
///     .await?;
/// // … act, then:
/// let first = deliveries.recv().await;
/// # Ok(()) }
/// ```
pub struct Recorder {
    seen: mpsc::UnboundedSender<Delivery>,
    behaviour: Behaviour,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// A recorder answering each delivery with `behaviour`, and the receiving
    /// end of what it saw (redeliveries included).
    pub fn new(
        behaviour: impl Fn(&Delivery) -> Disposition + Send + Sync + 'static,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Delivery>) {
        let (seen, rx) = mpsc::unbounded_channel();
        let recorder = Self {
            seen,
            behaviour: Box::new(behaviour),
        };
        (Arc::new(recorder), rx)
    }

    /// A recorder that acks everything.
    pub fn acking() -> (Arc<Self>, mpsc::UnboundedReceiver<Delivery>) {
        Self::new(|_| Disposition::Ack)
    }
}

#[async_trait]
impl MessageHandler for Recorder {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        // A test that stopped listening must not fail the delivery.
        let _ = self.seen.send(delivery.clone());
        (self.behaviour)(delivery)
    }
}
