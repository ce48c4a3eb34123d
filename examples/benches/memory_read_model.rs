//! The in-memory read model's own cost per call, in the build the binaries
//! ship (this crate pulls in the MongoDB driver, whose `bson` turns on
//! serde_json's `preserve_order`, as it does in every service): a projection's
//! upsert of a new view, a read by id, and a list query (one filter, a sort
//! key, a page of 20) over 10,000 views.
//!
//! `cargo bench -p erp-examples --bench memory_read_model`

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use criterion::{Criterion, criterion_group, criterion_main};
use erp_store::{Filter, Order, ReadModel, ViewQuery, memory::MemoryReadModel};
use serde::{Deserialize, Serialize};

/// The shape of inventory's product view, plus a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct View {
    id: String,
    name: String,
    unit: String,
    quantity: i64,
}

fn view(n: u64) -> View {
    View {
        id: format!("P-{n:08}"),
        name: format!("product {}", n % 997),
        unit: ["pcs", "kg", "l", "m", "box"][(n % 5) as usize].to_owned(),
        quantity: (n % 100) as i64,
    }
}

const VIEWS: u64 = 10_000;

fn read_model(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("memory read model");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    let model = MemoryReadModel::<View>::new();
    rt.block_on(async {
        for n in 0..VIEWS {
            model.upsert(&view(n).id, view(n)).await.unwrap();
        }
    });

    // A model of its own: the upserts add millions of views.
    let growing = MemoryReadModel::<View>::new();
    let next = AtomicU64::new(0);
    group.bench_function("upsert a new view", |b| {
        b.to_async(&rt).iter(|| {
            let v = view(next.fetch_add(1, Ordering::Relaxed));
            let growing = &growing;
            async move { growing.upsert(&v.id.clone(), v).await.unwrap() }
        });
    });

    group.bench_function("get by id", |b| {
        b.to_async(&rt)
            .iter(|| async { model.get("P-00004242").await.unwrap().unwrap() });
    });

    let query = ViewQuery {
        filters: vec![Filter::Eq("unit".into(), "kg".into())],
        sort: vec![("name".into(), Order::Asc), ("id".into(), Order::Asc)],
        page: 1,
        page_size: 20,
    };
    group.bench_function("query: filter, sort, page of 20 (10k views)", |b| {
        b.to_async(&rt)
            .iter(|| async { model.query(&query).await.unwrap() });
    });
    group.finish();
}

criterion_group!(benches, read_model);
criterion_main!(benches);
