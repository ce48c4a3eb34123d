//! Command-line flags (design §3), each with an env fallback.

use std::net::SocketAddr;

use clap::Parser;
use erp_service::config::CommonArgs;

/// inventory-svc: products, stores, stock levels and the movements ledger.
#[derive(Debug, Clone, Parser)]
#[command(name = "inventory-svc", version, about)]
pub struct Config {
    /// REST listen address.
    #[arg(long, env = "ERP_HTTP_ADDR", default_value = "0.0.0.0:8083")]
    pub http_addr: SocketAddr,
    /// gRPC listen address.
    #[arg(long, env = "ERP_GRPC_ADDR", default_value = "0.0.0.0:50051")]
    pub grpc_addr: SocketAddr,
    /// Database name (with `--store mongodb`).
    #[arg(long, env = "ERP_DATABASE", default_value = "inventory")]
    pub database: String,
    /// Flags shared by every service.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Config {
    /// In-memory adapters on the given addresses; for tests and all-in-one.
    pub fn in_memory(http_addr: SocketAddr, grpc_addr: SocketAddr) -> Self {
        Self {
            http_addr,
            grpc_addr,
            database: "inventory".into(),
            common: CommonArgs::in_memory(),
        }
    }
}
