//! Scenario 13: AMQP messages per second consumed through a channel calling
//! `demo.hello`, against a plain lapin consumer of the same queue (the limit), in the
//! same run.
//!
//! The broker is this machine's RabbitMQ (127.0.0.1:5672, guest/guest), in a vhost the
//! scenario creates with `rabbitmqctl` and deletes at the end. Each target drains the
//! same durable queue, filled beforehand with the same number of small transient JSON
//! messages (`{"name": "bench"}`): the baseline is a lapin consumer in this process,
//! the channel's shape (2 consumers, each on its own channel with a prefetch of 50),
//! acknowledging each delivery as it comes; zato is one server whose AMQP channel (2
//! consumers, prefetch 50) invokes `demo.hello` for each message and acknowledges it
//! once the service answered. The rate is measured on the steady part of the drain:
//! from when 90% of the messages are left to when 10% are, read from the queue's count
//! of ready messages every 20 ms (so neither connecting nor the last deliveries in
//! flight count).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use zato_api::{
    AdminClient, AmqpChannelSettings, DataFormat, MsgChannel, MsgChannelSettings, MsgChannelType,
};

use super::Ctx;
use super::deploy::{start_all, stop_all};
use crate::report::{Row, Section, thousands};
use crate::zato::{Env, EnvOptions, client};

const QUEUE: &str = "bench";
const CONSUMERS: u16 = 2;
const PREFETCH: u16 = 50;
const BODY: &[u8] = br#"{"name": "bench"}"#;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let messages: u32 = if ctx.plan.quick { 5_000 } else { 50_000 };
    let mut section = Section::new(
        "13. AMQP: messages consumed through demo.hello vs a plain lapin consumer",
        vec!["target", "msg/s", "ratio (msg/s)", "drained in"],
    )
    .text_columns(1);
    section.notes.push(format!(
        "RabbitMQ on 127.0.0.1:5672, a vhost of its own; {messages} transient messages of {} bytes in a durable queue, drained by each target in turn; {CONSUMERS} consumers with a prefetch of {PREFETCH}, an ack per message. msg/s is the steady rate (from 90% to 10% of the messages left); ratio = zato / lapin. The server is not pinned, and shares the machine with RabbitMQ.",
        BODY.len()
    ));

    let vhost = format!("zato-bench-{}", uuid::Uuid::new_v4().simple());
    rabbitmqctl(&["add_vhost", &vhost]).context("is RabbitMQ running on this machine?")?;
    let result = measure(ctx, &vhost, messages, &mut section).await;
    let _ = rabbitmqctl(&["delete_vhost", &vhost]);
    result?;
    Ok(section)
}

async fn measure(
    ctx: &Ctx<'_>,
    vhost: &str,
    messages: u32,
    section: &mut Section,
) -> anyhow::Result<()> {
    rabbitmqctl(&["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])?;
    let url = format!("amqp://guest:guest@127.0.0.1:5672/{vhost}");
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .context("cannot connect to RabbitMQ as guest")?;
    let control = conn.create_channel().await?;
    control
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;

    eprintln!("[bench] amqp: a plain lapin consumer");
    fill(&conn, messages).await?;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut consumers = Vec::new();
    for i in 0..CONSUMERS {
        let channel = conn.create_channel().await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                QUEUE.into(),
                format!("bench-{i}").into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let acked = acked.clone();
        consumers.push(tokio::spawn(async move {
            let _channel = channel;
            while let Some(Ok(delivery)) = consumer.next().await {
                delivery.ack(BasicAckOptions::default()).await?;
                acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let direct = drain(&control, messages).await;
    // Every message acknowledged before the consumers go, so none is requeued into the
    // next target's run.
    let until = Instant::now() + Duration::from_secs(30);
    while acked.load(std::sync::atomic::Ordering::Relaxed) < messages && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for consumer in consumers {
        consumer.abort();
    }
    let direct = direct?;

    eprintln!("[bench] amqp: demo.hello through an AMQP channel");
    fill(&conn, messages).await?;
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("amqp-env"),
        &EnvOptions::one_server("bench-amqp"),
    )?;
    let procs = start_all(&env, 1, ctx).await?;
    let served = async {
        let (user, password) = env.credentials();
        let api = AdminClient::with_client(client(), env.base(0), user, password);
        let bytes = std::fs::read(&ctx.artifacts.hello)
            .with_context(|| format!("cannot read `{}`", ctx.artifacts.hello.display()))?;
        env.admin(0).deploy(bytes, "hello.wasm").await?;
        api.create_msg_channel(&MsgChannel {
            name: "bench".into(),
            active: true,
            service: "demo.hello".into(),
            data_format: DataFormat::Json,
            settings: MsgChannelSettings::Amqp(AmqpChannelSettings {
                url: format!("amqp://guest@127.0.0.1:5672/{vhost}"),
                queue: QUEUE.into(),
                declare: false,
                dead_letter_exchange: None,
                prefetch: PREFETCH,
                consumers: CONSUMERS,
                singleton: false,
                max_redeliveries: 0,
                heartbeat_s: 30,
                ca_pem: None,
                timeout_ms: 0,
            }),
            secret: Some("guest".into()),
        })
        .await
        .context("the AMQP channel was refused")?;
        let figures = drain(&control, messages).await;
        let _ = api.delete_msg_channel(MsgChannelType::Amqp, "bench").await;
        figures
    }
    .await;
    stop_all(procs);
    let served = served?;
    let _ = conn.close(200, "bye".into()).await;

    section
        .rows
        .push(row("lapin consumer (ack each)", &direct, None));
    section.rows.push(row(
        "zato: AMQP channel -> demo.hello",
        &served,
        Some(&direct),
    ));
    Ok(())
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .context("cannot run rabbitmqctl")?;
    if !out.status.success() {
        bail!(
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Publishes `messages` transient messages to the queue and waits for every confirm.
async fn fill(conn: &Connection, messages: u32) -> anyhow::Result<()> {
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut confirms = Vec::with_capacity(1_000);
    for _ in 0..messages {
        confirms.push(
            channel
                .basic_publish(
                    "".into(),
                    QUEUE.into(),
                    BasicPublishOptions::default(),
                    BODY,
                    BasicProperties::default().with_content_type("application/json".into()),
                )
                .await?,
        );
        if confirms.len() == 1_000 {
            for confirm in confirms.drain(..) {
                confirm.await?;
            }
        }
    }
    for confirm in confirms {
        confirm.await?;
    }
    let _ = channel.close(200, "filled".into()).await;
    Ok(())
}

struct Figures {
    rate: f64,
    drained: Duration,
}

/// Reads the queue's ready count until it is empty: the rate between 90% and 10% left.
async fn drain(control: &Channel, messages: u32) -> anyhow::Result<Figures> {
    let high = messages * 9 / 10;
    let low = messages / 10;
    let started = Instant::now();
    let mut at_high = None;
    let mut at_low = None;
    let limit = Duration::from_secs(600);
    loop {
        let ready = control
            .queue_declare(
                QUEUE.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?
            .message_count();
        let now = Instant::now();
        if at_high.is_none() && ready <= high {
            at_high = Some((now, ready));
        }
        if at_low.is_none() && ready <= low {
            at_low = Some((now, ready));
        }
        if ready == 0 {
            break;
        }
        if started.elapsed() > limit {
            bail!(
                "{ready} messages still in the queue after {} s",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ((t_high, n_high), (t_low, n_low)) = (at_high.unwrap(), at_low.unwrap());
    let seconds = (t_low - t_high).as_secs_f64();
    if seconds <= 0.0 {
        bail!("the queue drained faster than it could be sampled: use more messages");
    }
    Ok(Figures {
        rate: f64::from(n_high - n_low) / seconds,
        drained: started.elapsed(),
    })
}

fn row(target: &str, figures: &Figures, baseline: Option<&Figures>) -> Row {
    let ratio = baseline.map(|b| figures.rate / b.rate);
    let mut row = Row::new("amqp", target);
    row.rps = Some(figures.rate);
    row.ratio_to_baseline = ratio;
    row.extra("drained_s", figures.drained.as_secs_f64())
        .cells(vec![
            target.to_owned(),
            thousands(figures.rate),
            ratio.map_or("1.00 (baseline)".into(), |r| format!("{r:.2}")),
            format!("{:.1} s", figures.drained.as_secs_f64()),
        ])
}
