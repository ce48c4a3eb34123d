//! One subscription's consumer: attaches whenever a connection is live,
//! hands each delivery to the handler, then settles it by the disposition.

use std::{sync::Arc, time::Duration};

use futures::{StreamExt, future::ready};
use lapin::{
    BasicProperties, Channel,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{RabbitBus, RabbitConfig, connection::Live, fields, settle};
use crate::{BusError, Delivery, Disposition, MessageHandler, Subscription, SubscriptionHandle};

pub(super) fn spawn(
    bus: RabbitBus,
    sub: Subscription,
    handler: Arc<dyn MessageHandler>,
) -> SubscriptionHandle {
    let cancel = CancellationToken::new();
    let (attached_tx, attached_rx) = watch::channel(false);
    let depth = tokio::spawn(sample_dead_letters(
        bus.clone(),
        sub.queue.clone(),
        cancel.clone(),
    ));
    let task = tokio::spawn(run(bus, sub, handler, attached_tx, cancel.clone()));
    SubscriptionHandle::new(attached_rx, cancel, vec![task, depth])
}

/// How often the dead-letter queue's depth is read for `erp_dead_letters`.
const DEAD_LETTER_SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// Keeps `erp_dead_letters{queue}` at the depth of `{queue}.dlq` (a passive
/// declare answers with its message count) until the subscription ends.
async fn sample_dead_letters(bus: RabbitBus, queue: String, cancel: CancellationToken) {
    let dlq = format!("{queue}.dlq");
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    loop {
        if let Ok(live) = bus.live()
            // Its own channel: a passive declare of a missing queue (nothing
            // dead-lettered yet) closes the channel it is made on.
            && let Ok(channel) = live.connection.create_channel().await
        {
            match channel
                .queue_declare(&dlq, passive, FieldTable::default())
                .await
            {
                Ok(q) => {
                    crate::port::record_dead_letters(&queue, q.message_count() as usize);
                    let _ = channel.close(200, "sampled").await;
                }
                Err(_) => crate::port::record_dead_letters(&queue, 0),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(DEAD_LETTER_SAMPLE_EVERY) => {}
        }
    }
}

async fn next_live(rx: &mut watch::Receiver<Option<Live>>) -> Option<Live> {
    rx.wait_for(|l| l.as_ref().is_some_and(Live::is_connected))
        .await
        .ok()
        .and_then(|l| l.clone())
}

async fn run(
    bus: RabbitBus,
    sub: Subscription,
    handler: Arc<dyn MessageHandler>,
    attached: watch::Sender<bool>,
    cancel: CancellationToken,
) {
    let mut live_rx = bus.shared.live.subscribe();
    loop {
        let live = tokio::select! {
            _ = cancel.cancelled() => return,
            l = next_live(&mut live_rx) => match l { Some(l) => l, None => return },
        };
        match attach(&bus.shared.config, &live, &sub).await {
            Ok((channel, consumer)) => {
                attached.send_replace(true);
                tracing::info!(queue = %sub.queue, "consumer attached");
                // On cancel: take no new delivery, let those being handled
                // finish, then close the channel; the broker redelivers
                // what was prefetched but not handled (never dead-lettered).
                let work = consumer
                    .take_until(cancel.clone().cancelled_owned())
                    .take_while(|d| ready(d.is_ok()))
                    .filter_map(|d| ready(d.ok()))
                    .for_each_concurrent(sub.concurrency.max(1), |d| {
                        process(&live, &bus.shared.config, &sub, handler.as_ref(), d)
                    });
                work.await;
                attached.send_replace(false);
                if cancel.is_cancelled() {
                    let _ = channel.close(200, "consumer stopped").await;
                    return;
                }
                tracing::warn!(queue = %sub.queue, "consumer detached; re-attaching");
            }
            Err(e) => tracing::warn!(queue = %sub.queue, error = %e, "cannot attach consumer"),
        }
        // A short pause so a broken channel cannot turn into a busy loop.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// Declares the subscription's queues and bindings; idempotent. All three
/// queues are quorum queues, replicated over a cluster's nodes: with one
/// node down, retries and dead letters still have a home. Side queues that
/// already exist (a classic one from an older version) are used as they are.
pub(super) async fn declare(
    connection: &lapin::Connection,
    channel: &Channel,
    config: &RabbitConfig,
    sub: &Subscription,
) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let queue = sub.queue.as_str();
    let mut main = FieldTable::default();
    main.insert("x-queue-type".into(), text("quorum"));
    main.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(config.delivery_limit),
    );
    main.insert(
        "x-dead-letter-exchange".into(),
        text(&config.dead_letter_exchange),
    );
    main.insert("x-dead-letter-routing-key".into(), text(queue));
    channel.queue_declare(queue, durable, main).await?;
    for key in &sub.routing_keys {
        channel
            .queue_bind(
                queue,
                &config.exchange,
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    // Expired retries dead-letter through the default exchange back into
    // the queue, at least once (the quorum queue keeps a message until the
    // main queue confirms it), which needs reject-publish on overflow.
    let mut retry = FieldTable::default();
    retry.insert("x-queue-type".into(), text("quorum"));
    retry.insert("x-dead-letter-exchange".into(), text(""));
    retry.insert("x-dead-letter-routing-key".into(), text(queue));
    retry.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    retry.insert("x-overflow".into(), text("reject-publish"));
    declare_side_queue(connection, channel, &format!("{queue}.retry"), retry).await?;
    let dlq = sub.dead_letter_queue();
    let mut dead = FieldTable::default();
    dead.insert("x-queue-type".into(), text("quorum"));
    declare_side_queue(connection, channel, &dlq, dead).await?;
    channel
        .queue_bind(
            &dlq,
            &config.dead_letter_exchange,
            queue,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Declares `name` with `args` unless it exists; an existing queue is kept
/// whatever its arguments (re-declaring with others is a channel error).
async fn declare_side_queue(
    connection: &lapin::Connection,
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    // A passive declare of a missing queue closes its channel: use a
    // throwaway one.
    let probe = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let exists = probe
        .queue_declare(name, passive, FieldTable::default())
        .await
        .is_ok();
    if exists {
        let _ = probe.close(200, "probed").await;
        return Ok(());
    }
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel.queue_declare(name, durable, args).await?;
    Ok(())
}

async fn attach(
    config: &RabbitConfig,
    live: &Live,
    sub: &Subscription,
) -> Result<(Channel, lapin::Consumer), lapin::Error> {
    let channel = live.connection.create_channel().await?;
    channel
        .basic_qos(sub.prefetch, BasicQosOptions::default())
        .await?;
    declare(&live.connection, &channel, config, sub).await?;
    let tag = format!("{}-{}", sub.queue, erp_core::EventId::new());
    let consumer = channel
        .basic_consume(
            &sub.queue,
            &tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

async fn process(
    live: &Live,
    config: &RabbitConfig,
    sub: &Subscription,
    handler: &dyn MessageHandler,
    raw: lapin::message::Delivery,
) {
    let delivery = fields::delivery(&raw);
    let (disposition, took) =
        crate::port::run_handler("rabbitmq", &sub.queue, handler, &delivery).await;
    let dead = matches!(disposition, Disposition::DeadLetter { .. })
        || (matches!(disposition, Disposition::Retry { .. })
            && delivery.attempt >= sub.max_attempts);
    crate::port::record_disposition(&sub.queue, &disposition, dead, took);
    let forwarded = match disposition {
        Disposition::Ack => Ok(()),
        Disposition::Retry { after, reason } if delivery.attempt < sub.max_attempts => {
            tracing::debug!(queue = %sub.queue, attempt = delivery.attempt, %reason, "retrying");
            let extra = [(fields::ATTEMPT, (delivery.attempt + 1).to_string())];
            forward(
                live,
                "",
                &format!("{}.retry", sub.queue),
                &delivery,
                &extra,
                Some(after),
            )
            .await
        }
        Disposition::Retry { reason, .. } => {
            let reason = format!("gave up after {} attempts: {reason}", delivery.attempt);
            dead_letter(live, config, sub, &delivery, &reason).await
        }
        Disposition::DeadLetter { reason } => {
            dead_letter(live, config, sub, &delivery, &reason).await
        }
    };
    let settled = match forwarded {
        // The copy is safely stored (confirmed) before the original goes.
        Ok(()) => raw.acker.ack(BasicAckOptions::default()).await,
        Err(e) => {
            tracing::warn!(queue = %sub.queue, error = %e, "could not forward; requeueing");
            raw.acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(e) = settled {
        // The channel is gone: the broker redelivers the message.
        tracing::warn!(queue = %sub.queue, error = %e, "could not settle a delivery");
    }
}

async fn dead_letter(
    live: &Live,
    config: &RabbitConfig,
    sub: &Subscription,
    delivery: &Delivery,
    reason: &str,
) -> Result<(), BusError> {
    tracing::warn!(queue = %sub.queue, message_id = ?delivery.message_id, %reason, "dead-lettering");
    let extra = [
        (fields::REASON, reason.to_owned()),
        (fields::ATTEMPTS, delivery.attempt.to_string()),
    ];
    forward(
        live,
        &config.dead_letter_exchange,
        &sub.queue,
        delivery,
        &extra,
        None,
    )
    .await
}

/// Publishes a confirmed copy of `delivery` with extra headers.
pub(super) async fn forward(
    live: &Live,
    exchange: &str,
    routing_key: &str,
    delivery: &Delivery,
    extra: &[(&str, String)],
    expiration: Option<Duration>,
) -> Result<(), BusError> {
    let mut headers = delivery.headers.clone();
    headers.remove("x-delivery-count");
    headers.insert(fields::ORIGINAL_KEY.into(), delivery.routing_key.clone());
    for (k, v) in extra {
        headers.insert((*k).into(), v.clone());
    }
    let mut properties = BasicProperties::default()
        .with_type(delivery.routing_key.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(fields::table(&headers));
    if let Some(id) = &delivery.message_id {
        properties = properties.with_message_id(id.as_str().into());
    }
    if let Some(after) = expiration {
        properties = properties.with_expiration(after.as_millis().to_string().into());
    }
    let confirm = live
        .publisher
        .basic_publish(
            exchange,
            routing_key,
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &delivery.body,
            properties,
        )
        .await
        .map_err(|e| live.lose(e))?;
    settle(confirm.await, routing_key)
}
