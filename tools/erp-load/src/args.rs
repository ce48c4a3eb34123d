use clap::Parser;

/// Concurrent purchase and sales clients against running services.
#[derive(Debug, Clone, Parser)]
#[command(name = "erp-load", version)]
pub struct Args {
    /// purchase-svc base URL.
    #[arg(
        long,
        env = "ERP_PURCHASE_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub purchase_url: String,
    /// sales-svc base URL.
    #[arg(long, env = "ERP_SALES_URL", default_value = "http://127.0.0.1:8082")]
    pub sales_url: String,
    /// inventory-svc base URL.
    #[arg(
        long,
        env = "ERP_INVENTORY_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    pub inventory_url: String,
    /// Broker for `--grow-ledger`.
    #[arg(
        long,
        env = "ERP_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Bearer token, when the services run with `--api-token`.
    #[arg(long, env = "ERP_API_TOKEN")]
    pub api_token: Option<String>,
    /// Concurrent clients; each sends one command at a time.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Length of each load phase.
    #[arg(long, default_value_t = 30)]
    pub duration_secs: u64,
    /// Share of commands that are purchases (the rest are sales).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub purchase_percent: u8,
    /// Products shared by all clients (sold, and bought alongside probes).
    #[arg(long, default_value_t = 16)]
    pub shared_products: usize,
    /// Publish this many `purchase.completed` events to `erp.events` after
    /// the first phase, wait until inventory applied them, run a second.
    #[arg(long)]
    pub grow_ledger: Option<u64>,
    /// How often a client polls its probe product's stock while a purchase
    /// is not yet visible.
    #[arg(long, default_value_t = 10)]
    pub poll_ms: u64,
    /// Prefix of the products this run creates (default: a fresh one).
    #[arg(long)]
    pub run_id: Option<String>,
}
