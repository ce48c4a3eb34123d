//! [`Shared`]: a service's handler state behind one `Arc`.

use std::{fmt, ops::Deref, sync::Arc};

/// What a service's routes share. axum clones handler state for every
/// request; behind one `Arc` that clone is a single increment, however many
/// ports and clients the state holds. Derefs to the state itself, so its
/// methods are called directly.
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    /// Wraps the state.
    pub fn new(state: T) -> Self {
        Self(Arc::new(state))
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Names the state only: it holds ports and clients with nothing to print.
impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared")
            .field(&std::any::type_name::<T>())
            .finish()
    }
}
