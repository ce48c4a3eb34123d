//! # proto
//!
//! The gRPC contracts of the ERP services, generated at build time from the
//! `.proto` files in `proto/` (no system `protoc` needed).
//!
//! Modules follow the proto packages: [`erp::inventory::v1`] holds the
//! messages, `inventory_client::InventoryClient` and
//! `inventory_server::{Inventory, InventoryServer}`.

/// Generated code, one module per proto package.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod erp {
    /// Inventory contracts.
    pub mod inventory {
        /// Version 1 of `erp.inventory`.
        pub mod v1 {
            tonic::include_proto!("erp.inventory.v1");
        }
    }
}
