//! The MongoDB adapter against a real MongoDB-compatible server
//! (`scripts/mongodb.sh` starts the test server). Fails, never skips, when the
//! server cannot be reached. Each test uses a fresh database.
#![cfg(feature = "mongodb")]

use erp_store::mongo::testing as mongo;
use std::time::Duration;

use erp_store::{contract, mongo::MongoStore};

#[tokio::test]
async fn mongo_write_store_passes_the_contract() {
    let db = mongo::fresh_database("erp_test").await;
    let store = db.write_store("aggregates");
    contract::write_store(&store, &db.outbox()).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_outbox_passes_the_quarantine_contract() {
    let db = mongo::fresh_database("erp_test").await;
    let store = db.write_store("aggregates");
    contract::outbox_quarantine(&store, &db.outbox()).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_unreadable_outbox_entry_is_quarantined_and_stalls_only_its_aggregate() {
    use erp_store::{Outbox, WriteStore};
    use mongodb::bson::{Document, doc};
    let db = mongo::fresh_database("erp_test").await;
    let store = db.write_store::<contract::SampleAggregate>("aggregates");
    let outbox = db.outbox();
    let sample = contract::SampleAggregate {
        name: "x".into(),
        count: 1,
    };
    let (broken, fine) = (outbox_record(), outbox_record());
    store
        .insert("broken", sample.clone(), vec![broken.clone()])
        .await
        .unwrap();
    store
        .insert("fine", sample, vec![fine.clone()])
        .await
        .unwrap();
    // Someone edits the stored entry into something no relay can read.
    let aggregates = db.database().collection::<Document>("aggregates");
    aggregates
        .update_one(
            doc! {"_id": "broken"},
            doc! {"$set": {format!("outbox.{}.envelope", broken.id()): "{not json"}},
        )
        .await
        .unwrap();
    let pending = outbox
        .pending(10)
        .await
        .expect("one bad entry does not fail the look");
    assert_eq!(
        pending.iter().map(|r| r.id()).collect::<Vec<_>>(),
        [fine.id()]
    );
    let marked = aggregates
        .find_one(doc! {"_id": "broken"})
        .await
        .unwrap()
        .unwrap();
    let reason = marked
        .get_document("outbox_quarantine")
        .unwrap()
        .get_str(broken.id().to_string())
        .unwrap();
    assert!(reason.starts_with("unreadable"), "{reason}");
    assert_eq!(
        outbox.backlog().await.unwrap(),
        1,
        "only the readable one waits"
    );
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_read_model_passes_the_contract() {
    let db = mongo::fresh_database("erp_test").await;
    contract::read_model(&db.read_model("views")).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_idempotency_passes_the_contract() {
    let db = mongo::fresh_database("erp_test").await;
    contract::idempotency(&db.idempotency(Duration::from_secs(30))).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_inbox_passes_the_contract() {
    let db = mongo::fresh_database("erp_test").await;
    contract::inbox(&db.inbox()).await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_inbox_records_expire() {
    let db = mongo::fresh_database("erp_test").await;
    let retention = Duration::from_millis(300);
    let inbox = db.inbox().with_retention(retention);
    inbox.ensure_expiry_index().await.unwrap();
    contract::inbox_expires(&inbox, retention).await;
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongo_idempotency_claims_race_on_many_tasks() {
    let db = mongo::fresh_database("erp_test").await;
    contract::idempotency_race(
        std::sync::Arc::new(db.idempotency(Duration::from_secs(30))),
        5,
    )
    .await;
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn mongo_idempotency_records_expire() {
    let db = mongo::fresh_database("erp_test").await;
    let retention = Duration::from_millis(300);
    let records = db
        .idempotency(Duration::from_secs(30))
        .with_retention(retention);
    records.ensure_expiry_index().await.unwrap();
    records.ensure_expiry_index().await.unwrap();
    contract::idempotency_expires(&records, retention).await;
    // The TTL index MongoDB expires records with (the test server keeps
    // it but does not run a TTL monitor; claims expire records anyway).
    let indexes = db
        .database()
        .collection::<mongodb::bson::Document>("idempotency")
        .list_index_names()
        .await
        .unwrap();
    assert!(indexes.iter().any(|i| i == "expires_at_ttl"), "{indexes:?}");
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn data_stays_in_its_own_database() {
    let db = mongo::fresh_database("erp_test").await;
    let store = db.write_store::<contract::SampleAggregate>("aggregates");
    erp_store::WriteStore::insert(
        &store,
        "x",
        contract::SampleAggregate {
            name: "x".into(),
            count: 1,
        },
        vec![],
    )
    .await
    .unwrap();
    let names = db.database().list_collection_names().await.unwrap();
    assert_eq!(names, ["aggregates"]);
    let other = MongoStore::connect(&mongo::uri(), &format!("{}_other", db.name()))
        .await
        .unwrap();
    assert!(
        other
            .database()
            .list_collection_names()
            .await
            .unwrap()
            .is_empty()
    );
    db.drop_database().await.unwrap();
}

fn outbox_record() -> erp_store::OutboxRecord {
    use erp_core::{EventEnvelope, EventId, Timestamp};
    erp_store::OutboxRecord {
        envelope: EventEnvelope {
            id: EventId::new(),
            event_type: "order.placed".into(),
            version: 1,
            occurred_at: Timestamp::now(),
            source: "test".into(),
            correlation_id: "c".into(),
            causation_id: "c".into(),
            data: serde_json::json!({}),
        },
        publish: true,
        traceparent: None,
    }
}

/// The ids of what the outbox holds pending, oldest first.
async fn pending_ids(outbox: &erp_store::mongo::MongoOutbox) -> Vec<erp_core::EventId> {
    use erp_store::{Outbox, OutboxRecord};
    outbox
        .pending(10)
        .await
        .unwrap()
        .iter()
        .map(OutboxRecord::id)
        .collect()
}

/// The `_id`s in the database's `outbox` (pointer) collection, sorted.
async fn pointers(db: &erp_store::mongo::MongoStore) -> Vec<String> {
    let docs: Vec<mongodb::bson::Document> = futures::TryStreamExt::try_collect(
        db.database()
            .collection::<mongodb::bson::Document>("outbox")
            .find(mongodb::bson::doc! {})
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| d.get_str("_id").unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_outbox_finds_pending_events_through_pointers_and_drops_spent_ones() {
    use erp_store::{Outbox, WriteStore};
    let db = mongo::fresh_database("store_test").await;
    let store = db.write_store::<serde_json::Value>("orders");
    let outbox = db.outbox();
    let sent = outbox_record();
    store
        .insert("a", serde_json::json!({"n": 1}), vec![sent.clone()])
        .await
        .unwrap();
    store
        .insert(
            "b",
            serde_json::json!({"n": 2}),
            vec![outbox_record(), outbox_record()],
        )
        .await
        .unwrap();
    store
        .insert("c", serde_json::json!({"n": 3}), vec![])
        .await
        .unwrap();
    assert_eq!(
        pointers(&db).await,
        ["orders\na", "orders\nb"],
        "no events, no pointer"
    );
    outbox.mark_sent(&[sent.envelope.id]).await.unwrap();
    let pending = outbox.pending(10).await.unwrap();
    assert_eq!(pending.len(), 2, "b's two events only");
    assert_eq!(outbox.backlog().await.unwrap(), 2);
    assert_eq!(
        pointers(&db).await,
        ["orders\nb"],
        "a look drops a spent pointer"
    );
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn another_instance_finds_what_one_wrote_and_did_not_relay() {
    use erp_store::{Outbox, WriteStore};
    let db = mongo::fresh_database("store_test").await;
    // Two connections: two processes on one database.
    let other = erp_store::mongo::MongoStore::connect(&mongo::uri(), db.name())
        .await
        .unwrap();
    let (one, two) = (outbox_record(), outbox_record());
    db.write_store::<serde_json::Value>("orders")
        .insert("x", serde_json::json!({}), vec![one.clone(), two.clone()])
        .await
        .unwrap();
    // The writer "died" before relaying: the other instance's first look
    // reads the pointers.
    let outbox = other.outbox();
    let ids = pending_ids(&outbox).await;
    assert_eq!(ids, [one.id(), two.id()], "oldest first");
    outbox.mark_sent(&ids).await.unwrap();
    assert!(outbox.pending(10).await.unwrap().is_empty());
    assert!(pointers(&db).await.is_empty(), "nothing left to point at");
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn between_sweeps_a_relay_look_reads_the_documents_this_process_wrote() {
    use erp_store::{Outbox, WriteStore};
    let db = mongo::fresh_database("store_test").await;
    let store = db.write_store::<serde_json::Value>("orders");
    let outbox = db.outbox();
    // The first look sweeps the pointers; the next ones (within
    // SWEEP_EVERY) look up what this process wrote, by `_id`.
    assert!(outbox.pending(10).await.unwrap().is_empty());
    let (one, two) = (outbox_record(), outbox_record());
    store
        .insert("x", serde_json::json!({}), vec![one.clone(), two.clone()])
        .await
        .unwrap();
    let ids = pending_ids(&outbox).await;
    assert_eq!(
        ids,
        [one.id(), two.id()],
        "found without a sweep, oldest first"
    );
    outbox.mark_sent(&[one.id()]).await.unwrap();
    let left = pending_ids(&outbox).await;
    assert_eq!(left, [two.id()]);
    outbox.mark_sent(&[two.id()]).await.unwrap();
    assert!(outbox.pending(10).await.unwrap().is_empty());
    let stored = db
        .database()
        .collection::<mongodb::bson::Document>("orders")
        .find_one(mongodb::bson::doc! {"_id": "x"})
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.get_array("outbox_ids").unwrap().is_empty(),
        "{stored}"
    );
    db.drop_database().await.unwrap();
}
