//! `GET /api/status`: what the services' `/metrics` say about resilience —
//! the purchase → inventory breaker, the sales → inventory retries and the
//! dead letters waiting per queue — read at each call, nothing cached.

use std::collections::BTreeMap;

use erp_service::axum::{Json, extract::State};
use serde::Serialize;

use crate::forward::Forwarder;

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `closed`, `half-open`, `open`, or `unknown` (purchase-svc silent).
    pub breaker: &'static str,
    /// Retries sales-svc made of its calls to inventory, since it started;
    /// `None` when sales-svc is silent.
    pub retries: Option<u64>,
    /// Dead letters waiting, per queue, with the service that can redrive
    /// them.
    pub dead_letters: Vec<DeadLetters>,
}

/// One queue's dead letters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetters {
    /// The service that consumes the queue (and redrives it).
    pub service: String,
    /// The queue.
    pub queue: String,
    /// How many wait in its dead-letter queue.
    pub waiting: u64,
}

/// The services asked, in the order they are believed about a queue.
const SERVICES: [&str; 4] = ["inventory", "notification", "purchase", "sales"];

/// `GET /api/status`.
pub async fn status(State(f): State<Forwarder>) -> Json<Status> {
    let scrapes = futures::future::join_all(SERVICES.map(|s| scrape(&f, s))).await;
    let texts: BTreeMap<&str, String> = SERVICES
        .iter()
        .zip(scrapes)
        .filter_map(|(s, text)| Some((*s, text?)))
        .collect();
    Json(read(&texts))
}

async fn scrape(f: &Forwarder, service: &str) -> Option<String> {
    let base = f.targets.url(service)?;
    let answer = f
        .client
        .get(format!("{}/metrics", base.trim_end_matches('/')))
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    answer.text().await.ok()
}

/// The status from each service's metrics text.
pub fn read(texts: &BTreeMap<&str, String>) -> Status {
    let breaker = texts
        .get("purchase")
        .and_then(|t| {
            samples(t, "erp_breaker_state").find(|s| s.label("breaker") == Some("inventory-grpc"))
        })
        .map_or("unknown", |s| match s.value as u64 {
            0 => "closed",
            1 => "half-open",
            _ => "open",
        });
    let retries = texts.get("sales").map(|t| {
        samples(t, "erp_retry_attempts_total")
            .map(|s| s.value as u64)
            .sum()
    });
    // In one process (all-in-one) every service shows every queue: a queue
    // belongs to the service it is named after (`inventory.stock`), else
    // to the first that reports it.
    let mut queues: BTreeMap<String, DeadLetters> = BTreeMap::new();
    for service in SERVICES {
        let Some(text) = texts.get(service) else {
            continue;
        };
        for s in samples(text, "erp_dead_letters") {
            let Some(queue) = s.label("queue") else {
                continue;
            };
            if queue.starts_with("console.") {
                continue;
            }
            let owner = SERVICES
                .iter()
                .find(|o| queue.starts_with(&format!("{o}.")) && texts.contains_key(*o))
                .copied()
                .unwrap_or(service);
            queues.entry(queue.to_owned()).or_insert(DeadLetters {
                service: owner.to_owned(),
                queue: queue.to_owned(),
                waiting: s.value as u64,
            });
        }
    }
    Status {
        breaker,
        retries,
        dead_letters: queues.into_values().collect(),
    }
}

/// One sample of the Prometheus text format.
struct Sample<'a> {
    labels: &'a str,
    value: f64,
}

impl Sample<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        let start = self.labels.find(&format!("{name}=\""))? + name.len() + 2;
        let len = self.labels[start..].find('"')?;
        Some(&self.labels[start..start + len])
    }
}

/// The samples of `metric` in `text` (labels as written; values parsed).
/// By hand because only three series are read and their labels hold no
/// escaped quotes; a full exposition-format parser would be a dependency
/// for that.
fn samples<'a>(text: &'a str, metric: &'a str) -> impl Iterator<Item = Sample<'a>> {
    text.lines().filter_map(move |line| {
        let rest = line.strip_prefix(metric)?;
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        Some(Sample {
            labels,
            value: value.trim().parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_breaker_the_retries_and_the_dead_letters_once_per_queue() {
        let all = "# TYPE erp_breaker_state gauge\n\
            erp_breaker_state{service=\"all-in-one\",breaker=\"inventory-grpc\"} 2\n\
            erp_retry_attempts_total{service=\"all-in-one\",target=\"inventory-rest\"} 7\n\
            erp_dead_letters{service=\"all-in-one\",queue=\"inventory.stock\"} 3\n\
            erp_dead_letters{service=\"all-in-one\",queue=\"notification.events\"} 0\n\
            erp_dead_letters{service=\"all-in-one\",queue=\"console.events\"} 0\n\
            erp_dead_letters_total 9\n";
        let texts: BTreeMap<&str, String> = SERVICES.iter().map(|s| (*s, all.to_owned())).collect();
        let status = read(&texts);
        assert_eq!(status.breaker, "open");
        assert_eq!(status.retries, Some(7));
        assert_eq!(
            status.dead_letters,
            [
                DeadLetters {
                    service: "inventory".into(),
                    queue: "inventory.stock".into(),
                    waiting: 3
                },
                DeadLetters {
                    service: "notification".into(),
                    queue: "notification.events".into(),
                    waiting: 0
                },
            ]
        );
    }

    #[test]
    fn silent_services_read_as_unknown() {
        let status = read(&BTreeMap::new());
        assert_eq!(status.breaker, "unknown");
        assert_eq!(status.retries, None);
        assert!(status.dead_letters.is_empty());
    }
}
