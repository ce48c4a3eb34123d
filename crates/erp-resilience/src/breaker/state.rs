//! The breaker's state machine, pure: time comes in as an argument, so every
//! transition is testable without a clock.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// The sliding window the failure ratio is computed over.
    pub window: Duration,
    /// Calls the window must hold before the ratio can open the breaker.
    pub min_calls: u32,
    /// Failure ratio (0–1) at which the breaker opens.
    pub failure_ratio: f64,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Trial calls admitted at once while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10),
            min_calls: 5,
            failure_ratio: 0.5,
            open_for: Duration::from_secs(15),
            half_open_probes: 1,
        }
    }
}

/// The state as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass; outcomes are counted.
    Closed,
    /// Calls fail fast for `remaining`.
    Open {
        /// Time left before probes are let through.
        remaining: Duration,
    },
    /// A few probes decide: success closes, failure re-opens.
    HalfOpen,
}

/// How a call ended, for the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    /// The caller dropped the call before it ended: counts for nothing.
    Cancelled,
}

/// The right to make one call, issued in one phase (`generation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    generation: u64,
}

/// One slice of the sliding window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: Instant,
    ok: u32,
    failed: u32,
}

/// Buckets per window: the window slides in tenths, in O(1) memory
/// whatever the call rate.
const BUCKETS: u32 = 10;

#[derive(Debug)]
enum Phase {
    Closed { buckets: VecDeque<Bucket> },
    Open { until: Instant },
    HalfOpen { probes_in_flight: u32 },
}

#[derive(Debug)]
pub(crate) struct Machine {
    config: BreakerConfig,
    phase: Phase,
    /// Bumped on every transition; outcomes of permits from an earlier
    /// phase are ignored, so no outcome counts in a phase it was not
    /// admitted in, and none counts twice.
    generation: u64,
}

impl Machine {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            phase: Phase::Closed {
                buckets: VecDeque::new(),
            },
            generation: 0,
        }
    }

    fn enter(&mut self, phase: Phase, now: Instant) -> BreakerState {
        self.phase = phase;
        self.generation += 1;
        self.peek(now)
    }

    /// The state now, without changing it (an elapsed open period reads as
    /// half-open even before a call arrives).
    pub(crate) fn peek(&self, now: Instant) -> BreakerState {
        match &self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now < *until => BreakerState::Open {
                remaining: *until - now,
            },
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// A permit, or the time the caller should wait; and the transition this
    /// caused, if any.
    pub(crate) fn acquire(
        &mut self,
        now: Instant,
    ) -> (Result<Permit, Duration>, Option<BreakerState>) {
        let mut transition = None;
        if let Phase::Open { until } = self.phase {
            if now < until {
                return (Err(until - now), None);
            }
            transition = Some(self.enter(
                Phase::HalfOpen {
                    probes_in_flight: 0,
                },
                now,
            ));
        }
        let permit = Permit {
            generation: self.generation,
        };
        let max = self.config.half_open_probes.max(1);
        let result = match &mut self.phase {
            Phase::Closed { .. } => Ok(permit),
            Phase::HalfOpen { probes_in_flight } if *probes_in_flight < max => {
                *probes_in_flight += 1;
                Ok(permit)
            }
            // Probes are out; their outcome decides. Retry-After ≥ 1 s.
            _ => Err(Duration::ZERO),
        };
        (result, transition)
    }

    /// Records how a permitted call ended; returns the transition, if any.
    pub(crate) fn record(
        &mut self,
        permit: Permit,
        outcome: Outcome,
        now: Instant,
    ) -> Option<BreakerState> {
        if permit.generation != self.generation {
            return None;
        }
        let config = self.config;
        match &mut self.phase {
            Phase::Closed { buckets } => {
                let width = config.window / BUCKETS;
                while buckets
                    .front()
                    .is_some_and(|b| b.start + config.window <= now)
                {
                    buckets.pop_front();
                }
                if buckets.back().is_none_or(|b| now >= b.start + width) {
                    buckets.push_back(Bucket {
                        start: now,
                        ok: 0,
                        failed: 0,
                    });
                }
                let bucket = buckets.back_mut().expect("pushed above");
                match outcome {
                    Outcome::Success => bucket.ok += 1,
                    Outcome::Failure => bucket.failed += 1,
                    Outcome::Cancelled => return None,
                }
                let (ok, failed) = buckets
                    .iter()
                    .fold((0, 0), |(o, f), b| (o + b.ok, f + b.failed));
                let calls = ok + failed;
                if calls >= config.min_calls
                    && f64::from(failed) >= config.failure_ratio * f64::from(calls)
                {
                    return Some(self.enter(
                        Phase::Open {
                            until: now + config.open_for,
                        },
                        now,
                    ));
                }
                None
            }
            Phase::HalfOpen { probes_in_flight } => {
                *probes_in_flight = probes_in_flight.saturating_sub(1);
                match outcome {
                    Outcome::Success => Some(self.enter(
                        Phase::Closed {
                            buckets: VecDeque::new(),
                        },
                        now,
                    )),
                    Outcome::Failure => Some(self.enter(
                        Phase::Open {
                            until: now + config.open_for,
                        },
                        now,
                    )),
                    Outcome::Cancelled => None,
                }
            }
            // A permit of the current generation is never issued while open.
            Phase::Open { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn call(m: &mut Machine, now: Instant, outcome: Outcome) -> Option<BreakerState> {
        let (p, _) = m.acquire(now);
        m.record(p.expect("admitted"), outcome, now)
    }

    #[test]
    fn opens_only_with_enough_calls_and_failures_in_the_window() {
        let t0 = Instant::now();
        let mut m = Machine::new(BreakerConfig::default());
        for i in 0..4 {
            assert_eq!(
                call(&mut m, t0 + ms(i), Outcome::Failure),
                None,
                "below min_calls"
            );
        }
        let opened = call(&mut m, t0 + ms(5), Outcome::Failure);
        assert!(matches!(opened, Some(BreakerState::Open { .. })));
        let (denied, _) = m.acquire(t0 + ms(6));
        assert_eq!(denied, Err(Duration::from_secs(15) - ms(1)));
    }

    #[test]
    fn a_failure_ratio_below_the_threshold_keeps_it_closed() {
        let t0 = Instant::now();
        let mut m = Machine::new(BreakerConfig::default());
        for i in 0..10 {
            let outcome = if i % 3 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            assert_eq!(call(&mut m, t0 + ms(i), outcome), None);
        }
        assert_eq!(m.peek(t0 + ms(20)), BreakerState::Closed);
    }

    #[test]
    fn old_outcomes_slide_out_of_the_window() {
        let t0 = Instant::now();
        let mut m = Machine::new(BreakerConfig::default());
        for i in 0..4 {
            call(&mut m, t0 + ms(i), Outcome::Failure);
        }
        // 11 s later the four failures are gone: one more is not enough.
        assert_eq!(
            call(&mut m, t0 + Duration::from_secs(11), Outcome::Failure),
            None
        );
        assert_eq!(m.peek(t0 + Duration::from_secs(11)), BreakerState::Closed);
    }

    #[test]
    fn half_open_admits_k_probes_and_their_outcome_decides() {
        let t0 = Instant::now();
        let config = BreakerConfig {
            half_open_probes: 2,
            ..BreakerConfig::default()
        };
        let mut m = Machine::new(config);
        for i in 0..5 {
            call(&mut m, t0 + ms(i), Outcome::Failure);
        }
        let later = t0 + Duration::from_secs(16);
        assert_eq!(
            m.peek(later),
            BreakerState::HalfOpen,
            "reads half-open without a call"
        );
        let (a, t) = m.acquire(later);
        assert_eq!(t, Some(BreakerState::HalfOpen));
        let (b, _) = m.acquire(later);
        let (c, _) = m.acquire(later);
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(c, Err(Duration::ZERO), "a third caller is refused");
        assert_eq!(
            m.record(a.unwrap(), Outcome::Success, later),
            Some(BreakerState::Closed)
        );
        assert_eq!(
            m.record(b.unwrap(), Outcome::Failure, later),
            None,
            "stale probe ignored"
        );
        assert_eq!(m.peek(later), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_and_a_cancelled_one_frees_its_slot() {
        let t0 = Instant::now();
        let mut m = Machine::new(BreakerConfig::default());
        for i in 0..5 {
            call(&mut m, t0 + ms(i), Outcome::Failure);
        }
        let later = t0 + Duration::from_secs(16);
        let (p, _) = m.acquire(later);
        assert_eq!(m.record(p.unwrap(), Outcome::Cancelled, later), None);
        let (p, _) = m.acquire(later);
        let reopened = m.record(p.unwrap(), Outcome::Failure, later);
        assert!(matches!(reopened, Some(BreakerState::Open { .. })));
        assert!(m.acquire(later + ms(1)).0.is_err());
    }
}
