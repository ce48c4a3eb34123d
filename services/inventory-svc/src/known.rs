//! Products and stores this process has seen in the write model.
//!
//! Every stock check, purchase check and consumed event asks whether its
//! products and store exist. Both are write-once (never changed, never
//! deleted), so once seen, the answer holds for the life of the process and
//! needs no invalidation; only misses go to the database. The cache is
//! bounded by the catalogue.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use erp_core::{ProductId, StoreId};

use crate::catalog::Store;

/// The cache. std Mutexes: held for one map operation, never across `.await`.
#[derive(Debug, Default)]
pub struct Known {
    products: Mutex<HashSet<ProductId>>,
    stores: Mutex<HashMap<StoreId, Store>>,
}

impl Known {
    pub(crate) fn has_product(&self, id: &ProductId) -> bool {
        lock(&self.products).contains(id)
    }

    pub(crate) fn add_product(&self, id: ProductId) {
        lock(&self.products).insert(id);
    }

    pub(crate) fn has_store(&self, id: &StoreId) -> bool {
        lock(&self.stores).contains_key(id)
    }

    pub(crate) fn store(&self, id: &StoreId) -> Option<Store> {
        lock(&self.stores).get(id).cloned()
    }

    pub(crate) fn add_store(&self, store: Store) {
        lock(&self.stores).insert(store.id.clone(), store);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
