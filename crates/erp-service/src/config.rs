//! Flags every binary shares (design §3), each with an env fallback, and
//! picking adapters from them.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use erp_bus::{EventBus, memory::MemoryBus};

use crate::ServiceError;

/// Which bus adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusKind {
    /// In process only; events never leave the process.
    Memory,
    /// RabbitMQ at `--amqp-url`.
    Rabbitmq,
}

impl BusKind {
    /// `--bus` when not given: RabbitMQ when this build has it (feature
    /// `rabbitmq`), else memory, so a default never names a missing adapter.
    pub const BUILD_DEFAULT: Self = if cfg!(feature = "rabbitmq") {
        Self::Rabbitmq
    } else {
        Self::Memory
    };
}

/// Which store adapter to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In process only; data is lost on exit.
    Memory,
    /// MongoDB (or a MongoDB-wire server) at `--mongodb-uri`.
    Mongodb,
}

impl StoreKind {
    /// `--store` when not given: MongoDB when this build has it (feature
    /// `mongodb`), else memory.
    pub const BUILD_DEFAULT: Self = if cfg!(feature = "mongodb") {
        Self::Mongodb
    } else {
        Self::Memory
    };
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Flags shared by every service binary.
#[derive(Clone, Args)]
pub struct CommonArgs {
    /// Event bus adapter (default: rabbitmq when built with it, else memory).
    #[arg(long, env = "ERP_BUS", value_enum, default_value_t = BusKind::BUILD_DEFAULT)]
    pub bus: BusKind,
    /// RabbitMQ URL, used with `--bus rabbitmq`; for a cluster, the nodes'
    /// URLs separated by commas (the bus fails over between them).
    #[arg(
        long,
        env = "ERP_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// Store adapter (default: mongodb when built with it, else memory).
    #[arg(long, env = "ERP_STORE", value_enum, default_value_t = StoreKind::BUILD_DEFAULT)]
    pub store: StoreKind,
    /// MongoDB URI, used with `--store mongodb`.
    #[arg(
        long,
        env = "ERP_MONGODB_URI",
        default_value = "mongodb://127.0.0.1:27017",
        hide_env_values = true
    )]
    pub mongodb_uri: String,
    /// Bearer token required on write routes and gRPC calls; unset = open.
    #[arg(long, env = "ERP_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Bearer token for the `/admin/` routes (read-model rebuild,
    /// dead-letter redrive); unset = those routes are disabled (403).
    #[arg(long, env = "ERP_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Hours an Idempotency-Key's record is kept after its last use; a
    /// replay later than that is processed as a new request (a keyed
    /// purchase or sale still finds the first by its derived id).
    #[arg(
        long,
        env = "ERP_IDEMPOTENCY_RETENTION_HOURS",
        default_value_t = 24,
        value_parser = clap::value_parser!(u64).range(1..=8760)
    )]
    pub idempotency_retention_hours: u64,
    /// Seconds a SIGTERM/SIGINT shutdown may take: in-flight requests and
    /// messages finish within it, then the process exits anyway.
    #[arg(long, env = "ERP_SHUTDOWN_GRACE_SECS", default_value_t = 15)]
    pub shutdown_grace_secs: u64,
    /// Log format.
    #[arg(long, env = "ERP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// OpenTelemetry trace export.
    #[command(flatten)]
    pub traces: crate::telemetry::TraceArgs,
}

// By hand, so that secrets in URLs and the token never reach a log line.
impl std::fmt::Debug for CommonArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonArgs")
            .field("bus", &self.bus)
            .field("store", &self.store)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

impl CommonArgs {
    /// Arguments for tests and the embedded default: in-memory everything.
    pub fn in_memory() -> Self {
        Self {
            bus: BusKind::Memory,
            amqp_url: String::new(),
            store: StoreKind::Memory,
            mongodb_uri: String::new(),
            api_token: None,
            admin_token: None,
            idempotency_retention_hours: 24,
            shutdown_grace_secs: 15,
            log_format: LogFormat::Pretty,
            traces: crate::telemetry::TraceArgs::default(),
        }
    }

    /// The `--api-token`, if set and not empty.
    pub fn token(&self) -> Option<crate::auth::ApiToken> {
        self.api_token
            .as_deref()
            .and_then(crate::auth::ApiToken::new)
    }

    /// `--shutdown-grace-secs` as a duration.
    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_secs)
    }

    /// `--idempotency-retention-hours` as a duration.
    pub fn idempotency_retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.idempotency_retention_hours * 60 * 60)
    }

    /// Who may call what: `--api-token` and `--admin-token`.
    pub fn access(&self) -> crate::auth::Access {
        crate::auth::Access {
            api: self.token(),
            admin: self
                .admin_token
                .as_deref()
                .and_then(crate::auth::ApiToken::new),
        }
    }

    /// The bus selected by `--bus`.
    pub async fn connect_bus(&self) -> Result<Arc<dyn EventBus>, ServiceError> {
        match self.bus {
            BusKind::Memory => Ok(Arc::new(MemoryBus::new())),
            BusKind::Rabbitmq => self.connect_rabbitmq().await,
        }
    }

    #[cfg(feature = "rabbitmq")]
    async fn connect_rabbitmq(&self) -> Result<Arc<dyn EventBus>, ServiceError> {
        use erp_bus::rabbitmq::{RabbitBus, RabbitConfig};
        let bus = RabbitBus::start(RabbitConfig::new(self.amqp_url.clone()));
        // Start anyway when the broker is down: the bus keeps reconnecting
        // and readiness reports it meanwhile.
        if !bus.wait_connected(std::time::Duration::from_secs(5)).await {
            tracing::warn!(
                "RabbitMQ is not reachable yet; continuing and reconnecting in the background"
            );
        }
        Ok(Arc::new(bus))
    }

    #[cfg(not(feature = "rabbitmq"))]
    async fn connect_rabbitmq(&self) -> Result<Arc<dyn EventBus>, ServiceError> {
        Err(ServiceError::MissingFeature {
            adapter: "RabbitMQ",
            feature: "rabbitmq",
            instead: "--bus memory",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let mut a = CommonArgs::in_memory();
        a.api_token = Some("s3cret-token".into());
        a.admin_token = Some("s3cret-admin".into());
        a.amqp_url = "amqp://user:pw-secret@host".into();
        let text = format!("{a:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("pw-secret"),
            "{text}"
        );
    }
}
