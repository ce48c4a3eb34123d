use erp_service::clap::Parser;
use notification_svc::{config::Config, startup};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Kept to the end of main: dropping it flushes the queued spans.
    let _telemetry = erp_service::telemetry::install(
        config.common.log_format,
        "info",
        startup::SERVICE,
        &config.common.traces,
    );
    let bus = config.common.connect_bus().await?;
    let app = startup::Application::build(&config, bus.clone()).await?;
    tracing::info!(http = %app.http_addr(), smtp = %config.smtp_url, queue = %config.queue, "notification-svc started");
    erp_service::auth::warn_if_exposed(&[app.http_addr()], &config.common.access());
    let stopped = app
        .run_until_stopped(erp_service::http::shutdown_signal())
        .await;
    bus.close().await;
    Ok(stopped?)
}
