use clap::Parser;

// glibc's malloc showed as a tenth of the request path's CPU under load;
// mimalloc serves the many small per-request allocations faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use sales_svc::{config::Config, startup};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Kept to the end of main: dropping it flushes the queued spans.
    let _telemetry = erp_service::telemetry::install(
        config.common.log_format,
        "info",
        "sales-svc",
        &config.common.traces,
    );
    let bus = config.common.connect_bus().await?;
    let app = startup::build(&config, bus.clone()).await?;
    tracing::info!(http = %app.http_addr(), "sales-svc started");
    erp_service::auth::warn_if_exposed(&[app.http_addr()], &config.common.access());
    let stopped = app
        .run_until_stopped(erp_service::http::shutdown_signal())
        .await;
    bus.close().await;
    Ok(stopped?)
}
