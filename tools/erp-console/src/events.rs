//! The live event feed: the console is one more bus subscriber, on its own
//! queue, and hands each event to every open page as a server-sent event.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use erp_service::{
    async_trait::async_trait,
    axum::{
        extract::State,
        response::sse::{Event, KeepAlive, Sse},
    },
    erp_bus::{Delivery, Disposition, MessageHandler, Subscription},
    erp_core::RawEnvelope,
};
use futures::{Stream, StreamExt, stream};
use tokio::sync::broadcast;

/// The console's queue.
pub const QUEUE: &str = "console.events";

/// The events shown.
pub const SHOWN: [&str; 3] = ["purchase.completed", "sale.completed", "stock.changed"];

/// How many recent events a page that opens gets first.
pub const RECENT: usize = 50;

/// The subscription the console consumes.
pub fn subscription() -> Subscription {
    Subscription::new(QUEUE, &SHOWN)
}

/// Events as JSON text, live and the latest [`RECENT`].
#[derive(Clone)]
pub struct Feed {
    live: broadcast::Sender<Arc<str>>,
    recent: Arc<Mutex<VecDeque<Arc<str>>>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            live: broadcast::channel(256).0,
            recent: Arc::default(),
        }
    }
}

impl Feed {
    fn push(&self, json: Arc<str>) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(json.clone());
        // No page open is no error.
        let _ = self.live.send(json);
    }

    fn recent(&self) -> Vec<Arc<str>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().cloned().collect()
    }
}

#[async_trait]
impl MessageHandler for Feed {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        // A viewer never dead-letters: what it cannot read, it skips (the
        // event's owners have their own queues).
        let Ok(event) = RawEnvelope::decode(&delivery.body) else {
            tracing::debug!("console: an undecodable event skipped");
            return Disposition::Ack;
        };
        let shown = serde_json::json!({
            "id": event.id.to_string(),
            "type": event.event_type,
            "occurred_at": event.occurred_at.to_string(),
            "source": event.source,
            "data": event.data,
        });
        self.push(shown.to_string().into());
        Disposition::Ack
    }
}

/// `GET /api/events`: the recent events, then each new one, as they come.
pub async fn stream_events(
    State(feed): State<Feed>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before reading the recent ones: nothing falls between.
    let live = feed.live.subscribe();
    let recent = stream::iter(feed.recent());
    let live = stream::unfold(live, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(json) => return Some((json, rx)),
                // A slow page misses some; it keeps the rest.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let events = recent
        .chain(live)
        .map(|json| Ok(Event::default().data(&*json)));
    Sse::new(events).keep_alive(KeepAlive::default())
}
