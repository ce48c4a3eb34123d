//! Raw lapin against the SDK's RabbitMQ bus, in the same run, on the same
//! broker: end-to-end throughput (persistent, confirms, manual ack, 256-byte
//! payload, quorum queue behind a topic exchange) and publish→consume
//! latency at a fixed 2,000 msg/s. Prints figures and SDK/raw ratios.
//!
//! `cargo bench -p erp-bus --features rabbitmq --bench rabbitmq_throughput`
//! (start the broker with `scripts/rabbitmq.sh`; `BENCH_MESSAGES` overrides
//! the message count).

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use erp_bus::{
    Delivery, Disposition, EventBus, MessageHandler, OutgoingMessage, Subscription,
    rabbitmq::{RabbitBus, RabbitConfig},
};
use futures::StreamExt;
use lapin::{
    BasicProperties, Connection, ConnectionProperties, ExchangeKind,
    options::*,
    types::{AMQPValue, FieldTable, LongString},
};
use tokio::sync::Notify;

const PAYLOAD: usize = 256;
const EXCHANGE: &str = "erp.events";
const RATE: u64 = 2_000;
const LATENCY_MESSAGES: usize = 4_000;

fn url() -> String {
    std::env::var("ERP_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A 256-byte payload whose first 8 bytes carry the send time.
fn payload(epoch: Instant) -> Vec<u8> {
    let mut p = vec![b'x'; PAYLOAD];
    p[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
    p
}

fn latency_of(body: &[u8], epoch: Instant) -> Duration {
    let sent = u64::from_le_bytes(body[..8].try_into().unwrap());
    Duration::from_nanos(epoch.elapsed().as_nanos() as u64 - sent)
}

/// Counts deliveries and records latencies; wakes the waiter at the target.
struct Sink {
    count: AtomicUsize,
    target: AtomicUsize,
    done: Notify,
    latencies: Mutex<Vec<Duration>>,
    epoch: Instant,
}

impl Sink {
    fn new(epoch: Instant) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicUsize::new(0),
            target: AtomicUsize::new(usize::MAX),
            done: Notify::new(),
            latencies: Mutex::new(Vec::new()),
            epoch,
        })
    }

    fn record(&self, body: &[u8], track_latency: bool) {
        if track_latency {
            self.latencies
                .lock()
                .unwrap()
                .push(latency_of(body, self.epoch));
        }
        if self.count.fetch_add(1, Ordering::SeqCst) + 1 == self.target.load(Ordering::SeqCst) {
            self.done.notify_one();
        }
    }

    async fn wait(&self, target: usize) {
        self.target.store(target, Ordering::SeqCst);
        if self.count.load(Ordering::SeqCst) >= target {
            return;
        }
        tokio::time::timeout(Duration::from_secs(120), self.done.notified())
            .await
            .expect("messages did not all arrive");
    }

    fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.latencies.lock().unwrap().clear();
    }

    fn percentiles(&self) -> (Duration, Duration) {
        let mut l = self.latencies.lock().unwrap().clone();
        l.sort();
        (l[l.len() / 2], l[l.len() * 99 / 100])
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    throughput: f64,
    p50: Duration,
    p99: Duration,
}

fn quorum_args() -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    t
}

async fn raw_lapin(n: usize, run: &str) -> Figures {
    let props = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let conn = Connection::connect(&url(), props).await.unwrap();
    let publisher = conn.create_channel().await.unwrap();
    let consumer_ch = conn.create_channel().await.unwrap();
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    publisher
        .exchange_declare(
            EXCHANGE,
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = format!("bench.raw.{run}");
    let key = format!("bench.raw.{run}.key");
    publisher
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            quorum_args(),
        )
        .await
        .unwrap();
    publisher
        .queue_bind(
            &queue,
            EXCHANGE,
            &key,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    consumer_ch
        .basic_qos(1000, BasicQosOptions::default())
        .await
        .unwrap();

    let epoch = Instant::now();
    let sink = Sink::new(epoch);
    let consumer = consumer_ch
        .basic_consume(
            &queue,
            "raw",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let track = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let sink = sink.clone();
        let track = track.clone();
        tokio::spawn(consumer.for_each_concurrent(256, move |d| {
            let sink = sink.clone();
            let track = track.clone();
            async move {
                let d = d.unwrap();
                d.acker.ack(BasicAckOptions::default()).await.unwrap();
                sink.record(&d.data, track.load(Ordering::SeqCst));
            }
        }));
    }
    let props = || {
        BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
    };
    let opts = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };

    // Throughput: confirms pipelined, at most 1,000 outstanding.
    let start = Instant::now();
    let mut outstanding = VecDeque::new();
    for _ in 0..n {
        let c = publisher
            .basic_publish(EXCHANGE, &key, opts, &payload(epoch), props())
            .await
            .unwrap();
        outstanding.push_back(c);
        if outstanding.len() >= 1000 {
            assert!(outstanding.pop_front().unwrap().await.unwrap().is_ack());
        }
    }
    for c in outstanding {
        assert!(c.await.unwrap().is_ack());
    }
    sink.wait(n).await;
    let throughput = n as f64 / start.elapsed().as_secs_f64();

    // Latency at a fixed rate; each publish awaits its own confirm.
    sink.reset();
    track.store(true, Ordering::SeqCst);
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / RATE));
    for _ in 0..LATENCY_MESSAGES {
        tick.tick().await;
        let c = publisher
            .basic_publish(EXCHANGE, &key, opts, &payload(epoch), props())
            .await
            .unwrap();
        tokio::spawn(async move { assert!(c.await.unwrap().is_ack()) });
    }
    sink.wait(LATENCY_MESSAGES).await;
    let (p50, p99) = sink.percentiles();
    publisher
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    let _ = conn.close(200, "bench done").await;
    Figures {
        throughput,
        p50,
        p99,
    }
}

struct SinkHandler {
    sink: Arc<Sink>,
    track: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl MessageHandler for SinkHandler {
    async fn handle(&self, d: &Delivery) -> Disposition {
        self.sink.record(&d.body, self.track.load(Ordering::SeqCst));
        Disposition::Ack
    }
}

async fn sdk(n: usize, run: &str) -> Figures {
    let bus = RabbitBus::start(RabbitConfig::new(url()));
    assert!(
        bus.wait_connected(Duration::from_secs(15)).await,
        "RabbitMQ not reachable"
    );
    let epoch = Instant::now();
    let sink = Sink::new(epoch);
    let track = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let queue = format!("bench.sdk.{run}");
    let key = format!("bench.sdk.{run}.key");
    let mut sub = Subscription::new(&queue, &[&key]);
    sub.prefetch = 1000;
    sub.concurrency = 256;
    let handle = bus
        .subscribe(
            sub,
            Arc::new(SinkHandler {
                sink: sink.clone(),
                track: track.clone(),
            }),
        )
        .await
        .unwrap();
    while !handle.is_attached() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let message = |epoch: Instant| OutgoingMessage {
        message_id: String::new(),
        routing_key: key.clone(),
        headers: Default::default(),
        body: payload(epoch).into(),
    };

    // Throughput: batches of 1,000, confirms pipelined inside each batch.
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let batch: Vec<_> = (0..left.min(1000)).map(|_| message(epoch)).collect();
        left -= batch.len();
        for r in bus.publish_batch(batch).await {
            r.unwrap();
        }
    }
    sink.wait(n).await;
    let throughput = n as f64 / start.elapsed().as_secs_f64();

    sink.reset();
    track.store(true, Ordering::SeqCst);
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / RATE));
    for _ in 0..LATENCY_MESSAGES {
        tick.tick().await;
        let bus = bus.clone();
        let m = message(epoch);
        tokio::spawn(async move { bus.publish(m).await.unwrap() });
    }
    sink.wait(LATENCY_MESSAGES).await;
    let (p50, p99) = sink.percentiles();
    handle.stop().await;
    bus.delete_queue(&queue).await.unwrap();
    bus.shutdown();
    Figures {
        throughput,
        p50,
        p99,
    }
}

fn main() {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let run = erp_core::EventId::new().as_uuid().simple().to_string();
        // Alternate, so drift on a noisy machine hits both sides alike.
        let mut raw = Vec::new();
        let mut ours = Vec::new();
        let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
        for round in 0..rounds {
            raw.push(raw_lapin(n, &format!("{run}.{round}")).await);
            ours.push(sdk(n, &format!("{run}.{round}")).await);
        }
        let best = |v: &[Figures]| v.iter().copied().max_by(|a, b| a.throughput.total_cmp(&b.throughput)).unwrap();
        let median_p = |v: &[Figures]| {
            let mut p50: Vec<_> = v.iter().map(|f| f.p50).collect();
            let mut p99: Vec<_> = v.iter().map(|f| f.p99).collect();
            p50.sort();
            p99.sort();
            (p50[p50.len() / 2], p99[p99.len() / 2])
        };
        let (r, s) = (best(&raw), best(&ours));
        let (rp50, rp99) = median_p(&raw);
        let (sp50, sp99) = median_p(&ours);
        println!("messages per throughput run: {n}, payload {PAYLOAD} B, persistent, confirms, manual ack, quorum queue");
        println!("{:<10} {:>14} {:>12} {:>12}", "", "msg/s (best)", "p50 @2k/s", "p99 @2k/s (medians)");
        println!("{:<10} {:>14.0} {:>12?} {:>12?}", "raw lapin", r.throughput, rp50, rp99);
        println!("{:<10} {:>14.0} {:>12?} {:>12?}", "SDK bus", s.throughput, sp50, sp99);
        let median = |v: &[Figures]| {
            let mut t: Vec<f64> = v.iter().map(|f| f.throughput).collect();
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        println!("ratio SDK/raw throughput: best {:.2}, median {:.2}", s.throughput / r.throughput, median(&ours) / median(&raw));
        for (i, (a, b)) in raw.iter().zip(&ours).enumerate() {
            println!("round {i}: raw {:.0} msg/s, SDK {:.0} msg/s", a.throughput, b.throughput);
        }
    });
}
