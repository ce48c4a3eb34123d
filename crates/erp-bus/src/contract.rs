//! The generic contract suite every [`EventBus`] adapter must pass.
//!
//! Run [`bus`] against a connected adapter; it uses fresh queue names and
//! routing keys each time, so it also works on a shared broker.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
use erp_core::EventId;
use tokio::sync::mpsc;

use crate::{
    BusError, DeadLetter, Delivery, Disposition, EventBus, Headers, MAX_REDRIVES, MessageHandler,
    OutgoingMessage, Recorder, Redriven, Subscription, redrives,
};

const PATIENCE: Duration = Duration::from_secs(10);

fn recorder(
    behaviour: impl Fn(&Delivery) -> Disposition + Send + Sync + 'static,
) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Delivery>) {
    Recorder::new(behaviour)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Delivery>, what: &str) -> Delivery {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("recorder dropped")
}

async fn dead_letters<B: EventBus + ?Sized>(bus: &B, queue: &str, want: usize) -> Vec<DeadLetter> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(
            bus.take_dead_letters(queue, want - got.len())
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got.len(), want, "expected {want} dead letters in {queue}");
    got
}

fn message(key: &str, body: &str) -> OutgoingMessage {
    let mut headers = Headers::new();
    headers.insert("x-correlation-id".into(), "corr-1".into());
    OutgoingMessage {
        message_id: EventId::new().to_string(),
        routing_key: key.to_owned(),
        headers,
        body: Bytes::from(body.to_owned()),
    }
}

/// Runs every check of the bus contract; returns the names of the queues it
/// declared, so a test against a shared broker can delete them afterwards.
pub async fn bus<B: EventBus + ?Sized>(bus: &B) -> Vec<String> {
    let run = format!("contract.{}", EventId::new().as_uuid().simple());
    unroutable_publish_is_an_error(bus, &run).await;
    delivers_once_with_id_and_headers(bus, &run).await;
    retries_then_acks(bus, &run).await;
    dead_letters_after_max_attempts(bus, &run).await;
    dead_letters_at_once_when_asked(bus, &run).await;
    dead_letters_can_be_redriven(bus, &run).await;
    redrives_stop_at_the_limit(bus, &run).await;
    survives_a_panicking_handler(bus, &run).await;
    competing_consumers_share_a_queue(bus, &run).await;
    [
        "once",
        "retry",
        "poison",
        "malformed",
        "redrive",
        "relapse",
        "panic",
        "compete",
    ]
    .iter()
    .map(|q| format!("{run}.q-{q}"))
    .collect()
}

async fn unroutable_publish_is_an_error<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.nobody");
    let err = bus.publish(message(&key, "{}")).await.unwrap_err();
    assert_eq!(
        err,
        BusError::Unroutable(key),
        "an unroutable publish must fail"
    );
}

async fn delivers_once_with_id_and_headers<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.once");
    let (handler, mut seen) = recorder(|_| Disposition::Ack);
    let _sub = bus
        .subscribe(Subscription::new(format!("{run}.q-once"), &[&key]), handler)
        .await
        .unwrap();
    let sent = message(&key, r#"{"n":1}"#);
    bus.publish(sent.clone()).await.unwrap();
    let got = next(&mut seen, "the published message").await;
    assert_eq!(got.message_id.as_deref(), Some(sent.message_id.as_str()));
    assert_eq!(got.routing_key, key);
    assert_eq!(got.body, sent.body);
    assert_eq!(
        got.headers.get("x-correlation-id").map(String::as_str),
        Some("corr-1")
    );
    assert_eq!(got.attempt, 1);
    let again = tokio::time::timeout(Duration::from_millis(300), seen.recv()).await;
    assert!(
        again.is_err(),
        "an acked message must not come back: {again:?}"
    );
}

async fn retries_then_acks<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.retry");
    let (handler, mut seen) = recorder(|d| {
        if d.attempt < 2 {
            Disposition::retry(Duration::from_millis(10), "not yet")
        } else {
            Disposition::Ack
        }
    });
    let queue = format!("{run}.q-retry");
    let _sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), handler)
        .await
        .unwrap();
    bus.publish(message(&key, "{}")).await.unwrap();
    assert_eq!(next(&mut seen, "first attempt").await.attempt, 1);
    assert_eq!(next(&mut seen, "the retry").await.attempt, 2);
    assert!(bus.take_dead_letters(&queue, 10).await.unwrap().is_empty());
}

async fn dead_letters_after_max_attempts<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.poison");
    let (handler, _seen) = recorder(|_| Disposition::retry(Duration::from_millis(5), "db down"));
    let queue = format!("{run}.q-poison");
    let mut sub = Subscription::new(&queue, &[&key]);
    sub.max_attempts = 3;
    let _sub = bus.subscribe(sub, handler).await.unwrap();
    let sent = message(&key, "{}");
    bus.publish(sent.clone()).await.unwrap();
    let dead = dead_letters(bus, &queue, 1).await;
    assert_eq!(
        dead[0].attempts, 3,
        "dead-lettered after exactly max_attempts"
    );
    assert!(
        dead[0].reason.contains("db down"),
        "reason kept: {}",
        dead[0].reason
    );
    assert_eq!(
        dead[0].delivery.message_id.as_deref(),
        Some(sent.message_id.as_str())
    );
}

async fn dead_letters_can_be_redriven<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.redrive");
    // The first delivery cannot apply (dead-lettered); once "fixed", it can.
    let calls = AtomicBool::new(false);
    let (handler, mut seen) = recorder(move |_| {
        if calls.swap(true, Ordering::SeqCst) {
            Disposition::Ack
        } else {
            Disposition::dead_letter("unknown_product")
        }
    });
    let queue = format!("{run}.q-redrive");
    let _sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), handler)
        .await
        .unwrap();
    let sent = message(&key, r#"{"fact":1}"#);
    bus.publish(sent.clone()).await.unwrap();
    next(&mut seen, "the first delivery").await;
    // Redrive as soon as it sits in the dead-letter queue.
    let done = redrive_once_dead(bus, &queue).await;
    assert_eq!(
        done,
        Redriven { moved: 1, held: 0 },
        "the dead letter moved back"
    );
    let again = next(&mut seen, "the redriven message").await;
    assert_eq!(again.message_id.as_deref(), Some(sent.message_id.as_str()));
    assert_eq!(again.routing_key, key, "its original routing key");
    assert_eq!(again.body, sent.body);
    assert_eq!(
        again.headers.get("x-correlation-id").map(String::as_str),
        Some("corr-1")
    );
    assert_eq!(again.attempt, 1, "a fresh first attempt");
    assert_eq!(redrives(&again.headers), 1, "counted as redriven once");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bus.take_dead_letters(&queue, 10).await.unwrap().is_empty(),
        "acked after the redrive, so nothing is dead any more"
    );
    assert_eq!(
        bus.redrive_dead_letters(&queue, 10).await.unwrap(),
        Redriven::default()
    );
}

/// Redrives `queue` as soon as something sits in its dead-letter queue.
async fn redrive_once_dead<B: EventBus + ?Sized>(bus: &B, queue: &str) -> Redriven {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let done = bus.redrive_dead_letters(queue, 10).await.unwrap();
        if done != Redriven::default() || tokio::time::Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn redrives_stop_at_the_limit<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.relapse");
    // Never fixed: every delivery is dead-lettered again.
    let (handler, mut seen) = recorder(|_| Disposition::dead_letter("still broken"));
    let queue = format!("{run}.q-relapse");
    let _sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), handler)
        .await
        .unwrap();
    let sent = message(&key, r#"{"relapse":1}"#);
    bus.publish(sent.clone()).await.unwrap();
    next(&mut seen, "the first delivery").await;
    for round in 1..=MAX_REDRIVES {
        assert_eq!(
            redrive_once_dead(bus, &queue).await,
            Redriven { moved: 1, held: 0 },
            "redrive {round}"
        );
        let again = next(&mut seen, "a redriven delivery").await;
        assert_eq!(redrives(&again.headers), round);
    }
    assert_eq!(
        redrive_once_dead(bus, &queue).await,
        Redriven { moved: 0, held: 1 },
        "at the limit it stays dead"
    );
    assert_eq!(
        redrive_once_dead(bus, &queue).await,
        Redriven { moved: 0, held: 1 },
        "and stays so on the next redrive"
    );
    let dead = dead_letters(bus, &queue, 1).await;
    assert_eq!(
        dead[0].delivery.message_id.as_deref(),
        Some(sent.message_id.as_str())
    );
    assert_eq!(dead[0].redrives(), MAX_REDRIVES, "with its count");
    assert!(seen.try_recv().is_err(), "no delivery after the limit");
}

async fn dead_letters_at_once_when_asked<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.malformed");
    let (handler, _seen) = recorder(|_| Disposition::dead_letter("malformed envelope"));
    let queue = format!("{run}.q-malformed");
    let _sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), handler)
        .await
        .unwrap();
    bus.publish(message(&key, "not json")).await.unwrap();
    let dead = dead_letters(bus, &queue, 1).await;
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].reason, "malformed envelope");
    assert_eq!(dead[0].delivery.body, Bytes::from_static(b"not json"));
}

struct PanicsOnPoison {
    seen_good: mpsc::UnboundedSender<Delivery>,
    panicked: AtomicBool,
}

#[async_trait]
impl MessageHandler for PanicsOnPoison {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        if delivery.body.as_ref() == b"poison" {
            self.panicked.store(true, Ordering::SeqCst);
            panic!("poison message");
        }
        let _ = self.seen_good.send(delivery.clone());
        Disposition::Ack
    }
}

async fn survives_a_panicking_handler<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.panic");
    let (seen_good, mut good) = mpsc::unbounded_channel();
    let handler = Arc::new(PanicsOnPoison {
        seen_good,
        panicked: AtomicBool::new(false),
    });
    let queue = format!("{run}.q-panic");
    let mut sub = Subscription::new(&queue, &[&key]);
    sub.max_attempts = 2;
    sub.concurrency = 1;
    let _sub = bus.subscribe(sub, handler.clone()).await.unwrap();
    bus.publish(message(&key, "poison")).await.unwrap();
    let dead = dead_letters(bus, &queue, 1).await;
    assert!(handler.panicked.load(Ordering::SeqCst));
    assert_eq!(dead[0].attempts, 2);
    bus.publish(message(&key, "fine")).await.unwrap();
    let d = next(&mut good, "a message after the poison one").await;
    assert_eq!(d.body, Bytes::from_static(b"fine"), "the consumer survived");
}

async fn competing_consumers_share_a_queue<B: EventBus + ?Sized>(bus: &B, run: &str) {
    let key = format!("{run}.compete");
    let queue = format!("{run}.q-compete");
    let slow = |_: &Delivery| {
        std::thread::sleep(Duration::from_millis(2));
        Disposition::Ack
    };
    let (a, mut seen_a) = recorder(slow);
    let (b, mut seen_b) = recorder(slow);
    // One message at a time each: while one consumer holds a message, the
    // next can only go to the other.
    let one_at_a_time = || {
        let mut s = Subscription::new(&queue, &[&key]);
        s.prefetch = 1;
        s.concurrency = 1;
        s
    };
    let _a = bus.subscribe(one_at_a_time(), a).await.unwrap();
    let _b = bus.subscribe(one_at_a_time(), b).await.unwrap();
    let sent: Vec<_> = (0..20).map(|i| message(&key, &i.to_string())).collect();
    for m in &sent {
        bus.publish(m.clone()).await.unwrap();
    }
    let (mut by_a, mut by_b) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while by_a.len() + by_b.len() < sent.len() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            Some(d) = seen_a.recv() => by_a.push(d.message_id.unwrap()),
            Some(d) = seen_b.recv() => by_b.push(d.message_id.unwrap()),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    // Nothing more may come: a message handled twice would show up here.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(d) = seen_a.try_recv() {
        by_a.push(d.message_id.unwrap());
    }
    while let Ok(d) = seen_b.try_recv() {
        by_b.push(d.message_id.unwrap());
    }
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both consumers take part: {} and {} of {}",
        by_a.len(),
        by_b.len(),
        sent.len()
    );
    let mut ids: Vec<_> = by_a.into_iter().chain(by_b).collect();
    ids.sort();
    let mut want: Vec<_> = sent.into_iter().map(|m| m.message_id).collect();
    want.sort();
    assert_eq!(ids, want, "each message is handled by exactly one consumer");
}
