//! The MongoDB adapter against a real MongoDB-compatible server
//! (`scripts/ferretdb.sh` starts FerretDB). Fails, never skips, when the
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
