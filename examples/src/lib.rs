//! # erp-examples
//!
//! The embedded default: [`System`] starts inventory, purchase and sales
//! (and, when [`Options::mail`] says where to, notification) in one process
//! on the in-memory bus and stores, and [`demo`] drives the
//! scripted scenario over HTTP. The `all-in-one` binary is a thin wrapper;
//! `examples/` holds one small example per library crate.

pub mod demo;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use erp_bus::{EventBus, memory::MemoryBus};
use notification_svc::lettre::message::Mailbox;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where each service listens.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// purchase-svc REST.
    pub purchase: SocketAddr,
    /// sales-svc REST.
    pub sales: SocketAddr,
    /// inventory-svc REST.
    pub inventory: SocketAddr,
    /// inventory-svc gRPC.
    pub inventory_grpc: SocketAddr,
    /// notification-svc's health, metrics and admin routes.
    pub notification: SocketAddr,
    /// The console (when [`Options::console`]).
    pub console: SocketAddr,
}

impl Ports {
    /// The contract's ports (8081, 8082, 8083 and gRPC 50051) on loopback
    /// only: the embedded default is for one machine.
    pub fn defaults() -> Self {
        Self::on(std::net::Ipv4Addr::LOCALHOST.into())
    }

    /// The contract's ports on `ip` (`0.0.0.0` for every interface).
    pub fn on(ip: std::net::IpAddr) -> Self {
        Self {
            purchase: (ip, 8081).into(),
            sales: (ip, 8082).into(),
            inventory: (ip, 8083).into(),
            inventory_grpc: (ip, 50051).into(),
            notification: (ip, 8084).into(),
            console: (ip, 8080).into(),
        }
    }

    /// Free ports on loopback, for tests.
    pub fn ephemeral() -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self {
            purchase: any,
            sales: any,
            inventory: any,
            inventory_grpc: any,
            notification: any,
            console: any,
        }
    }
}

/// How [`System::start_with_options`] sets the services up.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// `Some((uri, prefix))`: each service in its own database
    /// `<prefix>_<service>` on that MongoDB server; `None`: in memory.
    pub mongodb: Option<(&'a str, &'a str)>,
    /// `--api-token` of all three (and what they send each other).
    pub api_token: Option<String>,
    /// `--admin-token` of all three; `None` disables their `/admin/` routes.
    pub admin_token: Option<String>,
    /// Where notification-svc sends its mails; [`Mail::Off`] runs none.
    pub mail: Mail,
    /// Serve the console (erp-console) on [`Ports::console`].
    pub console: bool,
}

/// Where the embedded notification-svc sends its mails.
#[derive(Debug, Clone, Default)]
pub enum Mail {
    /// No notification-svc.
    #[default]
    Off,
    /// One `.eml` file per mail in this directory (no mail server needed).
    Directory(PathBuf, Vec<Mailbox>),
    /// Through this SMTP server (`smtp://host:port`).
    Smtp(String, Vec<Mailbox>),
}

/// The three services running in this process.
#[derive(Debug)]
pub struct System {
    /// The addresses actually bound (port 0 resolved), on loopback.
    pub ports: Ports,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

fn loopback(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

impl System {
    /// Starts inventory, then purchase and sales pointed at it, on one
    /// shared in-memory bus.
    pub async fn start(ports: Ports) -> anyhow::Result<Self> {
        let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
        Self::start_on(ports, || bus.clone()).await
    }

    /// Like [`System::start`], with each service on the bus `bus()` returns
    /// (e.g. its own RabbitMQ connection, as separate processes would have).
    pub async fn start_on(
        ports: Ports,
        bus: impl Fn() -> Arc<dyn EventBus>,
    ) -> anyhow::Result<Self> {
        Self::start_with(ports, bus, None).await
    }

    /// Like [`System::start_on`]; with `mongodb = Some((uri, prefix))` each
    /// service stores in its own database `<prefix>_purchase`,
    /// `<prefix>_sales`, `<prefix>_inventory` on that server.
    pub async fn start_with(
        ports: Ports,
        bus: impl Fn() -> Arc<dyn EventBus>,
        mongodb: Option<(&str, &str)>,
    ) -> anyhow::Result<Self> {
        Self::start_with_options(
            ports,
            bus,
            &Options {
                mongodb,
                ..Options::default()
            },
        )
        .await
    }

    /// Like [`System::start_on`], with [`Options`].
    pub async fn start_with_options(
        ports: Ports,
        bus: impl Fn() -> Arc<dyn EventBus>,
        options: &Options<'_>,
    ) -> anyhow::Result<Self> {
        // As the binaries do at start: series recorded before the recorder
        // exists (a client's counters at 0) would be lost.
        erp_service::metrics::handle();
        let store =
            |common: &mut erp_service::config::CommonArgs, database: &mut String, name: &str| {
                if let Some((uri, prefix)) = options.mongodb {
                    common.store = erp_service::config::StoreKind::Mongodb;
                    common.mongodb_uri = uri.to_owned();
                    *database = format!("{prefix}_{name}");
                }
                common.api_token.clone_from(&options.api_token);
                common.admin_token.clone_from(&options.admin_token);
            };
        let mut inventory_config =
            inventory_svc::config::Config::in_memory(ports.inventory, ports.inventory_grpc);
        store(
            &mut inventory_config.common,
            &mut inventory_config.database,
            "inventory",
        );
        let inventory = inventory_svc::startup::Application::build(&inventory_config, bus())
            .await
            .context("starting inventory-svc")?;
        let inventory_http = loopback(inventory.http_addr());
        let inventory_grpc = loopback(inventory.grpc_addr());
        let mut purchase_config = purchase_svc::config::Config::in_memory(
            ports.purchase,
            format!("http://{inventory_grpc}"),
        );
        store(
            &mut purchase_config.common,
            &mut purchase_config.database,
            "purchase",
        );
        let purchase = purchase_svc::startup::build(&purchase_config, bus())
            .await
            .context("starting purchase-svc")?;
        let mut sales_config =
            sales_svc::config::Config::in_memory(ports.sales, format!("http://{inventory_http}"));
        store(
            &mut sales_config.common,
            &mut sales_config.database,
            "sales",
        );
        let sales = sales_svc::startup::build(&sales_config, bus())
            .await
            .context("starting sales-svc")?;
        let notification = notification(options, ports.notification, bus())
            .await
            .context("starting notification-svc")?;
        let bound = Ports {
            purchase: loopback(purchase.http_addr()),
            sales: loopback(sales.http_addr()),
            inventory: inventory_http,
            inventory_grpc,
            notification: notification
                .as_ref()
                .map_or(ports.notification, |n| loopback(n.http_addr())),
            console: ports.console,
        };
        let cancel = CancellationToken::new();
        let (console, console_task) = if options.console {
            let (addr, task) = console(&bound, ports.console, bus(), cancel.clone()).await?;
            (addr, Some(task))
        } else {
            (ports.console, None)
        };
        let bound = Ports { console, ..bound };
        let stop = |c: &CancellationToken| c.clone().cancelled_owned();
        let mut tasks = vec![
            tokio::spawn(inventory.run_until_stopped(stop(&cancel))),
            tokio::spawn(anyhow_of(purchase.run_until_stopped(stop(&cancel)))),
            tokio::spawn(anyhow_of(sales.run_until_stopped(stop(&cancel)))),
        ];
        if let Some(n) = notification {
            tasks.push(tokio::spawn(anyhow_of(n.run_until_stopped(stop(&cancel)))));
        }
        tasks.extend(console_task);
        Ok(Self {
            ports: bound,
            cancel,
            tasks,
        })
    }

    /// Runs until `shutdown` completes or a service fails, then stops all.
    pub async fn run_until(
        mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let tasks = std::mem::take(&mut self.tasks);
        tokio::select! {
            _ = shutdown => {},
            r = first_exit(tasks) => {
                self.cancel.cancel();
                r.context("a service stopped")?;
            }
        }
        self.cancel.cancel();
        Ok(())
    }

    /// Stops every service and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        for t in self.tasks {
            t.await.context("service task panicked")??;
        }
        Ok(())
    }
}

/// The console on `addr`, pointed at the services on `ports`, following
/// `bus`; its bound address and the task serving it until `cancel`.
async fn console(
    ports: &Ports,
    addr: SocketAddr,
    bus: Arc<dyn EventBus>,
    cancel: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<anyhow::Result<()>>)> {
    let url = |a: SocketAddr| format!("http://{a}");
    let targets = erp_console::Targets(std::collections::HashMap::from([
        ("purchase", url(ports.purchase)),
        ("sales", url(ports.sales)),
        ("inventory", url(ports.inventory)),
        ("notification", url(ports.notification)),
    ]));
    let (router, subscription) = erp_console::start(targets, bus)
        .await
        .context("subscribing the console")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the console on {addr}"))?;
    let bound = loopback(listener.local_addr()?);
    let task = tokio::spawn(async move {
        let served = erp_service::axum::serve(listener, router)
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        subscription.stop().await;
        Ok(served?)
    });
    Ok((bound, task))
}

/// notification-svc on `bus`, mailing where `options.mail` says, with the
/// same tokens as the others; `None` when off.
async fn notification(
    options: &Options<'_>,
    http_addr: SocketAddr,
    bus: Arc<dyn EventBus>,
) -> anyhow::Result<Option<notification_svc::startup::Application>> {
    use notification_svc::{config::Config, mailer::DirectoryMailer, startup::Application};
    let configured = |to: &Vec<Mailbox>| {
        let mut config = Config::in_memory(http_addr, to.clone());
        config.common.api_token.clone_from(&options.api_token);
        config.common.admin_token.clone_from(&options.admin_token);
        config
    };
    Ok(match &options.mail {
        Mail::Off => None,
        Mail::Directory(dir, to) => {
            let config = configured(to);
            let mailer = DirectoryMailer::new(dir)
                .with_context(|| format!("creating the mail directory {}", dir.display()))?;
            Some(Application::build_with(&config, bus, Arc::new(mailer)).await?)
        }
        Mail::Smtp(url, to) => {
            let config = Config {
                smtp_url: url.clone(),
                ..configured(to)
            };
            Some(Application::build(&config, bus).await?)
        }
    })
}

async fn first_exit(tasks: Vec<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    if tasks.is_empty() {
        return std::future::pending().await;
    }
    let (result, _, _) = futures::future::select_all(tasks).await;
    result.context("service task panicked")?
}

/// A service's run as the `anyhow` result the embedded system collects.
async fn anyhow_of(
    run: impl std::future::Future<Output = Result<(), erp_service::ServiceError>>,
) -> anyhow::Result<()> {
    Ok(run.await?)
}
