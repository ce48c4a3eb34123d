//! Command-line flags (design §3), each with an env fallback.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use erp_service::config::CommonArgs;

/// purchase-svc: records purchases and raises `purchase.completed`.
#[derive(Debug, Clone, Parser)]
#[command(name = "purchase-svc", version, about)]
pub struct Config {
    /// REST listen address.
    #[arg(long, env = "ERP_HTTP_ADDR", default_value = "0.0.0.0:8081")]
    pub http_addr: SocketAddr,
    /// Inventory's gRPC endpoint.
    #[arg(
        long,
        env = "ERP_INVENTORY_GRPC",
        default_value = "http://127.0.0.1:50051"
    )]
    pub inventory_grpc: String,
    /// Timeout of each gRPC call to inventory, in milliseconds.
    #[arg(long, env = "ERP_INVENTORY_TIMEOUT_MS", default_value_t = 1000)]
    pub inventory_timeout_ms: u64,
    /// How long the circuit breaker stays open, in milliseconds.
    #[arg(long, env = "ERP_BREAKER_OPEN_MS", default_value_t = 15_000)]
    pub breaker_open_ms: u64,
    /// Database name (with `--store mongodb`).
    #[arg(long, env = "ERP_DATABASE", default_value = "purchase")]
    pub database: String,
    /// Flags shared by every service.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Config {
    /// In-memory adapters; for tests and all-in-one.
    pub fn in_memory(http_addr: SocketAddr, inventory_grpc: String) -> Self {
        Self {
            http_addr,
            inventory_grpc,
            inventory_timeout_ms: 1000,
            breaker_open_ms: 15_000,
            database: "purchase".into(),
            common: CommonArgs::in_memory(),
        }
    }

    /// The breaker settings: design §8 defaults with the configured open time.
    pub fn breaker(&self) -> erp_resilience::BreakerConfig {
        erp_resilience::BreakerConfig {
            open_for: Duration::from_millis(self.breaker_open_ms),
            ..erp_resilience::BreakerConfig::default()
        }
    }

    /// The gRPC call timeout.
    pub fn inventory_timeout(&self) -> Duration {
        Duration::from_millis(self.inventory_timeout_ms)
    }
}
