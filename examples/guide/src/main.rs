use erp_service::clap::Parser;
use loyalty_svc::startup::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let _telemetry = erp_service::telemetry::install(
        config.common.log_format,
        "info",
        "loyalty-svc",
        &config.common.traces,
    );
    let bus = config.common.connect_bus().await?;
    let app = Application::build(&config, bus.clone()).await?;
    tracing::info!(http = %app.http_addr(), "loyalty-svc started");
    let stopped = app
        .run_until_stopped(erp_service::http::shutdown_signal())
        .await;
    bus.close().await;
    Ok(stopped?)
}
