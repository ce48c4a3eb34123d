//! Rebuilding read models from the write side (design invariant 5): clear
//! the views, then feed the projections the event each aggregate's state
//! stands for. Projections upsert by id, so a rebuild that runs while new
//! writes arrive converges too.

use erp_core::{DomainEvent, EventEnvelope, Projections};
use erp_store::{StoreError, WriteStore};

use crate::ApiError;

/// Replays `store`'s aggregates, turned into events by `to_event`, through
/// `projections`; returns how many were replayed. Clear the read models first.
pub async fn replay<T, E>(
    store: &dyn WriteStore<T>,
    projections: &Projections,
    source: &str,
    to_event: impl Fn(&T) -> E,
) -> Result<usize, ApiError>
where
    T: Send + Sync + 'static,
    E: DomainEvent,
{
    let all = store.all().await?;
    for aggregate in &all {
        let envelope =
            EventEnvelope::new(to_event(&aggregate.value), source, "rebuild", "rebuild").into_raw();
        projections.project(&envelope).await.map_err(|(name, e)| {
            ApiError::from(StoreError::Unavailable(
                format!("projection {name}: {e}").into(),
            ))
        })?;
    }
    Ok(all.len())
}
