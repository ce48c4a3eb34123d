//! The embedded default: the three services, notification-svc mailing into
//! a directory and the console on :8080, in one process on the in-memory bus and stores, on
//! their default ports. `--demo` runs the scripted
//! scenario, prints the stock table and exits.

use clap::Parser;

// glibc's malloc showed as a tenth of the request path's CPU under load;
// mimalloc serves the many small per-request allocations faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::{path::PathBuf, sync::Arc};

use erp_bus::{EventBus, memory::MemoryBus};
use erp_examples::{Mail, Options, Ports, System, demo};
use notification_svc::lettre::message::Mailbox;

/// Runs purchase-svc (:8081), sales-svc (:8082) and inventory-svc (:8083,
/// gRPC :50051) in one process, with no external servers, on loopback
/// unless `--bind` says otherwise.
#[derive(Debug, Parser)]
#[command(name = "all-in-one", version, about)]
struct Args {
    /// Run the demo scenario over HTTP, print the stock table and exit.
    #[arg(long)]
    demo: bool,
    /// Require `Authorization: Bearer <token>` on every write of the three
    /// services (they send it to each other; the demo sends it too).
    #[arg(long, env = "ERP_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Enables the `/admin/` routes (read-model rebuild, dead-letter
    /// redrive) for `Authorization: Bearer <token>`; unset = disabled.
    #[arg(long, env = "ERP_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The address all six listeners bind; `0.0.0.0` exposes them to the
    /// network (set `--api-token` then).
    #[arg(long, env = "ERP_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Where notification-svc (:8084) writes one `.eml` file per completed
    /// purchase and sale, unless `--smtp-url` is given [default: the
    /// system's temporary directory, `erp-mail`].
    #[arg(long, env = "ERP_MAIL_DIR")]
    mail_dir: Option<PathBuf>,
    /// Send those mails through this SMTP server (`smtp://host:port`)
    /// instead.
    #[arg(long, env = "ERP_SMTP_URL", conflicts_with = "mail_dir")]
    smtp_url: Option<String>,
    /// The mails' recipients, comma-separated.
    #[arg(
        long,
        env = "ERP_MAIL_TO",
        value_delimiter = ',',
        default_value = "ops@localhost"
    )]
    mail_to: Vec<Mailbox>,
    /// Run without the console (:8080).
    #[arg(long)]
    no_console: bool,
    /// Run without notification-svc.
    #[arg(long, conflicts_with_all = ["mail_dir", "smtp_url"])]
    no_mail: bool,
    /// OpenTelemetry trace export (off unless an endpoint is set).
    #[command(flatten)]
    traces: erp_service::telemetry::TraceArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Keep the demo's output to the table unless asked otherwise.
    let level = if args.demo { "warn" } else { "info" };
    // Kept to the end of main: dropping it flushes the queued spans.
    let _telemetry = erp_service::telemetry::install(
        erp_service::config::LogFormat::Pretty,
        level,
        "all-in-one",
        &args.traces,
    );
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let options = Options {
        mongodb: None,
        api_token: args.api_token.clone(),
        admin_token: args.admin_token.clone(),
        mail: mail(&args),
        console: !args.no_console,
    };
    let system = System::start_with_options(Ports::on(args.bind), || bus.clone(), &options).await?;
    if args.demo {
        let result = demo::run(system.ports, args.api_token.as_deref()).await;
        system.stop().await?;
        print!("{}", demo::table(&result?));
        return Ok(());
    }
    tracing::info!(ports = ?system.ports, mail = ?options.mail, "all-in-one running; Ctrl-C to stop");
    let p = Ports::on(args.bind);
    erp_service::auth::warn_if_exposed(
        &[
            p.purchase,
            p.sales,
            p.inventory,
            p.inventory_grpc,
            p.notification,
            p.console,
        ],
        &erp_service::auth::Access {
            api: args
                .api_token
                .as_deref()
                .and_then(erp_service::auth::ApiToken::new),
            admin: None,
        },
    );
    system.run_until(erp_service::http::shutdown_signal()).await
}

/// Where notification-svc's mails go, from the flags.
fn mail(args: &Args) -> Mail {
    let to = args.mail_to.clone();
    match (&args.smtp_url, &args.mail_dir) {
        _ if args.no_mail => Mail::Off,
        (Some(url), _) => Mail::Smtp(url.clone(), to),
        (None, Some(dir)) => Mail::Directory(dir.clone(), to),
        (None, None) => Mail::Directory(std::env::temp_dir().join("erp-mail"), to),
    }
}
