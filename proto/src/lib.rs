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

/// The encoded `FileDescriptorSet` of every proto in this crate, for gRPC
/// server reflection (`tonic-reflection`), so tools like `grpcurl` can call
/// the services without a copy of the `.proto` files.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
