//! Stock levels and the movements ledger.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use erp_core::{ProductId, StoreId};
use erp_service::{ApiError, http::ok, list::ListQuery};
use serde_json::json;

use crate::app::Inventory;

fn parse_pair(store_id: &str, product_id: &str) -> Result<(StoreId, ProductId), ApiError> {
    let store = StoreId::parse(store_id)
        .map_err(|_| ApiError::not_found("store_id", format!("no store {store_id}")))?;
    let product = ProductId::parse(product_id)
        .map_err(|_| ApiError::not_found("product_id", format!("no product {product_id}")))?;
    Ok((store, product))
}

pub(super) async fn list_levels(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let store = q.optional("store_id", StoreId::parse);
    let product = q.optional("product_id", ProductId::parse);
    let paging = q.paging();
    q.finish()?;
    let levels = inv.ledger.levels(store.as_ref(), product.as_ref()).await?;
    let rows: Vec<_> = levels
        .into_iter()
        .map(|l| {
            json!({
                "store_id": l.store_id,
                "product_id": l.product_id,
                "on_hand": l.on_hand,
                "oversold": l.on_hand < 0,
                "updated_at": l.updated_at,
            })
        })
        .collect();
    Ok(ok(&paging.slice(rows)))
}

pub(super) async fn get_level(
    State(inv): State<Inventory>,
    Path((store_id, product_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (store, product) = parse_pair(&store_id, &product_id)?;
    let on_hand = inv.on_hand(&store, &product).await?;
    Ok(ok(
        &json!({"store_id": store, "product_id": product, "on_hand": on_hand}),
    ))
}

pub(super) async fn list_movements(
    State(inv): State<Inventory>,
    Path((store_id, product_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (store, product) = parse_pair(&store_id, &product_id)?;
    inv.require_pair(&store, &product).await?;
    Ok(ok(&inv.ledger.movements(&store, &product).await?))
}
