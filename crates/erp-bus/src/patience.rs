//! Waiting out an outage inside a message handler.
//!
//! A handler whose dependency is down (its database, a downstream API)
//! should neither spend the message's attempts nor dead-letter it: an
//! outage longer than the retries' backoff would otherwise dead-letter every
//! message that arrived meanwhile, and the message is no less valid for the
//! dependency having restarted. [`until_available`] keeps the delivery in
//! hand, unacknowledged, and tries again with backoff until the dependency
//! answers; the subscription's prefetch and concurrency bound how many
//! deliveries wait at once, so the consumer takes nothing new meanwhile. If
//! the process stops while waiting, the broker redelivers the message.
//! Errors that are not transient return at once, for the handler to retry
//! (counted) or dead-letter.

use std::{future::Future, time::Duration};

/// The first wait after a transient failure; it doubles up to [`MAX_WAIT`].
pub const FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between two tries.
pub const MAX_WAIT: Duration = Duration::from_secs(5);

/// Runs `op` until it succeeds or fails with an error `transient` does not
/// accept. `dependency` names what is waited for in the log: one WARN when
/// the wait starts, one INFO when it answers again.
pub async fn until_available<T, E, F, Fut>(
    dependency: &str,
    transient: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut wait = FIRST_WAIT;
    let mut waited = false;
    loop {
        match op().await {
            Err(e) if transient(&e) => {
                if !waited {
                    tracing::warn!(dependency, error = %e, "dependency unavailable; the delivery waits for it");
                    waited = true;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_WAIT);
            }
            other => {
                if waited {
                    tracing::info!(dependency, "dependency answers again; the delivery goes on");
                }
                return other;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_out_transient_errors_and_returns_the_others_at_once() {
        let tries = AtomicU32::new(0);
        let answer = until_available(
            "db",
            |e: &&str| *e == "down",
            || async {
                match tries.fetch_add(1, Ordering::SeqCst) {
                    0..=9 => Err("down"),
                    _ => Ok(42),
                }
            },
        )
        .await;
        assert_eq!(answer, Ok(42));
        assert_eq!(tries.load(Ordering::SeqCst), 11, "ten waits, then success");

        let tries = AtomicU32::new(0);
        let answer: Result<u8, &str> = until_available(
            "db",
            |e: &&str| *e == "down",
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err("poison")
            },
        )
        .await;
        assert_eq!(answer, Err("poison"));
        assert_eq!(tries.load(Ordering::SeqCst), 1, "not transient: no wait");
    }
}
