//! `erp-console`: the console for services running as separate processes,
//! on RabbitMQ. See the crate docs.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use clap::Parser;
use erp_console::Targets;
use erp_service::erp_bus::{
    EventBus,
    rabbitmq::{RabbitBus, RabbitConfig},
};

/// A live console in the browser for the ERP services.
#[derive(Debug, Parser)]
#[command(name = "erp-console", version, about)]
struct Args {
    /// Where the page is served.
    #[arg(long, env = "ERP_CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// purchase-svc's base URL.
    #[arg(
        long,
        env = "ERP_PURCHASE_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    purchase_url: String,
    /// sales-svc's base URL.
    #[arg(long, env = "ERP_SALES_URL", default_value = "http://127.0.0.1:8082")]
    sales_url: String,
    /// inventory-svc's base URL.
    #[arg(
        long,
        env = "ERP_INVENTORY_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    inventory_url: String,
    /// notification-svc's base URL (its dead letters).
    #[arg(
        long,
        env = "ERP_NOTIFICATION_URL",
        default_value = "http://127.0.0.1:8084"
    )]
    notification_url: String,
    /// The broker the events come from (queue `console.events`).
    #[arg(
        long,
        env = "ERP_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _telemetry = erp_service::telemetry::install(
        erp_service::config::LogFormat::Pretty,
        "info",
        "erp-console",
        &erp_service::telemetry::TraceArgs::default(),
    );
    let bus: Arc<dyn EventBus> = Arc::new(RabbitBus::start(RabbitConfig::new(&args.amqp_url)));
    let targets = Targets(HashMap::from([
        ("purchase", args.purchase_url),
        ("sales", args.sales_url),
        ("inventory", args.inventory_url),
        ("notification", args.notification_url),
    ]));
    let (router, subscription) = erp_console::start(targets, bus.clone()).await?;
    let listener = tokio::net::TcpListener::bind(args.http_addr).await?;
    tracing::info!(addr = %args.http_addr, "erp-console: open http://{}/", args.http_addr);
    erp_service::axum::serve(listener, router)
        .with_graceful_shutdown(erp_service::http::shutdown_signal())
        .await?;
    subscription.stop().await;
    bus.close().await;
    Ok(())
}
