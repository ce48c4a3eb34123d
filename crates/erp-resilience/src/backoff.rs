//! Exponential backoff with full jitter: the delay before retry *n* (1-based)
//! is uniform in `[0, min(cap, base · 2^(n-1))]`. Full jitter spreads the
//! retries of many clients that failed together, so they do not return in
//! lockstep and knock the recovering server over again.

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Upper bound of the first delay.
    pub base: Duration,
    /// Largest upper bound.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(50),
            cap: Duration::from_secs(1),
        }
    }
}

impl Backoff {
    /// The upper bound of the delay before retry `n` (1-based).
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1_u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A jittered delay before retry `n`, drawn from `rng`.
    pub fn delay(&self, n: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = self.ceiling(n).as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(rng.u64(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::default();
        let ms: Vec<_> = (1..=7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ms, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(100), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_their_ceiling() {
        let b = Backoff::default();
        let mut rng = fastrand::Rng::with_seed(1);
        for n in 1..10 {
            for _ in 0..100 {
                assert!(b.delay(n, &mut rng) <= b.ceiling(n));
            }
        }
    }
}
