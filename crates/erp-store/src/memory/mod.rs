//! In-memory adapters: for unit tests and the embedded default. Nothing
//! survives the process.
//!
//! They use `std::sync::Mutex`, not tokio's: no lock is held across an
//! `.await`, and a std lock is cheaper for these short critical sections.

mod idempotency;
mod inbox;
mod json_path;
mod outbox;
mod read;
mod write;

pub use idempotency::MemoryIdempotency;
pub use inbox::MemoryInbox;
pub use outbox::MemoryOutbox;
pub use read::MemoryReadModel;
pub use write::MemoryWriteStore;

use std::sync::{Mutex, MutexGuard};

/// Locks, recovering from poisoning: every critical section here leaves the
/// data consistent before anything that can panic, so a panic elsewhere must
/// not take the store down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
