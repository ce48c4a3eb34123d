//! The stock-ledger path on a MongoDB-compatible server against raw driver
//! inserts, in the same run: events per second through `MongoStockLedger::
//! apply` (movement insert, one guarded level update per line, leave, cleanup)
//! versus single-document `insert_one`s of the same size. Prints figures and
//! the ratio.
//!
//! `cargo bench -p inventory-svc --bench ledger` (server from
//! `scripts/mongodb.sh`; `BENCH_EVENTS` overrides the count).

use erp_store::mongo::testing as mongo;
use std::time::Instant;

use erp_core::{EventId, ProductId, StoreId, Timestamp};
use erp_store::mongo::MongoStore;
use inventory_svc::{
    stock::{Movement, MovementKind, StockLedger},
    stock_mongo::MongoStockLedger,
};
use mongodb::bson::{Document, doc};

async fn raw_inserts(db: &MongoStore, n: usize) -> f64 {
    let c = db.database().collection::<Document>("raw");
    let start = Instant::now();
    for i in 0..n {
        c.insert_one(doc! {
            "_id": EventId::new().to_string(),
            "kind": "purchase",
            "source_id": "bench",
            "store_id": "main",
            "at": Timestamp::now().to_string(),
            "deltas": [{"product_id": format!("p{}", i % 50), "delta": 1_i64}],
            "complete": true,
        })
        .await
        .unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn ledger(db: &MongoStore, n: usize, lines: usize) -> f64 {
    let ledger = MongoStockLedger::new(db.database()).await.unwrap();
    let start = Instant::now();
    for i in 0..n {
        let m = Movement {
            event_id: EventId::new(),
            kind: MovementKind::Purchase,
            source_id: "bench".into(),
            store_id: StoreId::main(),
            at: Timestamp::now(),
            deltas: (0..lines)
                .map(|l| (ProductId::parse(&format!("p{}", (i + l) % 50)).unwrap(), 1))
                .collect(),
        };
        ledger.apply(&m).await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut rows = Vec::new();
        for round in 0..2 {
            let db = MongoStore::connect(&mongo::uri(), &format!("bench_ledger_{}", EventId::new().as_uuid().simple()))
                .await
                .unwrap();
            assert!(db.ping().await, "no MongoDB-compatible server; run scripts/mongodb.sh");
            let raw = raw_inserts(&db, n).await;
            let one = ledger(&db, n, 1).await;
            let three = ledger(&db, n, 3).await;
            db.drop_database().await.unwrap();
            println!("round {round}: raw inserts {raw:.0}/s, ledger 1 line {one:.0} events/s, 3 lines {three:.0} events/s");
            rows.push((raw, one, three));
        }
        let best = |f: fn(&(f64, f64, f64)) -> f64| rows.iter().map(f).fold(0.0, f64::max);
        let (raw, one, three) = (best(|r| r.0), best(|r| r.1), best(|r| r.2));
        println!("{n} events per run, sequential, one connection");
        println!("raw insert_one:          {raw:>8.0} docs/s");
        println!("ledger apply, 1 line:    {one:>8.0} events/s  ({:.2}× raw)", one / raw);
        println!("ledger apply, 3 lines:   {three:>8.0} events/s  ({:.2}× raw)", three / raw);
    });
}
