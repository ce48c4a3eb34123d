//! Seeded fault injection for the in-memory bus.

use std::time::Duration;

/// Which faults to inject, each as a probability per message (0.0 – 1.0).
/// The same seed and the same sequence of publishes give the same faults.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Seed of the generator.
    pub seed: u64,
    /// A published message is delivered twice.
    pub duplicate: f64,
    /// An acked message is delivered again (its ack was "lost").
    pub redeliver: f64,
    /// A published message is held back 1–50 ms, so later ones overtake it.
    pub reorder: f64,
    /// A publish is refused with [`BusError::Nacked`](crate::BusError::Nacked)
    /// and nothing is enqueued.
    pub nack: f64,
}

/// What happens to one published message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fate {
    pub(super) nack: bool,
    pub(super) duplicate: bool,
    pub(super) delay: Option<Duration>,
}

#[derive(Debug)]
pub(super) struct Injector {
    faults: Faults,
    rng: fastrand::Rng,
}

impl Injector {
    pub(super) fn new(faults: Faults) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        // Always draw, so each message consumes the same numbers whatever
        // the probabilities: changing one fault leaves the others' pattern.
        self.rng.f64() < p
    }

    pub(super) fn draw(&mut self) -> Fate {
        let nack = self.chance(self.faults.nack);
        let duplicate = self.chance(self.faults.duplicate);
        let reorder = self.chance(self.faults.reorder);
        let millis = self.rng.u64(1..=50);
        Fate {
            nack,
            duplicate,
            delay: reorder.then(|| Duration::from_millis(millis)),
        }
    }

    pub(super) fn draw_redelivery(&mut self) -> bool {
        self.chance(self.faults.redeliver)
    }
}
