//! The outbox relay: hands stored events to the service's own projections
//! and to the bus, then marks them sent.
//!
//! Order per record: project (idempotent upserts; skipped for records this
//! process projected inline right after their write), publish (returns once the
//! bus accepted it), mark sent. A local record (never published) that was
//! projected inline has nothing left to do: the relay marks it sent at its
//! next pass without reading it back. A crash between publish and mark only
//! causes a second publish of the same event id, which idempotent consumers
//! absorb; nothing is lost because a record leaves the outbox only after
//! both steps.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use erp_core::{EventId, ProjectionError, Projections};
use erp_store::{Outbox, StoreError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{BusError, EventBus, OutgoingMessage};

/// Why a relay pass stopped early. Everything not marked sent is retried on
/// the next pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The outbox could not be read or updated.
    #[error("outbox: {0}")]
    Store(#[from] StoreError),
    /// The bus refused a message.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// A projection's store failed.
    #[error("projection {name}: {source}")]
    Projection {
        /// The projection's name.
        name: &'static str,
        /// What failed.
        source: ProjectionError,
    },
}

/// Wakes a relay right after a write, so events do not wait for the poll.
#[derive(Debug, Clone, Default)]
pub struct RelayTrigger(Arc<Notify>);

impl RelayTrigger {
    /// Asks the relay to run a pass soon.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// What a command handler calls after a successful write: feeds the new
/// events to the service's projections right away (so a client reads its
/// own write) and wakes the relay. Projection failures here are only
/// logged: the relay projects every record again before publishing it.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    projections: Projections,
    trigger: RelayTrigger,
    projected: ProjectedInline,
    settled: SettledInline,
}

/// Events this process projected inline, right after their write, which the
/// relay need not project again: projecting twice is harmless (upserts) but
/// doubles the read-model writes of every command. Bounded: past
/// [`ProjectedInline::MAX`] entries (events some other instance relayed, so
/// this relay never took them out) it starts afresh, which only costs
/// repeated projections.
#[derive(Debug, Clone, Default)]
struct ProjectedInline(Arc<Mutex<HashSet<EventId>>>);

impl ProjectedInline {
    const MAX: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<EventId>> {
        // A std Mutex: held for one set operation, never across `.await`.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, id: EventId) {
        let mut ids = self.lock();
        if ids.len() >= Self::MAX {
            ids.clear();
        }
        ids.insert(id);
    }

    /// Whether `id` was projected inline; forgets it either way.
    fn take(&self, id: EventId) -> bool {
        self.lock().remove(&id)
    }
}

/// Local records (never published) this process projected inline: done
/// but for leaving the outbox, which the relay's next pass does for all of
/// them in one `mark_sent`. Reading them back through
/// [`Outbox::pending`] only to skip them would copy every such record once
/// more (and, from a database, fetch it). Bounded like
/// [`ProjectedInline`]: past [`SettledInline::MAX`] ids (a relay that does
/// not run) an id goes to the projected set instead, and the relay reads
/// that record as usual.
#[derive(Debug, Clone, Default)]
struct SettledInline(Arc<Mutex<Vec<EventId>>>);

impl SettledInline {
    const MAX: usize = 100_000;

    /// Queues `id`; false when full.
    fn push(&self, id: EventId) -> bool {
        let mut ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = ids.len() < Self::MAX;
        if room {
            ids.push(id);
        }
        room
    }

    /// Every queued id, leaving the queue empty.
    fn take_all(&self) -> Vec<EventId> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl RelayHandle {
    /// The service's projections, e.g. to rebuild read models.
    pub fn projections(&self) -> &Projections {
        &self.projections
    }

    /// Call after the write holding `records` succeeded.
    pub async fn committed(&self, records: &[erp_store::OutboxRecord]) {
        for r in records {
            match self.projections.project(&r.envelope).await {
                Ok(()) if !r.publish && self.settled.push(r.envelope.id) => {}
                Ok(()) => self.projected.insert(r.envelope.id),
                Err((name, e)) => {
                    tracing::warn!(projection = name, event_id = %r.envelope.id, error = %e, "inline projection failed; the relay will retry");
                }
            }
        }
        self.trigger.notify();
    }
}

/// Who raises events, and why: the envelope fields a command fills in.
#[derive(Debug, Clone, Copy)]
pub struct EventOrigin<'a> {
    /// The service, e.g. `purchase-svc`.
    pub source: &'a str,
    /// The request's correlation id (also the causation id of a command).
    pub correlation_id: &'a str,
    /// Whether the relay publishes the events on the bus, or only feeds them
    /// to the service's own projections.
    pub publish: bool,
}

/// Why [`RelayHandle::create`] stored nothing. Exhaustive on purpose: a
/// command is refused or the write failed, nothing else.
#[derive(Debug, thiserror::Error)]
pub enum CreateError<E> {
    /// The aggregate refused the command; report it to the caller.
    #[error(transparent)]
    Refused(E),
    /// The store failed; a [`StoreError::Conflict`] means the id was taken
    /// by a concurrent create.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RelayHandle {
    /// The whole create command: `current` (the aggregate as stored, usually
    /// empty) decides on `command`; the state its events lead to is inserted
    /// under `id` with those events, in one write, then projected.
    pub async fn create<A, T>(
        &self,
        store: &dyn erp_store::WriteStore<T>,
        id: &str,
        current: A,
        command: A::Command,
        state_of: impl FnOnce(A) -> Option<T>,
        origin: EventOrigin<'_>,
    ) -> Result<T, CreateError<A::Error>>
    where
        A: erp_core::Aggregate,
        A::Event: erp_core::DomainEvent,
        T: Clone + Send + Sync + 'static,
    {
        let events = current.handle(command).map_err(CreateError::Refused)?;
        let state = state_of(A::replay(&events))
            .expect("the events of a create leave the aggregate with state");
        self.insert_with_events(store, id, state.clone(), events, origin)
            .await?;
        Ok(state)
    }

    /// Inserts a new aggregate with the events that created it, in one
    /// write, then projects them at once and wakes the relay: the transactional
    /// outbox as one call.
    pub async fn insert_with_events<T, E>(
        &self,
        store: &dyn erp_store::WriteStore<T>,
        id: &str,
        state: T,
        events: Vec<E>,
        origin: EventOrigin<'_>,
    ) -> Result<(), StoreError>
    where
        T: Send + Sync + 'static,
        E: erp_core::DomainEvent,
    {
        // The writing request's span: the relay's publish continues it.
        let traceparent = crate::trace_context::current_traceparent();
        let records: Vec<_> = events
            .into_iter()
            .map(|e| {
                let envelope = erp_core::EventEnvelope::new(
                    e,
                    origin.source,
                    origin.correlation_id,
                    origin.correlation_id,
                )
                .into_raw();
                erp_store::OutboxRecord {
                    envelope,
                    publish: origin.publish,
                    traceparent: traceparent.clone(),
                }
            })
            .collect();
        store.insert(id, state, records.clone()).await?;
        self.committed(&records).await;
        Ok(())
    }
}

/// Seconds since `at` (0 for a time in the future: clocks differ).
fn age_seconds(at: &erp_core::Timestamp) -> f64 {
    let age = erp_core::Timestamp::now().as_datetime() - at.as_datetime();
    age.num_milliseconds().max(0) as f64 / 1000.0
}

/// The producer span of one record's publish: a child of the span that
/// wrote the record (the request's), exported when traces are on.
fn publish_span(system: &'static str, record: &erp_store::OutboxRecord) -> tracing::Span {
    let event_type = record.envelope.event_type.as_str();
    let span = tracing::debug_span!(
        "publish",
        otel.kind = "producer",
        otel.name = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        messaging.system = system,
        messaging.operation.type = "publish",
        messaging.destination.name = event_type,
        messaging.rabbitmq.destination.routing_key = event_type,
        messaging.message.id = %record.envelope.id,
        messaging.message.conversation_id = record.envelope.correlation_id.as_str(),
    );
    crate::trace_context::prepare(&span, record.traceparent.as_deref(), || {
        format!("publish {event_type}")
    });
    span
}

/// What one relay pass did.
struct Pass {
    /// Records marked sent.
    marked: usize,
    /// Whether the look at the outbox returned a whole batch: more may wait.
    full: bool,
}

/// When a record that keeps failing is taken out of the flow.
#[derive(Debug, Clone, Copy)]
struct QuarantinePolicy {
    /// Failed passes in a row, at least.
    attempts: u32,
    /// Since its first failure, at least.
    after: Duration,
}

/// Consecutive failures of the records that fail now (bounded by them).
#[derive(Debug, Default)]
struct Failures(std::sync::Mutex<std::collections::HashMap<EventId, (u32, std::time::Instant)>>);

impl Failures {
    /// Counts a failure of `id`; whether `policy` now quarantines it.
    fn failed(&self, id: EventId, policy: QuarantinePolicy) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (n, since) = map.entry(id).or_insert((0, std::time::Instant::now()));
        *n += 1;
        *n >= policy.attempts && since.elapsed() >= policy.after
    }

    fn clear(&self, ids: &[EventId]) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !map.is_empty() {
            for id in ids {
                map.remove(id);
            }
        }
    }
}

/// Moves events from an outbox to projections and the bus.
pub struct OutboxRelay {
    outbox: Arc<dyn Outbox>,
    bus: Arc<dyn EventBus>,
    projections: Projections,
    trigger: RelayTrigger,
    projected: ProjectedInline,
    settled: SettledInline,
    batch: usize,
    idle_poll: Duration,
    max_idle_poll: Duration,
    quarantine: QuarantinePolicy,
    failures: Failures,
    service: &'static str,
    gauges: std::sync::OnceLock<RelayGauges>,
}

/// The relay's gauge handles, made on its first pass (the recorder is
/// installed by then): looking a labelled gauge up on every pass builds
/// its key anew, and a busy relay passes once every few commands.
struct RelayGauges {
    backlog: metrics::Gauge,
    oldest_age: metrics::Gauge,
}

impl RelayGauges {
    fn new(service: &'static str) -> Self {
        Self {
            backlog: metrics::gauge!("erp_outbox_backlog", "service" => service),
            oldest_age: metrics::gauge!("erp_outbox_oldest_age_seconds", "service" => service),
        }
    }
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("projections", &self.projections)
            .field("batch", &self.batch)
            .field("idle_poll", &self.idle_poll)
            .field("max_idle_poll", &self.max_idle_poll)
            .finish_non_exhaustive()
    }
}

impl OutboxRelay {
    /// A relay from `outbox` to `bus`, with no projections.
    pub fn new(outbox: Arc<dyn Outbox>, bus: Arc<dyn EventBus>) -> Self {
        Self {
            outbox,
            bus,
            projections: Projections::default(),
            trigger: RelayTrigger::default(),
            projected: ProjectedInline::default(),
            settled: SettledInline::default(),
            batch: 100,
            idle_poll: Duration::from_millis(500),
            max_idle_poll: Duration::from_secs(5),
            quarantine: QuarantinePolicy {
                attempts: 5,
                after: Duration::from_secs(10),
            },
            failures: Failures::default(),
            gauges: std::sync::OnceLock::new(),
            service: "",
        }
    }

    /// The `service` label of the relay's metrics (`erp_outbox_backlog`,
    /// `erp_outbox_quarantined_total`): several services in one process
    /// each have their own series.
    pub fn with_service(mut self, service: &'static str) -> Self {
        self.service = service;
        self
    }

    /// When a record whose projection keeps failing is quarantined
    /// ([`Outbox::quarantine`]): after `attempts` failed passes in a row
    /// spanning at least `after`. Until then the relay stops at it (order
    /// holds); after, every other aggregate's events flow again. Default:
    /// 5 passes and 10 s. Publishing failures never quarantine: they are
    /// the bus's, not the record's.
    pub fn with_quarantine_after(mut self, attempts: u32, after: Duration) -> Self {
        self.quarantine = QuarantinePolicy {
            attempts: attempts.max(1),
            after,
        };
        self
    }

    /// Also feeds every record to these projections before publishing it.
    pub fn with_projections(mut self, projections: Projections) -> Self {
        self.projections = projections;
        self
    }

    /// How long an idle relay waits before looking at the outbox again when
    /// nobody triggered it (another instance may have written, or died
    /// before relaying). Each empty look doubles the wait, up to
    /// [`OutboxRelay::with_max_idle_poll`]; a trigger or a look that found
    /// work resets it. Defaults: 500 ms, up to 5 s.
    pub fn with_idle_poll(mut self, idle_poll: Duration) -> Self {
        self.idle_poll = idle_poll;
        self.max_idle_poll = self.max_idle_poll.max(idle_poll);
        self
    }

    /// The longest wait between looks of an idle relay. Why grow it: on a
    /// quiet service a look per 500 ms is pure load; writes of this
    /// instance trigger the relay at once anyway.
    pub fn with_max_idle_poll(mut self, max_idle_poll: Duration) -> Self {
        self.max_idle_poll = max_idle_poll.max(self.idle_poll);
        self
    }

    /// The handle that wakes this relay.
    pub fn trigger(&self) -> RelayTrigger {
        self.trigger.clone()
    }

    /// The handle command handlers call after each write.
    pub fn handle(&self) -> RelayHandle {
        RelayHandle {
            projections: self.projections.clone(),
            trigger: self.trigger.clone(),
            projected: self.projected.clone(),
            settled: self.settled.clone(),
        }
    }

    /// One pass over up to one batch of pending records; returns how many
    /// were marked sent (local records projected inline since the last pass
    /// included: they leave the outbox first, unread). Records are projected
    /// in order, then published as one pipelined batch; a record is marked
    /// sent only if it and every record before it made it, so the outbox
    /// order is kept on failure.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        Ok(self.pass().await?.marked)
    }

    /// [`OutboxRelay::relay_once`], also telling whether the look at the
    /// outbox came back full (so more may wait).
    async fn pass(&self) -> Result<Pass, RelayError> {
        let settled = self.settled.take_all();
        if !settled.is_empty()
            && let Err(e) = self.outbox.mark_sent(&settled).await
        {
            // Still pending, then: the next pass reads them, and skips
            // projecting them again.
            for id in settled {
                self.projected.insert(id);
            }
            return Err(e.into());
        }
        let records = self.outbox.pending(self.batch).await?;
        let mut projected = 0;
        let mut failure = None;
        for record in &records {
            if self.projected.take(record.id()) {
                projected += 1;
                continue;
            }
            if let Err(e) = self.project(record).await {
                if self.failures.failed(record.id(), self.quarantine) {
                    self.quarantine(record, &e).await?;
                } else {
                    failure = Some(e);
                }
                // Either way the pass ends here: records behind this one
                // may belong to its aggregate, and the next look knows
                // which are held.
                break;
            }
            projected += 1;
        }
        let read = records.as_slice();
        let records = &records[..projected];
        let system = self.bus.messaging_system();
        let (spans, to_publish): (Vec<_>, Vec<_>) = records
            .iter()
            .filter(|r| r.publish)
            .map(|r| {
                let span = publish_span(system, r);
                // Built in its span: the message carries that span's context.
                let message = span.in_scope(|| OutgoingMessage::from_envelope(&r.envelope));
                (span, message)
            })
            .unzip();
        let mut results = self.bus.publish_batch(to_publish).await.into_iter();
        let mut spans = spans.into_iter();
        let mut done = Vec::with_capacity(records.len());
        for record in records {
            if record.publish {
                let span = spans.next();
                if let Some(Err(e)) = results.next() {
                    if let Some(span) = span {
                        span.record("otel.status_code", "ERROR");
                    }
                    failure = Some(RelayError::Bus(e));
                    break;
                }
            }
            done.push(record.id());
        }
        if !done.is_empty() {
            self.outbox.mark_sent(&done).await?;
            self.failures.clear(&done);
        }
        let gauges = self.gauges.get_or_init(|| RelayGauges::new(self.service));
        if failure.is_none() && records.len() < self.batch {
            // The look returned everything pending and all of it went out:
            // no need to ask the store (a count can cost a scan there).
            gauges.backlog.set((records.len() - done.len()) as f64);
        } else if let Ok(backlog) = self.outbox.backlog().await {
            gauges.backlog.set(backlog as f64);
        }
        // The oldest record still waiting after this pass: the first one
        // read and not marked sent (`done` is a prefix of what was read; a
        // full batch that all went out leaves the rest to the next pass,
        // which follows at once).
        let oldest = read
            .get(done.len())
            .map_or(0.0, |r| age_seconds(&r.envelope.occurred_at));
        gauges.oldest_age.set(oldest);
        match failure {
            Some(e) => Err(e),
            None => Ok(Pass {
                marked: settled.len() + done.len(),
                full: read.len() == self.batch,
            }),
        }
    }

    async fn quarantine(
        &self,
        record: &erp_store::OutboxRecord,
        error: &RelayError,
    ) -> Result<(), RelayError> {
        let reason = error.to_string();
        self.outbox.quarantine(record.id(), &reason).await?;
        self.failures.clear(&[record.id()]);
        metrics::counter!("erp_outbox_quarantined_total", "service" => self.service).increment(1);
        tracing::error!(
            event_id = %record.id(), event_type = %record.envelope.event_type, error = %reason,
            "outbox record quarantined after failing every pass; later events of its aggregate are held"
        );
        Ok(())
    }

    async fn project(&self, record: &erp_store::OutboxRecord) -> Result<(), RelayError> {
        let envelope = &record.envelope;
        match self.projections.project(envelope).await {
            Ok(()) => Ok(()),
            // An event its own service cannot read will never become
            // readable: log it loudly and let it through to the bus.
            Err((name, ProjectionError::Decode(e))) => {
                tracing::error!(projection = name, event_id = %envelope.id, error = %e, "cannot project event");
                Ok(())
            }
            Err((name, source)) => Err(RelayError::Projection { name, source }),
        }
    }

    /// Runs until `cancel` fires: drains the outbox whenever triggered or
    /// every idle poll, backing off (up to 5 s) while the bus or store fails.
    pub async fn run(self, cancel: CancellationToken) {
        // From the start, so an alert on its increase can fire on the first.
        metrics::counter!("erp_outbox_quarantined_total", "service" => self.service).increment(0);
        let mut backoff = Duration::from_millis(100);
        let mut idle = self.idle_poll;
        loop {
            let wait = match self.pass().await {
                Ok(Pass { full: true, .. }) => continue,
                Ok(Pass { marked: 0, .. }) => {
                    backoff = Duration::from_millis(100);
                    let wait = idle;
                    idle = (idle * 2).min(self.max_idle_poll);
                    wait
                }
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    idle = self.idle_poll;
                    idle
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "outbox relay pass failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    wait
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.trigger.0.notified() => {
                    idle = self.idle_poll;
                    // Woken by a command: let the commands already runnable
                    // commit first, so one pass takes their records
                    // together instead of one pass per command.
                    tokio::task::yield_now().await;
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use erp_core::{EventEnvelope, EventId, Projection, RawEnvelope, Timestamp};
    use erp_store::{
        OutboxRecord, WriteStore,
        memory::{MemoryOutbox, MemoryWriteStore},
    };

    use super::*;
    use crate::{Delivery, Disposition, MessageHandler, Subscription, memory::MemoryBus};

    fn record(event_type: &str, publish: bool) -> OutboxRecord {
        let env: RawEnvelope = EventEnvelope {
            id: EventId::new(),
            event_type: event_type.into(),
            version: 1,
            occurred_at: Timestamp::now(),
            source: "test".into(),
            correlation_id: "c".into(),
            causation_id: "c".into(),
            data: serde_json::json!({}),
        };
        OutboxRecord {
            envelope: env,
            publish,
            traceparent: None,
        }
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    #[async_trait]
    impl Projection for Seen {
        fn name(&self) -> &'static str {
            "seen"
        }
        fn handles(&self, _: &str) -> bool {
            true
        }
        async fn project(&self, e: &RawEnvelope) -> Result<(), ProjectionError> {
            self.0.lock().unwrap().push(e.event_type.clone());
            Ok(())
        }
    }

    struct Forward(tokio::sync::mpsc::UnboundedSender<Delivery>);

    #[async_trait]
    impl MessageHandler for Forward {
        async fn handle(&self, d: &Delivery) -> Disposition {
            let _ = self.0.send(d.clone());
            Disposition::Ack
        }
    }

    #[tokio::test]
    async fn projects_everything_publishes_only_public_events_and_empties_the_outbox() {
        let outbox = MemoryOutbox::new();
        let store = MemoryWriteStore::<u8>::new(outbox.clone());
        let bus = MemoryBus::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _sub = bus
            .subscribe(
                Subscription::new("q", &["thing.done"]),
                Arc::new(Forward(tx)),
            )
            .await
            .unwrap();
        let local = record("thing.local", false);
        let public = record("thing.done", true);
        store
            .insert("1", 1, vec![local, public.clone()])
            .await
            .unwrap();
        let seen = Arc::new(Seen::default());
        let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(bus))
            .with_projections(Projections::new(vec![seen.clone()]));

        assert_eq!(relay.relay_once().await.unwrap(), 2);
        assert_eq!(*seen.0.lock().unwrap(), vec!["thing.local", "thing.done"]);
        let got = rx.recv().await.unwrap();
        assert_eq!(got.message_id, Some(public.id().to_string()));
        assert!(rx.try_recv().is_err(), "the local event is not published");
        assert_eq!(outbox.backlog().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn events_projected_inline_are_published_but_not_projected_again() {
        let outbox = MemoryOutbox::new();
        let store = MemoryWriteStore::<u8>::new(outbox.clone());
        let seen = Arc::new(Seen::default());
        let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(MemoryBus::new()))
            .with_projections(Projections::new(vec![seen.clone()]));
        let handle = relay.handle();
        // A command's write, projected inline by its handler.
        let inline = record("thing.local", false);
        store.insert("1", 1, vec![inline.clone()]).await.unwrap();
        handle.committed(std::slice::from_ref(&inline)).await;
        // A write whose inline projection never ran (the process died there).
        let orphan = record("thing.orphan", false);
        store.insert("2", 2, vec![orphan]).await.unwrap();

        assert_eq!(relay.relay_once().await.unwrap(), 2);
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec!["thing.local", "thing.orphan"],
            "the inline projection once, the orphan by the relay"
        );
        assert_eq!(outbox.backlog().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn local_events_projected_inline_leave_the_outbox_unread() {
        let memory = MemoryOutbox::new();
        let outbox = Watched::over(memory.clone());
        let store = MemoryWriteStore::<u8>::new(memory.clone());
        let seen = Arc::new(Seen::default());
        let relay = OutboxRelay::new(outbox.clone(), Arc::new(MemoryBus::new()))
            .with_projections(Projections::new(vec![seen.clone()]));
        let handle = relay.handle();
        let local = record("thing.local", false);
        store.insert("1", 1, vec![local.clone()]).await.unwrap();
        handle.committed(std::slice::from_ref(&local)).await;

        assert_eq!(relay.relay_once().await.unwrap(), 1);
        assert_eq!(memory.backlog().await.unwrap(), 0);
        assert!(
            outbox.read.lock().unwrap().is_empty(),
            "read back: {:?}",
            outbox.read.lock().unwrap()
        );
        assert_eq!(
            *seen.0.lock().unwrap(),
            vec!["thing.local"],
            "projected once"
        );
        assert_eq!(relay.relay_once().await.unwrap(), 0, "marked once");
    }

    #[tokio::test]
    async fn keeps_events_the_bus_refused_and_sends_them_later() {
        let outbox = MemoryOutbox::new();
        let store = MemoryWriteStore::<u8>::new(outbox.clone());
        let bus = MemoryBus::new();
        let rec = record("thing.done", true);
        store.insert("1", 1, vec![rec.clone()]).await.unwrap();
        let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(bus.clone()));

        let err = relay.relay_once().await.unwrap_err();
        assert!(matches!(err, RelayError::Bus(BusError::Unroutable(_))));
        assert_eq!(outbox.backlog().await.unwrap(), 1, "nothing is lost");

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _sub = bus
            .subscribe(Subscription::new("q", &["thing.*"]), Arc::new(Forward(tx)))
            .await
            .unwrap();
        assert_eq!(relay.relay_once().await.unwrap(), 1);
        assert_eq!(
            rx.recv().await.unwrap().message_id,
            Some(rec.id().to_string())
        );
        assert_eq!(outbox.backlog().await.unwrap(), 0);
    }

    /// A memory outbox that remembers the relay's looks: how many, and the
    /// ids they returned.
    #[derive(Default)]
    struct Watched {
        inner: MemoryOutbox,
        looks: std::sync::atomic::AtomicUsize,
        read: Mutex<Vec<EventId>>,
    }

    impl Watched {
        fn over(inner: MemoryOutbox) -> Arc<Self> {
            Arc::new(Self {
                inner,
                ..Self::default()
            })
        }

        fn looks(&self) -> usize {
            self.looks.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Outbox for Watched {
        async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, erp_store::StoreError> {
            self.looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let records = self.inner.pending(limit).await?;
            let ids = records.iter().map(|r| r.id());
            self.read.lock().unwrap().extend(ids);
            Ok(records)
        }
        async fn mark_sent(&self, ids: &[EventId]) -> Result<(), erp_store::StoreError> {
            self.inner.mark_sent(ids).await
        }
        async fn backlog(&self) -> Result<u64, erp_store::StoreError> {
            self.inner.backlog().await
        }
        async fn quarantine(&self, id: EventId, reason: &str) -> Result<(), erp_store::StoreError> {
            self.inner.quarantine(id, reason).await
        }
    }

    /// A projection that can never project events of type `poison`.
    struct RefusesPoison;

    #[async_trait]
    impl Projection for RefusesPoison {
        fn name(&self) -> &'static str {
            "refuses-poison"
        }
        fn handles(&self, _: &str) -> bool {
            true
        }
        async fn project(&self, e: &RawEnvelope) -> Result<(), ProjectionError> {
            if e.event_type == "poison" {
                Err(ProjectionError::Store("document too large".into()))
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn a_record_that_always_fails_is_quarantined_and_the_others_flow_in_order() {
        let outbox = MemoryOutbox::new();
        let store = MemoryWriteStore::<u8>::new(outbox.clone());
        let poison = record("poison", true);
        let behind = record("thing.done", true);
        let other = record("thing.done", true);
        store.insert("a", 1, vec![poison.clone()]).await.unwrap();
        store.update("a", 1, 2, vec![behind.clone()]).await.unwrap();
        store.insert("b", 1, vec![other.clone()]).await.unwrap();
        let bus = MemoryBus::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _sub = bus
            .subscribe(
                Subscription::new("q", &["thing.done"]),
                Arc::new(Forward(tx)),
            )
            .await
            .unwrap();
        let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(bus))
            .with_projections(Projections::new(vec![Arc::new(RefusesPoison)]))
            .with_quarantine_after(3, Duration::ZERO);
        // Until the limit the relay stops at the poison: nothing overtakes it.
        for pass in 1..3 {
            assert!(relay.relay_once().await.is_err(), "pass {pass}");
            assert_eq!(outbox.backlog().await.unwrap(), 3);
        }
        assert!(rx.try_recv().is_err());
        // The third failure quarantines it; the next pass sends the others.
        assert_eq!(relay.relay_once().await.unwrap(), 0);
        assert_eq!(outbox.quarantined().len(), 1);
        assert_eq!(outbox.quarantined()[0].0, poison.id());
        assert!(outbox.quarantined()[0].1.contains("document too large"));
        assert_eq!(relay.relay_once().await.unwrap(), 1);
        let got = rx.recv().await.unwrap();
        assert_eq!(got.message_id, Some(other.id().to_string()));
        assert!(
            rx.try_recv().is_err(),
            "its aggregate's later event is held"
        );
        assert_eq!(outbox.backlog().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn failures_within_the_minimum_time_do_not_quarantine() {
        let outbox = MemoryOutbox::new();
        let store = MemoryWriteStore::<u8>::new(outbox.clone());
        store
            .insert("a", 1, vec![record("poison", true)])
            .await
            .unwrap();
        let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(MemoryBus::new()))
            .with_projections(Projections::new(vec![Arc::new(RefusesPoison)]))
            .with_quarantine_after(1, Duration::from_secs(3600));
        for _ in 0..5 {
            assert!(relay.relay_once().await.is_err());
        }
        assert!(
            outbox.quarantined().is_empty(),
            "a brief failure is no reason"
        );
        assert_eq!(outbox.backlog().await.unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_relay_looks_less_and_less_often_and_a_trigger_wakes_it() {
        let memory = MemoryOutbox::new();
        let outbox = Watched::over(memory.clone());
        let looks = || outbox.looks();
        let bus = MemoryBus::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _sub = bus
            .subscribe(Subscription::new("q", &["thing.*"]), Arc::new(Forward(tx)))
            .await
            .unwrap();
        let relay = OutboxRelay::new(outbox.clone(), Arc::new(bus));
        let trigger = relay.trigger();
        let cancel = CancellationToken::new();
        let running = tokio::spawn(relay.run(cancel.clone()));

        // A minute of nothing: 0.5 s, doubling, at most 5 s apart — about
        // 15 looks, where a fixed 500 ms poll would look 120 times.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let idle_looks = looks();
        assert!((10..=20).contains(&idle_looks), "{idle_looks} looks");

        // A write of this instance wakes it at once, however long it idled.
        let store = MemoryWriteStore::<u8>::new(memory);
        let rec = record("thing.done", true);
        store.insert("1", 1, vec![rec.clone()]).await.unwrap();
        trigger.notify();
        let got = tokio::time::timeout(Duration::from_millis(10), rx.recv())
            .await
            .expect("relayed right after the trigger")
            .unwrap();
        assert_eq!(got.message_id, Some(rec.id().to_string()));
        cancel.cancel();
        running.await.unwrap();
    }
}
