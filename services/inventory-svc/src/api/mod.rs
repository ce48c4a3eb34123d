//! The REST API (design §5, inventory-svc).

mod catalog;
mod stock;

use std::sync::Arc;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};
use erp_service::{ApiError, idempotency::IdempotencyLayer};
use erp_store::IdempotencyStore;

use crate::app::{Inventory, InventoryError};

/// The OpenAPI document of inventory's REST API.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "inventory-svc",
        description = "Products, stores, stock levels and the movements ledger."
    ),
    paths(
        catalog::create_product,
        catalog::list_products,
        catalog::get_product,
        catalog::create_store,
        catalog::list_stores,
        catalog::get_store,
        catalog::rebuild,
        stock::list_levels,
        stock::get_level,
        stock::list_movements,
    ),
    components(schemas(
        crate::catalog::Product,
        crate::catalog::Store,
        catalog::NewProduct,
        catalog::NewStore,
        stock::StockRow,
        stock::StockOnHand,
        crate::stock::LedgerEntry,
    ))
)]
pub struct ApiDoc;

/// The full document: inventory's routes plus the common ones.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    doc.merge(<erp_service::dead_letters::DeadLetterApi as utoipa::OpenApi>::openapi());
    erp_service::openapi::document(doc)
}

/// The inventory routes (without health and the shared layers); `bus` serves
/// the dead-letter redrive of `inventory.stock`.
pub fn router(
    inventory: Inventory,
    idempotency_store: Arc<dyn IdempotencyStore>,
    bus: Arc<dyn erp_bus::EventBus>,
) -> Router {
    let idem = || IdempotencyLayer::new(idempotency_store.clone());
    Router::new()
        .route(
            "/products",
            post(catalog::create_product)
                .layer(idem())
                .get(catalog::list_products),
        )
        .route("/products/{id}", get(catalog::get_product))
        .route(
            "/stores",
            post(catalog::create_store)
                .layer(idem())
                .get(catalog::list_stores),
        )
        .route("/stores/{id}", get(catalog::get_store))
        .route("/admin/rebuild-read-models", post(catalog::rebuild))
        .route("/stock", get(stock::list_levels))
        .route("/stock/{store_id}/{product_id}", get(stock::get_level))
        .route(
            "/stock/{store_id}/{product_id}/movements",
            get(stock::list_movements),
        )
        .with_state(inventory)
        .merge(erp_service::dead_letters::routes(
            bus,
            &[crate::consumer::QUEUE],
        ))
        .merge(erp_service::openapi::routes(openapi()))
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::AlreadyExists(what) => {
                let code = if what == "store" {
                    "store_already_exists"
                } else {
                    "product_already_exists"
                };
                ApiError::new(
                    StatusCode::CONFLICT,
                    code,
                    format!("a {what} with this id already exists"),
                )
                .with_detail("id", "already exists")
            }
            InventoryError::UnknownStore(id) => {
                ApiError::not_found("store_id", format!("no store {id}"))
            }
            InventoryError::UnknownProduct(id) => {
                ApiError::not_found("product_id", format!("no product {id}"))
            }
            InventoryError::Store(e) => e.into(),
        }
    }
}
