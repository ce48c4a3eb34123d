/// Why the bus refused or could not carry out an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// No queue is bound to the routing key: the message was not accepted.
    /// A configuration problem; keep the message (e.g. in the outbox).
    #[error("no queue is bound to routing key {0:?}")]
    Unroutable(String),
    /// The broker refused the message (a negative confirm). Retry later.
    #[error("the broker refused the message: {0}")]
    Nacked(String),
    /// The bus cannot be reached. Retry later; readiness reports it.
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
}
