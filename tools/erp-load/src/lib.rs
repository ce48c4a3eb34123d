//! `erp-load`: a load driver for the three services, as an outside client
//! sees them (HTTP for commands and reads, AMQP only to grow the ledger).
//!
//! A run: create products, seed stock, then one or two load phases of
//! `--clients` concurrent clients sending purchases and sales with
//! Idempotency-Keys for `--duration-secs`. With `--grow-ledger N`, N
//! `purchase.completed` events are published straight to `erp.events`
//! between the phases and the driver waits until inventory applied them, so
//! the second phase runs against a ledger N movements larger.
//!
//! Per phase it prints definite answers per second (2xx and 4xx other than
//! 408 and 429: answers a client can act on), command latency p50/p99 (first
//! attempt to definite answer, retries with the same key included), and
//! purchase → stock visible p50/p99: from the purchase's 201 until `GET
//! /stock/main/{product}` shows it, polled every `--poll-ms`. Each client
//! owns one probe product that only its purchases move, so "shows it" is
//! exact: on_hand reached the client's running total.

mod args;
mod client;
mod grow;
mod http;
mod stats;

use std::time::{Duration, Instant};

pub use args::Args;

use crate::{client::Phase, http::Api};

/// Runs the whole load test and prints its figures.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| format!("load{}", uuid::Uuid::now_v7().simple()));
    let api = Api::new(&args)?;
    let products = client::Products::new(&run_id, args.clients, args.shared_products);
    println!(
        "erp-load: run {run_id}, {} clients, {} s per phase, purchases {} %",
        args.clients, args.duration_secs, args.purchase_percent
    );
    client::set_up(&api, &products).await?;

    let fresh = client::run_phase(&api, &products, &args, "fresh").await;
    fresh.print();
    let Some(grow_by) = args.grow_ledger.filter(|n| *n > 0) else {
        return Ok(());
    };
    let started = Instant::now();
    grow::grow_ledger(&api, &args, &run_id, grow_by).await?;
    let took = started.elapsed();
    println!(
        "ledger grown by {grow_by} movements in {:.1} s ({:.0} applied/s)",
        took.as_secs_f64(),
        grow_by as f64 / took.as_secs_f64().max(f64::EPSILON)
    );
    let grown = client::run_phase(&api, &products, &args, "after growth").await;
    grown.print();
    println!(
        "ratio after/fresh definite answers per second: {:.2}",
        ratio(&grown, &fresh)
    );
    Ok(())
}

fn ratio(after: &Phase, before: &Phase) -> f64 {
    after.per_second() / before.per_second().max(f64::EPSILON)
}

/// How long a client keeps retrying one command past the phase's end.
pub(crate) const GRACE: Duration = Duration::from_secs(15);
