//! The clients of a load phase.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::bail;
use tokio::sync::mpsc;

use crate::{
    Args, GRACE,
    http::{Answer, Api},
    stats::{ms, percentile},
};

/// The products of a run: one probe per client, and shared ones.
#[derive(Debug, Clone)]
pub(crate) struct Products {
    pub probes: Vec<String>,
    pub shared: Vec<String>,
}

/// Units of each shared product bought before the first phase, so sales
/// mostly find stock.
const SEED_UNITS: i64 = 1_000_000;

impl Products {
    pub fn new(run: &str, clients: usize, shared: usize) -> Self {
        Self {
            probes: (0..clients).map(|i| format!("{run}-probe{i}")).collect(),
            shared: (0..shared.max(1)).map(|i| format!("{run}-s{i}")).collect(),
        }
    }
}

/// Creates the products and seeds stock of the shared ones; waits until
/// inventory shows the seed.
pub(crate) async fn set_up(api: &Api, products: &Products) -> anyhow::Result<()> {
    for p in products.probes.iter().chain(&products.shared) {
        let a = api.create_product(p).await;
        if !matches!(a.status, Some(201 | 409)) {
            bail!("creating product {p}: {:?}", a.status);
        }
    }
    for p in &products.shared {
        let key = uuid::Uuid::now_v7().to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        let lines = [(p.as_str(), SEED_UNITS)];
        let seeded = send_until_definite(deadline, || api.purchase(&lines, &key)).await;
        if seeded.answer.status != Some(201) {
            bail!("seeding {p}: {:?}", seeded.answer.status);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for p in &products.shared {
        while api.on_hand(p).await.unwrap_or(0) < SEED_UNITS / 2 {
            if Instant::now() > deadline {
                bail!("the seed purchase of {p} did not reach inventory in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// What one command came to.
struct Sent {
    answer: Answer,
    took: Duration,
    non_definite: u32,
}

/// Sends with the same request (and so the same Idempotency-Key) until the
/// answer is definite or `deadline` passes, as a careful client would.
async fn send_until_definite<F, Fut>(deadline: Instant, send: F) -> Sent
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let started = Instant::now();
    let mut non_definite = 0;
    loop {
        let answer = send().await;
        if answer.is_definite() || Instant::now() >= deadline {
            return Sent {
                answer,
                took: started.elapsed(),
                non_definite,
            };
        }
        non_definite += 1;
        let wait = answer.retry_after.map_or(Duration::from_millis(100), |s| {
            Duration::from_secs(s.min(2))
        });
        tokio::time::sleep(wait).await;
    }
}

/// One phase's figures.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    name: String,
    elapsed: Duration,
    clients: usize,
    definite: u64,
    unanswered: u64,
    non_definite_attempts: u64,
    statuses: BTreeMap<String, u64>,
    command_latency: Vec<Duration>,
    visibility: Vec<Duration>,
    not_visible: u64,
}

impl Phase {
    pub fn per_second(&self) -> f64 {
        self.definite as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn print(&self) {
        println!(
            "phase {}: {:.1} s, {} clients",
            self.name,
            self.elapsed.as_secs_f64(),
            self.clients
        );
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        println!(
            "  definite answers: {} ({:.1}/s) [{}]",
            self.definite,
            self.per_second(),
            statuses.join(", ")
        );
        println!(
            "  unanswered commands: {}; non-definite attempts retried: {}",
            self.unanswered, self.non_definite_attempts
        );
        println!(
            "  command latency p50 {}, p99 {}",
            ms(percentile(&self.command_latency, 50.0)),
            ms(percentile(&self.command_latency, 99.0))
        );
        println!(
            "  purchase -> stock visible (n={}, not seen: {}) p50 {}, p99 {}",
            self.visibility.len(),
            self.not_visible,
            ms(percentile(&self.visibility, 50.0)),
            ms(percentile(&self.visibility, 99.0))
        );
    }
}

/// Runs `args.clients` clients for `args.duration_secs`.
pub(crate) async fn run_phase(api: &Api, products: &Products, args: &Args, name: &str) -> Phase {
    let duration = Duration::from_secs(args.duration_secs);
    let started = Instant::now();
    let phase = Arc::new(Mutex::new(Phase {
        name: name.to_owned(),
        clients: args.clients,
        ..Phase::default()
    }));
    let mut tasks = Vec::new();
    for probe in products.probes.iter().take(args.clients) {
        let client = Client {
            api: api.clone(),
            probe: probe.clone(),
            shared: products.shared.clone(),
            purchase_percent: args.purchase_percent,
            poll: Duration::from_millis(args.poll_ms.max(1)),
            phase: Arc::clone(&phase),
        };
        tasks.push(tokio::spawn(client.run(started + duration)));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut phase = std::mem::take(&mut *phase.lock().unwrap_or_else(|p| p.into_inner()));
    phase.elapsed = duration;
    phase.command_latency.sort();
    phase.visibility.sort();
    phase
}

struct Client {
    api: Api,
    probe: String,
    shared: Vec<String>,
    purchase_percent: u8,
    poll: Duration,
    phase: Arc<Mutex<Phase>>,
}

impl Client {
    fn record(&self, f: impl FnOnce(&mut Phase)) {
        f(&mut self.phase.lock().unwrap_or_else(|p| p.into_inner()));
    }

    async fn run(self, until: Instant) {
        // The probe's on_hand when the phase starts: only this client moves it.
        let mut expected = loop {
            if let Some(n) = self.api.on_hand(&self.probe).await {
                break n;
            }
            tokio::time::sleep(self.poll).await;
        };
        let (watch, watched) = mpsc::unbounded_channel();
        let watcher = tokio::spawn(watch_probe(
            self.api.clone(),
            self.probe.clone(),
            self.poll,
            watched,
            Arc::clone(&self.phase),
        ));
        while Instant::now() < until {
            let key = uuid::Uuid::now_v7().to_string();
            let shared = &self.shared[fastrand::usize(..self.shared.len())];
            let is_purchase = fastrand::u8(0..100) < self.purchase_percent;
            let deadline = until + GRACE;
            let sent = if is_purchase {
                let lines = [
                    (self.probe.as_str(), 1),
                    (shared.as_str(), fastrand::i64(1..=5)),
                ];
                send_until_definite(deadline, || self.api.purchase(&lines, &key)).await
            } else {
                let lines = [(shared.as_str(), fastrand::i64(1..=3))];
                send_until_definite(deadline, || self.api.sale(&lines, &key)).await
            };
            let created = sent.answer.status == Some(201);
            if is_purchase && created {
                expected += 1;
                let _ = watch.send((expected, Instant::now()));
            }
            self.record(|p| {
                p.non_definite_attempts += u64::from(sent.non_definite);
                if sent.answer.is_definite() {
                    p.definite += 1;
                    p.command_latency.push(sent.took);
                    let kind = if is_purchase { "purchase" } else { "sale" };
                    let status = sent.answer.status.unwrap_or_default();
                    *p.statuses.entry(format!("{kind} {status}")).or_default() += 1;
                } else {
                    p.unanswered += 1;
                }
            });
        }
        drop(watch);
        let _ = watcher.await;
    }
}

/// Polls the probe's stock while purchases wait to be seen; records each
/// purchase's 201 → visible time.
async fn watch_probe(
    api: Api,
    probe: String,
    poll: Duration,
    mut purchases: mpsc::UnboundedReceiver<(i64, Instant)>,
    phase: Arc<Mutex<Phase>>,
) {
    let mut waiting: VecDeque<(i64, Instant)> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match purchases.recv().await {
                Some(p) => waiting.push_back(p),
                None => return,
            }
        }
        while let Ok(p) = purchases.try_recv() {
            waiting.push_back(p);
        }
        if let Some(on_hand) = api.on_hand(&probe).await {
            let now = Instant::now();
            let mut phase = phase.lock().unwrap_or_else(|p| p.into_inner());
            while waiting.front().is_some_and(|(want, _)| on_hand >= *want) {
                if let Some((_, answered)) = waiting.pop_front() {
                    phase.visibility.push(now.duration_since(answered));
                }
            }
            let given_up = waiting
                .iter()
                .take_while(|(_, answered)| now.duration_since(*answered) > GRACE * 2)
                .count();
            phase.not_visible += given_up as u64;
            waiting.drain(..given_up);
        }
        tokio::time::sleep(poll).await;
    }
}
