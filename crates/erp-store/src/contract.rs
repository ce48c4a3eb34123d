//! Generic contract suites: every adapter of a port must pass the same one.
//!
//! Call them from a test with a fresh, empty instance of your adapter:
//!
//! ```
//! # tokio_test_shim::block_on(async {
//! use erp_store::{contract, memory::*};
//! let outbox = MemoryOutbox::new();
//! contract::write_store(&MemoryWriteStore::new(outbox.clone()), &outbox).await;
//! let outbox = MemoryOutbox::new();
//! contract::outbox_quarantine(&MemoryWriteStore::new(outbox.clone()), &outbox).await;
//! contract::read_model(&MemoryReadModel::new()).await;
//! contract::idempotency(&MemoryIdempotency::default()).await;
//! contract::inbox(&MemoryInbox::new()).await;
//! # });
//! # mod tokio_test_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output { futures::executor::block_on(f) } }
//! ```
//!
//! Each suite panics with a message naming the broken guarantee.

use std::time::Duration;

use erp_core::{EventEnvelope, EventId, RawEnvelope, Timestamp};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    Claim, Filter, IdempotencyStore, Inbox, Order, Outbox, OutboxRecord, ReadModel, StoreError,
    StoredResponse, ViewQuery, WriteStore,
};

/// The aggregate the write-store suite stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleAggregate {
    /// Some state.
    pub name: String,
    /// Some more.
    pub count: i64,
}

/// The view the read-model suite stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleView {
    /// Unique id.
    pub id: String,
    /// A timestamp in canonical text form.
    pub at: String,
    /// An integer.
    pub total: i64,
    /// Nested items, to test array paths.
    pub lines: Vec<SampleLine>,
}

/// A line of a [`SampleView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleLine {
    /// Filterable through `lines.product_id`.
    pub product_id: String,
    /// Summable.
    pub quantity: i64,
}

fn event(n: i64) -> OutboxRecord {
    let env: RawEnvelope = EventEnvelope {
        id: EventId::new(),
        event_type: "sample.happened".into(),
        version: 1,
        occurred_at: Timestamp::now(),
        source: "contract".into(),
        correlation_id: "c".into(),
        causation_id: "c".into(),
        data: json!({ "n": n }),
    };
    OutboxRecord::published(env)
}

/// Write store + outbox: inserts, duplicate ids, optimistic updates, atomic outbox.
pub async fn write_store<W, O>(store: &W, outbox: &O)
where
    W: WriteStore<SampleAggregate> + ?Sized,
    O: Outbox + ?Sized,
{
    let a = SampleAggregate {
        name: "a".into(),
        count: 1,
    };
    assert!(
        store.get("a").await.unwrap().is_none(),
        "store must start empty"
    );
    let first = event(1);
    store
        .insert("a", a.clone(), vec![first.clone()])
        .await
        .unwrap();
    let got = store
        .get("a")
        .await
        .unwrap()
        .expect("inserted aggregate is readable");
    assert_eq!((got.value, got.version), (a.clone(), 1));

    let dup = store.insert("a", a.clone(), vec![event(2)]).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "a duplicate id must be a conflict, got {dup:?}"
    );

    let b = SampleAggregate {
        name: "a".into(),
        count: 2,
    };
    let second = event(3).with_traceparent(Some(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    ));
    let v = store
        .update("a", 1, b.clone(), vec![second.clone()])
        .await
        .unwrap();
    assert_eq!(v, 2, "an update bumps the version");
    let stale = store.update("a", 1, a.clone(), vec![event(4)]).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "a stale expected version must be a conflict, got {stale:?}"
    );
    let missing = store.update("zz", 1, a.clone(), vec![event(5)]).await;
    assert!(matches!(missing, Err(StoreError::Conflict(_))));
    assert_eq!(store.get("a").await.unwrap().unwrap().value, b);

    // Only the events of successful writes are in the outbox, oldest first.
    let pending = outbox.pending(100).await.unwrap();
    let ids: Vec<_> = pending.iter().map(OutboxRecord::id).collect();
    assert_eq!(
        ids,
        vec![first.id(), second.id()],
        "outbox holds exactly the committed events"
    );
    assert_eq!(pending[0], first, "outbox records round-trip unchanged");
    assert_eq!(pending[1], second, "trace context included");
    assert_eq!(outbox.backlog().await.unwrap(), 2);
    outbox.mark_sent(&[first.id()]).await.unwrap();
    outbox.mark_sent(&[first.id()]).await.unwrap();
    let ids: Vec<_> = outbox
        .pending(100)
        .await
        .unwrap()
        .iter()
        .map(OutboxRecord::id)
        .collect();
    assert_eq!(
        ids,
        vec![second.id()],
        "marking sent removes a record, twice is harmless"
    );
    assert_eq!(
        outbox.pending(0).await.unwrap().len(),
        0,
        "limit is honoured"
    );

    store.insert("b", a.clone(), vec![]).await.unwrap();
    let all: Vec<_> = store
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.value.count)
        .collect();
    assert_eq!(all, vec![2, 1], "all() lists every aggregate in id order");
}

fn view(id: &str, at: &str, total: i64, products: &[(&str, i64)]) -> SampleView {
    SampleView {
        id: id.into(),
        at: at.into(),
        total,
        lines: products
            .iter()
            .map(|(p, q)| SampleLine {
                product_id: (*p).into(),
                quantity: *q,
            })
            .collect(),
    }
}

/// Read model: upsert, get, filters (with array paths), sort, paging, totals, clear.
pub async fn read_model<R: ReadModel<SampleView> + ?Sized>(rm: &R) {
    let v1 = view("1", "2026-01-01", 10, &[("p", 1), ("q", 2)]);
    let v2 = view("2", "2026-01-02", 30, &[("q", 5)]);
    let v3 = view("3", "2026-01-03", 20, &[("p", 7)]);
    for v in [&v1, &v2, &v3] {
        rm.upsert(&v.id, v.clone()).await.unwrap();
    }
    rm.upsert("3", v3.clone()).await.unwrap();
    assert_eq!(rm.get("2").await.unwrap(), Some(v2.clone()));
    assert_eq!(rm.get("nope").await.unwrap(), None);

    let by_date_desc = ViewQuery {
        filters: vec![],
        sort: vec![("at".into(), Order::Desc)],
        page: 1,
        page_size: 2,
    };
    let page = rm.query(&by_date_desc).await.unwrap();
    assert_eq!(page.total_items, 3, "upserting twice keeps one view");
    assert_eq!(page.items, vec![v3.clone(), v2.clone()]);
    let page2 = rm
        .query(&ViewQuery {
            page: 2,
            ..by_date_desc.clone()
        })
        .await
        .unwrap();
    assert_eq!(page2.items, vec![v1.clone()]);
    assert_eq!(page2.total_items, 3);

    let filtered = rm
        .query(&ViewQuery {
            filters: vec![
                Filter::Eq("lines.product_id".into(), json!("p")),
                Filter::Gte("at".into(), json!("2026-01-01")),
                Filter::Lte("at".into(), json!("2026-01-02")),
            ],
            sort: vec![("total".into(), Order::Asc)],
            page: 1,
            page_size: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        filtered.items,
        vec![v1.clone()],
        "array path and range filters combine"
    );

    let by_total = rm
        .query(&ViewQuery {
            filters: vec![],
            sort: vec![("total".into(), Order::Asc)],
            page: 1,
            page_size: 10,
        })
        .await
        .unwrap();
    let totals: Vec<_> = by_total.items.iter().map(|v| v.total).collect();
    assert_eq!(totals, vec![10, 20, 30], "integers sort numerically");

    let t = rm
        .totals(&[Filter::Gte("at".into(), json!("2026-01-02"))], &["total"])
        .await
        .unwrap();
    assert_eq!((t.count, t.sums), (2, vec![50]));
    let none = rm
        .totals(&[Filter::Eq("id".into(), json!("x"))], &["total"])
        .await
        .unwrap();
    assert_eq!((none.count, none.sums), (0, vec![0]));

    rm.clear().await.unwrap();
    assert_eq!(
        rm.query(&ViewQuery::everything())
            .await
            .unwrap()
            .total_items,
        0
    );
}

/// Idempotency: claim, replay, mismatch, release, scopes, concurrent claims.
pub async fn idempotency<S: IdempotencyStore + ?Sized>(store: &S) {
    let answer = StoredResponse {
        status: 201,
        body: br#"{"id":"1"}"#.to_vec(),
        location: Some("/things/1".into()),
    };
    assert_eq!(
        store.claim("POST /x", "k1", "f1").await.unwrap(),
        Claim::Acquired
    );
    assert_eq!(
        store.claim("POST /x", "k1", "f1").await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        store.claim("POST /x", "k1", "f2").await.unwrap(),
        Claim::Mismatch
    );
    store
        .complete("POST /x", "k1", answer.clone())
        .await
        .unwrap();
    assert_eq!(
        store.claim("POST /x", "k1", "f1").await.unwrap(),
        Claim::Replay(answer.clone()),
        "a completed key replays its answer"
    );
    assert_eq!(
        store.claim("POST /x", "k1", "f2").await.unwrap(),
        Claim::Mismatch
    );
    assert_eq!(
        store.claim("POST /y", "k1", "f2").await.unwrap(),
        Claim::Acquired,
        "keys are scoped by route"
    );

    assert_eq!(
        store.claim("POST /x", "k2", "f").await.unwrap(),
        Claim::Acquired
    );
    store.release("POST /x", "k2").await.unwrap();
    assert_eq!(
        store.claim("POST /x", "k2", "f").await.unwrap(),
        Claim::Acquired,
        "a released key is processed afresh"
    );

    let claims = join_all((0..16).map(|_| store.claim("POST /x", "race", "f"))).await;
    let acquired = claims
        .iter()
        .filter(|c| matches!(c, Ok(Claim::Acquired)))
        .count();
    assert_eq!(acquired, 1, "exactly one concurrent claim wins: {claims:?}");
}

/// Outbox quarantine: a quarantined record, and every later record of its
/// aggregate, leave `pending` and the backlog; other aggregates flow on.
/// Wants an empty store and outbox.
pub async fn outbox_quarantine<W, O>(store: &W, outbox: &O)
where
    W: WriteStore<SampleAggregate> + ?Sized,
    O: Outbox + ?Sized,
{
    let sample = |count| SampleAggregate {
        name: "q".into(),
        count,
    };
    let (bad, behind, other) = (event(1), event(2), event(3));
    store
        .insert("q-held", sample(1), vec![bad.clone()])
        .await
        .unwrap();
    store
        .update("q-held", 1, sample(2), vec![behind.clone()])
        .await
        .unwrap();
    store
        .insert("q-other", sample(1), vec![other.clone()])
        .await
        .unwrap();
    let ids = |records: Vec<OutboxRecord>| records.iter().map(OutboxRecord::id).collect::<Vec<_>>();
    assert_eq!(
        ids(outbox.pending(10).await.unwrap()),
        [bad.id(), behind.id(), other.id()]
    );
    outbox.quarantine(bad.id(), "cannot project").await.unwrap();
    assert_eq!(
        ids(outbox.pending(10).await.unwrap()),
        [other.id()],
        "the quarantined record and those behind it in its aggregate are held"
    );
    assert_eq!(outbox.backlog().await.unwrap(), 1);
    outbox.mark_sent(&[other.id()]).await.unwrap();
    assert!(outbox.pending(10).await.unwrap().is_empty());
    assert_eq!(outbox.backlog().await.unwrap(), 0);
    outbox.quarantine(EventId::new(), "unknown").await.unwrap();
}

/// Many claims of one new key at once, each on its own task (run this on a
/// multi-threaded runtime, so they truly overlap): exactly one wins, the
/// others see it in progress. Races `rounds` fresh keys.
pub async fn idempotency_race<S: IdempotencyStore + 'static>(
    store: std::sync::Arc<S>,
    rounds: usize,
) {
    const CLAIMANTS: usize = 32;
    for round in 0..rounds {
        let key = format!("race-{round}");
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(CLAIMANTS));
        let tasks: Vec<_> = (0..CLAIMANTS)
            .map(|_| {
                let (store, start, key) = (store.clone(), start.clone(), key.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    store.claim("POST /race", &key, "f").await
                })
            })
            .collect();
        let mut claims = Vec::new();
        for t in tasks {
            claims.push(t.await.expect("a claim task panicked"));
        }
        let acquired = claims
            .iter()
            .filter(|c| matches!(c, Ok(Claim::Acquired)))
            .count();
        assert_eq!(
            acquired, 1,
            "exactly one of {CLAIMANTS} racing claims wins: {claims:?}"
        );
        assert!(
            claims
                .iter()
                .all(|c| matches!(c, Ok(Claim::Acquired | Claim::InProgress))),
            "{claims:?}"
        );
    }
}

/// An idempotency store built to keep records `retention` (keep it short,
/// say 300 ms: this waits past it) forgets a key once that has passed since
/// its last write: the same key is then acquired afresh, with any body.
pub async fn idempotency_expires<S: IdempotencyStore + ?Sized>(store: &S, retention: Duration) {
    let answer = StoredResponse {
        status: 201,
        body: br#"{"id":"1"}"#.to_vec(),
        location: None,
    };
    assert_eq!(
        store.claim("POST /x", "old", "f1").await.unwrap(),
        Claim::Acquired
    );
    store
        .complete("POST /x", "old", answer.clone())
        .await
        .unwrap();
    assert_eq!(
        store.claim("POST /x", "old", "f1").await.unwrap(),
        Claim::Replay(answer),
        "kept within the retention"
    );
    tokio::time::sleep(retention + retention / 2).await;
    assert_eq!(
        store.claim("POST /x", "old", "f2").await.unwrap(),
        Claim::Acquired,
        "expired: the key is new again, whatever the body"
    );
    assert_eq!(
        store.claim("POST /x", "old", "f2").await.unwrap(),
        Claim::InProgress,
        "and claimed by that request"
    );
}

/// The [`Inbox`] port: an event is recorded once per consumer, consumers
/// are independent, and `insert` reports whether the record is new.
pub async fn inbox<I: Inbox + ?Sized>(inbox: &I) {
    let (a, b) = (EventId::new(), EventId::new());
    assert!(
        !inbox.contains("mailer", a).await.unwrap(),
        "an empty inbox holds nothing"
    );
    assert!(
        inbox.insert("mailer", a).await.unwrap(),
        "the first insert is new"
    );
    assert!(
        inbox.contains("mailer", a).await.unwrap(),
        "then it is held"
    );
    assert!(
        !inbox.insert("mailer", a).await.unwrap(),
        "a second insert of the same event is not new"
    );
    assert!(
        !inbox.contains("mailer", b).await.unwrap(),
        "another event is not held"
    );
    assert!(
        !inbox.contains("auditor", a).await.unwrap(),
        "another consumer has its own records"
    );
    assert!(inbox.insert("auditor", a).await.unwrap());
}

/// [`Inbox`] records are forgotten after `retention` (keep it short: this
/// waits it out once), and an event may then be recorded afresh.
pub async fn inbox_expires<I: Inbox + ?Sized>(inbox: &I, retention: Duration) {
    let e = EventId::new();
    assert!(inbox.insert("mailer", e).await.unwrap());
    assert!(
        inbox.contains("mailer", e).await.unwrap(),
        "kept within the retention"
    );
    tokio::time::sleep(retention + retention / 2).await;
    assert!(
        !inbox.contains("mailer", e).await.unwrap(),
        "forgotten after the retention"
    );
    assert!(
        inbox.insert("mailer", e).await.unwrap(),
        "and new again when recorded afresh"
    );
    assert!(inbox.contains("mailer", e).await.unwrap());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryIdempotency, MemoryOutbox, MemoryReadModel, MemoryWriteStore};

    #[tokio::test]
    async fn memory_write_store_passes_the_contract() {
        let outbox = MemoryOutbox::new();
        write_store(&MemoryWriteStore::new(outbox.clone()), &outbox).await;
    }

    #[tokio::test]
    async fn memory_read_model_passes_the_contract() {
        read_model(&MemoryReadModel::new()).await;
    }

    #[tokio::test]
    async fn memory_idempotency_passes_the_contract() {
        idempotency(&MemoryIdempotency::default()).await;
    }

    #[tokio::test]
    async fn lapsed_claims_can_be_taken_over() {
        let store = MemoryIdempotency::new(std::time::Duration::ZERO);
        assert_eq!(store.claim("s", "k", "f").await.unwrap(), Claim::Acquired);
        assert_eq!(store.claim("s", "k", "f").await.unwrap(), Claim::Acquired);
    }
}
