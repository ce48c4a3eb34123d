//! Command-line flags (design §3), each with an env fallback.

use std::{net::SocketAddr, time::Duration};

use clap::Parser;
use erp_service::config::CommonArgs;

/// sales-svc: records sales after a stock check and raises `sale.completed`.
#[derive(Debug, Clone, Parser)]
#[command(name = "sales-svc", version, about)]
pub struct Config {
    /// REST listen address.
    #[arg(long, env = "ERP_HTTP_ADDR", default_value = "0.0.0.0:8082")]
    pub http_addr: SocketAddr,
    /// Inventory's REST base URL.
    #[arg(
        long,
        env = "ERP_INVENTORY_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    pub inventory_url: String,
    /// Timeout of each attempt of a REST call to inventory, in milliseconds.
    #[arg(long, env = "ERP_INVENTORY_TIMEOUT_MS", default_value_t = 500)]
    pub inventory_timeout_ms: u64,
    /// Time all attempts of one call may take together, in milliseconds.
    #[arg(long, env = "ERP_INVENTORY_DEADLINE_MS", default_value_t = 3_000)]
    pub inventory_deadline_ms: u64,
    /// Database name (with `--store mongodb`).
    #[arg(long, env = "ERP_DATABASE", default_value = "sales")]
    pub database: String,
    /// Flags shared by every service.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Config {
    /// In-memory adapters; for tests and all-in-one.
    pub fn in_memory(http_addr: SocketAddr, inventory_url: String) -> Self {
        Self {
            http_addr,
            inventory_url,
            inventory_timeout_ms: 500,
            inventory_deadline_ms: 3_000,
            database: "sales".into(),
            common: CommonArgs::in_memory(),
        }
    }

    /// The retry settings: design §8 defaults with the configured timeouts.
    pub fn retry(&self) -> erp_resilience::RetryConfig {
        erp_resilience::RetryConfig {
            per_attempt: Duration::from_millis(self.inventory_timeout_ms),
            deadline: Duration::from_millis(self.inventory_deadline_ms),
            target: "inventory-rest",
            ..erp_resilience::RetryConfig::default()
        }
    }
}
