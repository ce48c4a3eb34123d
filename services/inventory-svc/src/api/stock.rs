//! Stock levels and the movements ledger.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use erp_core::{ProductId, StoreId};
use erp_service::{
    ApiError,
    http::ok,
    list::{IdFilterParams, ListQuery, NoQuery, PageParamsAsc, PageParamsDesc, Paging},
    rules::text_id_schema,
};
use erp_store::Order;
use serde_json::json;

use erp_service::openapi::ErrorBody;

use crate::{
    app::Inventory,
    stock::{LedgerEntry, Window},
};

/// The store-side window of a list request.
pub(super) fn window(paging: &Paging) -> Window {
    Window {
        order: paging.order,
        skip: paging.skip(),
        limit: paging.limit(),
    }
}

/// A row of `GET /stock`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON `list_levels` writes
pub(super) struct StockRow {
    store_id: String,
    product_id: String,
    /// Negative when sales outran stock.
    on_hand: i64,
    /// `on_hand < 0`.
    oversold: bool,
    updated_at: String,
}

/// `GET /stock/{store_id}/{product_id}`.
// Borrows the ids: the answer is written straight from them, with no JSON
// tree built in between.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct StockOnHand<'a> {
    #[schema(value_type = String)]
    store_id: &'a StoreId,
    #[schema(value_type = String)]
    product_id: &'a ProductId,
    on_hand: i64,
}

/// `{store_id}` and `{product_id}` of the stock routes.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path `parse_pair` reads
pub(super) struct PairParams {
    #[param(schema_with = text_id_schema)]
    store_id: String,
    #[param(schema_with = text_id_schema)]
    product_id: String,
}

fn parse_pair(store_id: &str, product_id: &str) -> Result<(StoreId, ProductId), ApiError> {
    let store = StoreId::parse(store_id)
        .map_err(|_| ApiError::not_found("store_id", format!("no store {store_id}")))?;
    let product = ProductId::parse(product_id)
        .map_err(|_| ApiError::not_found("product_id", format!("no product {product_id}")))?;
    Ok((store, product))
}

#[utoipa::path(get, path = "/stock", tag = "stock",
    params(IdFilterParams, PageParamsAsc),
    responses((status = 200, body = Vec<StockRow>, description = "every (store, product) that has moved, by store then product; one page when `page` or `page_size` is given")))]
pub(super) async fn list_levels(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let store = q.optional("store_id", StoreId::parse);
    let product = q.optional("product_id", ProductId::parse);
    let paging = q.paging_or(Order::Asc);
    q.finish()?;
    let levels = inv
        .ledger
        .levels(store.as_ref(), product.as_ref(), window(&paging))
        .await?;
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
    Ok(ok(&rows))
}

#[utoipa::path(get, path = "/stock/{store_id}/{product_id}", tag = "stock",
    params(PairParams),
    responses((status = 200, body = StockOnHand, description = "0 for a known product that never moved"), (status = 404, body = ErrorBody)))]
pub(super) async fn get_level(
    State(inv): State<Inventory>,
    Path((store_id, product_id)): Path<(String, String)>,
    _: NoQuery,
) -> Result<Response, ApiError> {
    let (store, product) = parse_pair(&store_id, &product_id)?;
    let on_hand = inv.on_hand(&store, &product).await?;
    Ok(ok(&StockOnHand {
        store_id: &store,
        product_id: &product,
        on_hand,
    }))
}

#[utoipa::path(get, path = "/stock/{store_id}/{product_id}/movements", tag = "stock",
    params(PairParams, PageParamsDesc),
    responses((status = 200, body = Vec<LedgerEntry>, description = "newest first unless `order=asc`; one page when `page` or `page_size` is given"), (status = 404, body = ErrorBody)))]
pub(super) async fn list_movements(
    State(inv): State<Inventory>,
    Path((store_id, product_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging();
    q.finish()?;
    let (store, product) = parse_pair(&store_id, &product_id)?;
    inv.require_pair(&store, &product).await?;
    Ok(ok(&inv
        .ledger
        .movements(&store, &product, window(&paging))
        .await?))
}
