//! [`ServiceError`]: why a service could not start, or stopped on a fault.

use std::net::SocketAddr;

/// Why a service could not start, or stopped because a part failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A flag selects an adapter this build was compiled without.
    #[error(
        "this build has no {adapter} adapter (cargo feature `{feature}` of erp-service); start with {instead}"
    )]
    MissingFeature {
        /// What the flag asked for, e.g. `RabbitMQ`.
        adapter: &'static str,
        /// The cargo feature that brings it.
        feature: &'static str,
        /// The flag that works without it, e.g. `--bus memory`.
        instead: &'static str,
    },
    /// The store could not be opened (a bad URI; a server that is down is
    /// not an error at start: readiness reports it).
    #[error("opening the store: {0}")]
    Store(#[from] erp_store::StoreError),
    /// A listener could not be bound.
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        /// `REST`, `gRPC`, …
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A server failed while running.
    #[error("{what} server: {source}")]
    Serve {
        /// `REST`, `gRPC`, …
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A part the service added to the runtime (a gRPC server, a consumer)
    /// failed.
    #[error("{0}")]
    Part(Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    /// A failure of a part the service added, from whatever error it has
    /// (an `anyhow::Error`, a `tonic` transport error, …).
    pub fn part(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Part(e.into())
    }
}
