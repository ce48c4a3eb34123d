//! gRPC `erp.inventory.v1.Inventory`, answering from the same application
//! layer as the REST API.

use erp_core::{ProductId, Quantity, StoreId};
use proto::erp::inventory::v1::{
    self as pb,
    inventory_server::{Inventory as InventoryRpc, InventoryServer},
};
use tonic::{Request, Response, Status};

use crate::app::{Inventory, InventoryError};

/// The tonic service.
#[derive(Debug, Clone)]
pub struct InventoryGrpc(Inventory);

/// The gRPC server for `inventory`. With a token, every call must carry
/// `authorization: Bearer <token>` metadata (Unauthenticated otherwise).
pub fn server(
    inventory: Inventory,
    token: Option<erp_service::auth::ApiToken>,
) -> tonic::service::interceptor::InterceptedService<
    InventoryServer<InventoryGrpc>,
    impl tonic::service::Interceptor + Clone,
> {
    InventoryServer::with_interceptor(InventoryGrpc(inventory), move |req: Request<()>| {
        let Some(token) = &token else { return Ok(req) };
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        if presented.is_some_and(|t| token.matches(t)) {
            Ok(req)
        } else {
            Err(Status::unauthenticated("missing or wrong bearer token"))
        }
    })
}

/// gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`
/// that many `grpcurl` builds still ask for), describing
/// `erp.inventory.v1` and `grpc.health.v1` (so `grpcurl` can call the
/// health service too). Open like every read: it only describes the API.
pub fn reflection() -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    Ok((v1, v1alpha))
}

impl From<InventoryError> for Status {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::UnknownStore(id) => Status::not_found(format!("no store {id}")),
            InventoryError::UnknownProduct(id) => Status::not_found(format!("no product {id}")),
            InventoryError::AlreadyExists(what) => {
                Status::already_exists(format!("{what} already exists"))
            }
            InventoryError::Store(erp_store::StoreError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "store unavailable");
                Status::unavailable("the database is unavailable")
            }
            InventoryError::Store(other) => {
                tracing::error!(error = %other, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

fn store_id(raw: &str) -> Result<StoreId, Status> {
    StoreId::parse(raw).map_err(|e| Status::invalid_argument(format!("store_id {e}")))
}

fn product_id(raw: &str) -> Result<ProductId, Status> {
    ProductId::parse(raw).map_err(|e| Status::invalid_argument(format!("product_id {e}")))
}

#[tonic::async_trait]
impl InventoryRpc for InventoryGrpc {
    async fn get_product(
        &self,
        req: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::Product>, Status> {
        let id = product_id(&req.get_ref().product_id)?;
        let p = self
            .0
            .product(&id)
            .await?
            .ok_or(InventoryError::UnknownProduct(id))?;
        Ok(Response::new(pb::Product {
            id: p.id.to_string(),
            name: p.name,
            unit: p.unit,
        }))
    }

    async fn get_stock(
        &self,
        req: Request<pb::GetStockRequest>,
    ) -> Result<Response<pb::StockLevel>, Status> {
        let store = store_id(&req.get_ref().store_id)?;
        let product = product_id(&req.get_ref().product_id)?;
        let on_hand = self.0.on_hand(&store, &product).await?;
        Ok(Response::new(pb::StockLevel {
            store_id: store.to_string(),
            product_id: product.to_string(),
            on_hand,
        }))
    }

    async fn count_total_items(
        &self,
        req: Request<pb::CountTotalItemsRequest>,
    ) -> Result<Response<pb::CountTotalItemsResponse>, Status> {
        let store = store_id(&req.get_ref().store_id)?;
        let (total_units, capacity) = self.0.count_total_items(&store).await?;
        Ok(Response::new(pb::CountTotalItemsResponse {
            total_units,
            capacity,
        }))
    }

    async fn check_purchase(
        &self,
        req: Request<pb::CheckPurchaseRequest>,
    ) -> Result<Response<pb::CheckPurchaseResponse>, Status> {
        let req = req.into_inner();
        let store = store_id(&req.store_id)?;
        // The REST cap, so no caller can make one check scan without bound.
        let max = erp_domain::trade::MAX_LINES;
        if !(1..=max).contains(&req.lines.len()) {
            return Err(Status::invalid_argument(format!(
                "lines: from 1 to {max}, got {}",
                req.lines.len()
            )));
        }
        let lines = req
            .lines
            .iter()
            .map(|l| {
                let q = Quantity::new(l.quantity)
                    .map_err(|e| Status::invalid_argument(format!("quantity {e}")))?;
                Ok((product_id(&l.product_id)?, q))
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let check = self.0.check_purchase(&store, &lines).await?;
        Ok(Response::new(pb::CheckPurchaseResponse {
            store_known: check.store_known,
            unknown_products: check
                .unknown_products
                .iter()
                .map(ToString::to_string)
                .collect(),
            total_units: check.total_units,
            capacity: check.capacity,
            capacity_ok: check.capacity_ok,
        }))
    }
}
