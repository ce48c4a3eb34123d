//! Command-line flags, each with an env fallback, and the SDK's common ones
//! (`--bus`, `--store`, tokens, logs, traces).

use std::net::SocketAddr;

use clap::Parser;
use erp_service::config::CommonArgs;
use lettre::message::Mailbox;

use crate::mailer::parse_smtp_url;

/// notification-svc: one mail per completed purchase and sale.
#[derive(Debug, Clone, Parser)]
#[command(name = "notification-svc", version, about)]
pub struct Config {
    /// Health, metrics and admin listen address.
    #[arg(long, env = "ERP_HTTP_ADDR", default_value = "0.0.0.0:8084")]
    pub http_addr: SocketAddr,
    /// The SMTP server: `smtp://host:port` (plain; `?tls=required` for
    /// STARTTLS), `smtps://host:port`, `user:password@` for AUTH.
    #[arg(long, env = "ERP_SMTP_URL", default_value = "smtp://127.0.0.1:2525",
          value_parser = parse_smtp_url)]
    pub smtp_url: String,
    /// The sender, `name <address>` or `address`; its domain ends each
    /// mail's Message-ID.
    #[arg(long, env = "ERP_MAIL_FROM", default_value = "ERP <erp@localhost>")]
    pub mail_from: Mailbox,
    /// The recipients, comma-separated (or the flag repeated).
    #[arg(long, env = "ERP_MAIL_TO", value_delimiter = ',', required = true)]
    pub mail_to: Vec<Mailbox>,
    /// The queue this service consumes both events from.
    #[arg(long, env = "ERP_QUEUE", default_value = "notification.events")]
    pub queue: String,
    /// Deliveries of one event before it is dead-lettered (the mail server
    /// stays unreachable): 40 is about nine minutes of retries.
    #[arg(long, env = "ERP_MAX_ATTEMPTS", default_value_t = 40,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Database name (with `--store mongodb`): the inbox of mailed events.
    #[arg(long, env = "ERP_DATABASE", default_value = "notification")]
    pub database: String,
    /// Flags shared by every service.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Config {
    /// In-memory adapters, mailing from `ERP <erp@localhost>` to `to`; for
    /// tests and all-in-one.
    pub fn in_memory(http_addr: SocketAddr, to: Vec<Mailbox>) -> Self {
        Self {
            http_addr,
            smtp_url: "smtp://127.0.0.1:2525".into(),
            mail_from: "ERP <erp@localhost>".parse().expect("a valid mailbox"),
            mail_to: to,
            queue: "notification.events".into(),
            max_attempts: 40,
            database: "notification".into(),
            common: CommonArgs::in_memory(),
        }
    }
}
