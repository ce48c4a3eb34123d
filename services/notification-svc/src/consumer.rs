//! The consumer: one mail per `purchase.completed` and `sale.completed`,
//! however often the bus delivers the event and whenever the process dies.
//!
//! Order per delivery: the inbox is asked whether the event was mailed; if
//! not, the mail is sent; only once the server has accepted it (`250`) is
//! the event recorded in the inbox, and only then is the delivery acked. A
//! crash at any point therefore loses no mail. The one window left — from
//! the moment the server has the whole message (the final `.` of `DATA`,
//! which it commits before answering `250`) until the inbox write lands —
//! sends the mail again on redelivery: **at-least-once to the SMTP
//! server**; no client can close that window, SMTP has no way to ask
//! whether a message arrived. It is made harmless by the
//! message itself, which is a pure function of the event (same
//! `Message-ID: <event-id@sender-domain>`, same `Date`, same body), so the
//! second copy is the same mail and mail systems drop it as such.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use erp_service::{
    async_trait::async_trait,
    erp_bus::{Delivery, Disposition, MessageHandler, Subscription},
    erp_core::{EventId, RawEnvelope},
    erp_store::Inbox,
};

use crate::{
    mail::{self, MAILED},
    mailer::{Addressing, Mailer, SendError},
};

/// The name this consumer's records carry in the inbox.
pub const CONSUMER: &str = "notification.mail";

/// The wait before the next attempt after the `attempt`-th failed: 1 s,
/// doubling, at most 15 s. With the default 40 attempts a mail waits about
/// nine minutes for its server before it is dead-lettered.
pub fn retry_after(attempt: u32) -> Duration {
    Duration::from_secs(1)
        .saturating_mul(1 << attempt.saturating_sub(1).min(4))
        .min(Duration::from_secs(15))
}

/// The subscription on `queue`: both events, `max_attempts` deliveries.
pub fn subscription(queue: &str, max_attempts: u32) -> Subscription {
    Subscription {
        max_attempts,
        ..Subscription::new(queue, &MAILED)
    }
}

/// Mails each event once; see the module docs for the ordering.
pub struct MailConsumer {
    addressing: Addressing,
    mailer: Arc<dyn Mailer>,
    inbox: Arc<dyn Inbox>,
    /// Events being mailed by this process: a second copy of one (a relay
    /// may publish an event twice) waits for the first instead of racing it.
    in_flight: Mutex<HashSet<EventId>>,
    server_ok: Arc<AtomicBool>,
}

impl MailConsumer {
    /// Mails through `mailer`, recording in `inbox`.
    pub fn new(addressing: Addressing, mailer: Arc<dyn Mailer>, inbox: Arc<dyn Inbox>) -> Self {
        Self {
            addressing,
            mailer,
            inbox,
            in_flight: Mutex::default(),
            server_ok: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Whether the last mail handed to the server was accepted (`true`
    /// before the first), for the health report.
    pub fn server_ok(&self) -> Arc<AtomicBool> {
        self.server_ok.clone()
    }

    async fn mail(&self, event: &RawEnvelope, attempt: u32) -> Disposition {
        match self.inbox.contains(CONSUMER, event.id).await {
            Ok(true) => {
                metrics::counter!("erp_mails_total", "outcome" => "already_sent").increment(1);
                return Disposition::Ack;
            }
            Ok(false) => {}
            Err(e) => return Disposition::retry(retry_after(attempt), format!("inbox: {e}")),
        }
        let notice = match mail::compose(event) {
            Ok(Some(notice)) => notice,
            Ok(None) => return Disposition::Ack,
            Err(e) => {
                return Disposition::dead_letter(format!("unreadable {}: {e}", event.event_type));
            }
        };
        let sent = match self.addressing.message(&notice) {
            Ok(message) => self.mailer.send(message).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => self.server_ok.store(true, Ordering::Relaxed),
            Err(SendError::Transient(reason)) => {
                self.server_ok.store(false, Ordering::Relaxed);
                metrics::counter!("erp_mails_total", "outcome" => "retried").increment(1);
                return Disposition::retry(retry_after(attempt), reason);
            }
            Err(SendError::Permanent(reason)) => {
                metrics::counter!("erp_mails_total", "outcome" => "refused").increment(1);
                return Disposition::dead_letter(reason);
            }
        }
        metrics::counter!("erp_mails_total", "outcome" => "sent").increment(1);
        self.record(event.id, attempt).await
    }

    /// Records the sent mail. A store hiccup is retried here, briefly,
    /// because giving the delivery back would send the mail again.
    async fn record(&self, id: EventId, attempt: u32) -> Disposition {
        let mut last = String::new();
        for wait in [0, 100, 300, 1_000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            match self.inbox.insert(CONSUMER, id).await {
                Ok(_) => return Disposition::Ack,
                Err(e) => last = e.to_string(),
            }
        }
        Disposition::retry(retry_after(attempt), format!("inbox: {last}"))
    }
}

/// Removes its event from the in-flight set when the handling ends, however.
struct Claim<'a>(&'a Mutex<HashSet<EventId>>, EventId);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

#[async_trait]
impl MessageHandler for MailConsumer {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        let event = match RawEnvelope::decode(&delivery.body) {
            Ok(event) => event,
            Err(e) => return Disposition::dead_letter(format!("undecodable event: {e}")),
        };
        if !MAILED.contains(&event.event_type.as_str()) {
            return Disposition::Ack;
        }
        let fresh = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event.id);
        if !fresh {
            return Disposition::retry(
                retry_after(1),
                "another copy of this event is being mailed",
            );
        }
        let _claim = Claim(&self.in_flight, event.id);
        self.mail(&event, delivery.attempt).await
    }
}

#[cfg(test)]
mod tests {
    use erp_service::{
        erp_bus::Headers,
        erp_core::{EventEnvelope, Timestamp},
        erp_store::memory::MemoryInbox,
    };
    use serde_json::json;

    use super::*;
    use crate::mailer::DirectoryMailer;

    fn delivery(event_type: &str, id: EventId) -> Delivery {
        let envelope = EventEnvelope {
            id,
            event_type: event_type.into(),
            version: 1,
            occurred_at: Timestamp::now(),
            source: "purchase-svc".into(),
            correlation_id: "c".into(),
            causation_id: "c".into(),
            data: json!({
                "purchase_id": "0190b0a0-0000-7000-8000-0000000000aa",
                "store_id": "main",
                "purchased_at": "2026-12-06T09:59:00Z",
                "lines": [{"product_id": "bolt", "quantity": 2, "unit_price": 5}],
            }),
        };
        Delivery {
            message_id: Some(id.to_string()),
            routing_key: event_type.into(),
            headers: Headers::default(),
            body: envelope.encode().into(),
            attempt: 1,
        }
    }

    fn addressing() -> Addressing {
        Addressing {
            from: "ERP <erp@example.test>".parse().unwrap(),
            to: vec!["buyers@example.test".parse().unwrap()],
        }
    }

    fn mails(dir: &std::path::Path) -> Vec<String> {
        let mut mails: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        mails.sort();
        mails
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", EventId::new()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn each_event_is_mailed_once_however_often_it_arrives() {
        let dir = temp_dir("mail-once");
        let consumer = MailConsumer::new(
            addressing(),
            Arc::new(DirectoryMailer::new(&dir).unwrap()),
            Arc::new(MemoryInbox::new()),
        );
        let (a, b) = (EventId::new(), EventId::new());
        for id in [a, a, b, a, b] {
            assert_eq!(
                consumer.handle(&delivery("purchase.completed", id)).await,
                Disposition::Ack
            );
        }
        let mails = mails(&dir);
        assert_eq!(mails.len(), 2, "{mails:#?}");
        for id in [a, b] {
            let header = format!("Message-ID: <{id}@example.test>");
            assert_eq!(mails.iter().filter(|m| m.contains(&header)).count(), 1);
        }
    }

    #[tokio::test]
    async fn a_failed_send_is_retried_with_backoff_and_recorded_only_once_sent() {
        let dir = temp_dir("mail-retry");
        let inbox = Arc::new(MemoryInbox::new());
        let consumer = MailConsumer::new(
            addressing(),
            Arc::new(DirectoryMailer::new(&dir).unwrap()),
            inbox.clone(),
        );
        // The transport's directory gone (a file in its place): writes fail.
        std::fs::remove_dir(&dir).unwrap();
        std::fs::write(&dir, b"").unwrap();
        let id = EventId::new();
        let mut first = delivery("purchase.completed", id);
        first.attempt = 3;
        assert!(matches!(
            consumer.handle(&first).await,
            Disposition::Retry { after, .. } if after == Duration::from_secs(4)
        ));
        assert!(!consumer.server_ok().load(Ordering::Relaxed));
        assert!(!inbox.contains(CONSUMER, id).await.unwrap());

        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(consumer.handle(&first).await, Disposition::Ack);
        assert!(consumer.server_ok().load(Ordering::Relaxed));
        assert!(inbox.contains(CONSUMER, id).await.unwrap());
        assert_eq!(mails(&dir).len(), 1);
    }

    #[tokio::test]
    async fn poison_is_dead_lettered_and_other_events_acked_unmailed() {
        let dir = temp_dir("mail-poison");
        let consumer = MailConsumer::new(
            addressing(),
            Arc::new(DirectoryMailer::new(&dir).unwrap()),
            Arc::new(MemoryInbox::new()),
        );
        let mut garbage = delivery("purchase.completed", EventId::new());
        garbage.body = b"not json".to_vec().into();
        assert!(matches!(
            consumer.handle(&garbage).await,
            Disposition::DeadLetter { .. }
        ));
        let mut unreadable = delivery("purchase.completed", EventId::new());
        unreadable.body = String::from_utf8_lossy(&unreadable.body)
            .replace("\"lines\"", "\"nothing\"")
            .into_bytes()
            .into();
        assert!(matches!(
            consumer.handle(&unreadable).await,
            Disposition::DeadLetter { reason } if reason.contains("unreadable purchase.completed")
        ));
        assert_eq!(
            consumer
                .handle(&delivery("stock.changed", EventId::new()))
                .await,
            Disposition::Ack
        );
        assert!(mails(&dir).is_empty());
    }

    #[test]
    fn backoff_doubles_from_one_second_to_fifteen() {
        let waits: Vec<u64> = (1..=7).map(|a| retry_after(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 15, 15, 15]);
        let patience: Duration = (1..40).map(retry_after).sum();
        assert!(patience > Duration::from_secs(8 * 60), "{patience:?}");
    }
}
