//! Helpers for tests against a real MongoDB-compatible server (what
//! `scripts/mongodb.sh` starts).

use super::MongoStore;

/// `ERP_TEST_MONGODB_URI`, else the local server.
pub fn uri() -> String {
    std::env::var("ERP_TEST_MONGODB_URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".into())
}

/// A database no other test uses, named `<prefix>_<uuid>`; panics, naming
/// the fix, when the server does not answer. Drop it when done.
pub async fn fresh_database(prefix: &str) -> MongoStore {
    let name = format!("{prefix}_{}", erp_core::EventId::new().as_uuid().simple());
    let store = MongoStore::connect(&uri(), &name)
        .await
        .expect("a valid URI");
    assert!(
        store.ping().await,
        "no MongoDB-compatible server at {}; run scripts/mongodb.sh",
        uri()
    );
    store
}
