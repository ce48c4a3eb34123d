//! The connection supervisor: connect, declare the exchanges, open the
//! confirming publisher channel, publish the result as the current [`Live`]
//! connection, wait for its loss, repeat with backoff.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ConfirmSelectOptions, ExchangeDeclareOptions},
    types::FieldTable,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{RabbitConfig, Shared, unavailable};
use crate::BusError;

/// A connected broker: the connection and its confirming publisher channel.
#[derive(Clone)]
pub(super) struct Live {
    pub(super) connection: Arc<Connection>,
    pub(super) publisher: Channel,
    lost: Arc<Notify>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Live {
    pub(super) fn is_connected(&self) -> bool {
        self.connection.status().connected() && self.publisher.status().connected()
    }

    /// Reports a failed operation: the supervisor checks the connection and
    /// reconnects if it is gone.
    pub(super) fn lose(&self, e: lapin::Error) -> BusError {
        self.lost.notify_one();
        unavailable(e)
    }
}

/// Connects to the first node that answers, trying them in order from
/// `first` (wrapping); which node it is, with the connection.
async fn open_any(config: &RabbitConfig, first: usize) -> Result<(usize, Live), lapin::Error> {
    let urls = config.urls();
    if urls.is_empty() {
        return open(config, &config.url).await.map(|live| (0, live));
    }
    let mut last = None;
    for i in 0..urls.len() {
        let node = (first + i) % urls.len();
        match open(config, urls[node]).await {
            Ok(live) => return Ok((node, live)),
            Err(e) => {
                if urls.len() > 1 {
                    tracing::debug!(node, error = %e, "RabbitMQ node not answering; trying the next");
                }
                last = Some(e);
            }
        }
    }
    Err(last.expect("at least one node was tried"))
}

async fn open(config: &RabbitConfig, url: &str) -> Result<Live, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
        .with_connection_name("erp-bus".into());
    let connection = Connection::connect(url, properties).await?;
    let lost = Arc::new(Notify::new());
    let on_error = Arc::clone(&lost);
    let mut events = Box::pin(connection.events_listener());
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(event) = events.next().await {
            if let lapin::Event::Error(e) = event {
                tracing::warn!(error = %e, "RabbitMQ connection error");
                // notify_one keeps a permit if the supervisor is not waiting yet.
                on_error.notify_one();
            }
        }
        // The listener ends with the connection.
        on_error.notify_one();
    });
    let publisher = connection.create_channel().await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    publisher
        .exchange_declare(
            &config.exchange,
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    publisher
        .exchange_declare(
            &config.dead_letter_exchange,
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(Live {
        connection: Arc::new(connection),
        publisher,
        lost,
    })
}

/// Runs until `cancel` fires or the bus is dropped.
pub(super) async fn supervise(shared: Weak<Shared>, cancel: CancellationToken) {
    let Some(config) = shared.upgrade().map(|s| s.config.clone()) else {
        return;
    };
    let mut backoff = config.reconnect_min;
    // After a loss, the next node first: the lost one is likely down.
    let mut first = 0;
    loop {
        match open_any(&config, first).await {
            Ok((node, live)) => {
                backoff = config.reconnect_min;
                first = node + 1;
                let Some(s) = shared.upgrade() else { return };
                s.live.send_replace(Some(live.clone()));
                drop(s);
                tracing::info!(node, "connected to RabbitMQ");
                wait_for_loss(&live, &cancel).await;
                if let Some(s) = shared.upgrade() {
                    s.live.send_replace(None);
                }
                let _ = live.connection.close(200, "reconnecting").await;
                if cancel.is_cancelled() {
                    return;
                }
                tracing::warn!("lost the RabbitMQ connection; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "cannot connect to RabbitMQ");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(config.reconnect_max);
            }
        }
    }
}

async fn wait_for_loss(live: &Live, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = live.lost.notified() => {}
            // lapin reports most failures through on_error; the poll also
            // catches a publisher channel closed by a channel-level error.
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        if !live.is_connected() {
            return;
        }
    }
}
