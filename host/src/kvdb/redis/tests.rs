//! Tests of the Redis KVDB against a real Redis: the shared behavioural suite, then what
//! only Redis has (prefixes, reconnects, blocking connections).
//!
//! They expect a Redis on 127.0.0.1:6379 (or `ZATO_TEST_REDIS_URL`), each test with its
//! own random prefix so they can run in parallel and next to other users of that Redis.
//! Tests that kill connections or the server start a private `redis-server` instead, so
//! they disturb nobody else.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RedisKvdb;
use crate::kvdb::suite::{self, Opened, next_message};
use crate::kvdb::{Broker, BrokerEvent, Kvdb, KvdbError};

pub(crate) fn redis_url() -> String {
    std::env::var("ZATO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Deletes every key of a test's prefix when the test ends, even by a panic.
pub(crate) struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // Best effort with a blocking connection: Drop cannot await.
        let Ok(client) = ::redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return;
        };
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<u64, _> = ::redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

pub(crate) fn random_prefix() -> String {
    format!("zato-test-{}", uuid::Uuid::new_v4())
}

pub(crate) async fn open_at(url: &str, prefix: &str) -> (Arc<RedisKvdb>, Cleanup) {
    let kvdb = RedisKvdb::connect(url, prefix)
        .await
        .unwrap_or_else(|e| panic!("{e} (start one with tests/run.sh)"));
    let cleanup = Cleanup {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
    };
    (Arc::new(kvdb), cleanup)
}

async fn setup() -> (Opened, Cleanup) {
    let (kvdb, cleanup) = open_at(&redis_url(), &random_prefix()).await;
    ((kvdb.clone(), kvdb), cleanup)
}

suite::behaviour_tests!(setup);

/// A raw connection for looking behind the KVDB's back.
async fn raw(url: &str) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_and_channels_carry_the_prefix() {
    let prefix = random_prefix();
    let (kv, _cleanup) = open_at(&redis_url(), &prefix).await;
    kv.set("k", b"v", None).await.unwrap();
    kv.push("q", b"i").await.unwrap();
    let mut conn = raw(&redis_url()).await;
    let value: Option<Vec<u8>> = ::redis::cmd("GET")
        .arg(format!("{prefix}:kv:k"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some(&b"v"[..]));
    let length: u64 = ::redis::cmd("LLEN")
        .arg(format!("{prefix}:q:q"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(length, 1);

    let mut rx = kv.subscribe("c").await.unwrap();
    let _: u64 = ::redis::cmd("PUBLISH")
        .arg(format!("{prefix}:c"))
        .arg("from outside")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(next_message(&mut rx).await, b"from outside");
}

#[tokio::test]
async fn prefixes_isolate_clusters() {
    let (a, _ca) = open_at(&redis_url(), &random_prefix()).await;
    let (b, _cb) = open_at(&redis_url(), &random_prefix()).await;
    let ttl = Duration::from_secs(10);

    a.set("k", b"a", None).await.unwrap();
    assert_eq!(b.get("k").await.unwrap(), None);
    assert_eq!(b.incr("k", 1).await.unwrap(), 1);
    assert!(a.try_lock("l", "t", ttl).await.unwrap());
    assert!(b.try_lock("l", "t", ttl).await.unwrap());
    a.push("q", b"a").await.unwrap();
    assert_eq!(b.pop("q", Duration::from_millis(100)).await.unwrap(), None);
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some(&b"a"[..]));

    let mut rx = b.subscribe("c").await.unwrap();
    a.publish("c", b"for a").await.unwrap();
    b.publish("c", b"for b").await.unwrap();
    assert_eq!(next_message(&mut rx).await, b"for b");
}

#[tokio::test]
async fn pop_outwaits_the_command_timeout() {
    let (kv, _cleanup) = open_at(&redis_url(), &random_prefix()).await;
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move { kv.pop("q", Duration::from_secs(10)).await })
    };
    // Longer than both the crate's default response timeout and COMMAND_TIMEOUT.
    tokio::time::sleep(super::COMMAND_TIMEOUT + Duration::from_millis(500)).await;
    kv.push("q", b"late").await.unwrap();
    assert_eq!(
        waiter.await.unwrap().unwrap().as_deref(),
        Some(&b"late"[..])
    );
}

#[tokio::test]
async fn waiting_pops_do_not_hold_each_other_up() {
    let (kv, _cleanup) = open_at(&redis_url(), &random_prefix()).await;
    let slow = {
        let kv = kv.clone();
        tokio::spawn(async move { kv.pop("nothing", Duration::from_secs(4)).await })
    };
    let fast = {
        let kv = kv.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (
                kv.pop("something", Duration::from_secs(4)).await,
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    kv.push("something", b"x").await.unwrap();
    let (popped, took) = fast.await.unwrap();
    assert_eq!(popped.unwrap().as_deref(), Some(&b"x"[..]));
    assert!(
        took < Duration::from_secs(3),
        "waited {took:?} behind the other pop"
    );
    assert_eq!(slow.await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn open_names_the_url_it_cannot_reach() {
    // Nothing listens on port 1.
    let err = crate::kvdb::open("redis://:hunter2@127.0.0.1:1/0", "c")
        .await
        .err()
        .expect("nothing listens on port 1");
    let message = err.to_string();
    assert!(matches!(err, KvdbError::Unavailable(_)), "{message}");
    assert!(message.contains("`redis://***@127.0.0.1:1/0`"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
}

#[tokio::test]
async fn a_dropped_receiver_unsubscribes() {
    let prefix = random_prefix();
    let (kv, _cleanup) = open_at(&redis_url(), &prefix).await;
    let mut conn = raw(&redis_url()).await;
    let channel = format!("{prefix}:c");
    let subscribers = |mut conn: ::redis::aio::MultiplexedConnection| {
        let channel = channel.clone();
        async move {
            let counts: (String, u64) = ::redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut conn)
                .await
                .unwrap();
            counts.1
        }
    };
    let rx = kv.subscribe("c").await.unwrap();
    assert_eq!(subscribers(conn.clone()).await, 1);
    drop(rx);
    // The next message finds nobody to deliver to, and the channel is dropped.
    kv.publish("c", b"to nobody").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while subscribers(conn.clone()).await != 0 {
        assert!(Instant::now() < deadline, "still subscribed to `{channel}`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _: () = ::redis::cmd("PING").query_async(&mut conn).await.unwrap();
}

/// A `redis-server` of the test's own, on a free port, killed when dropped.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn next_event(rx: &mut tokio::sync::mpsc::Receiver<BrokerEvent>) -> BrokerEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("the subscription ended")
}

#[tokio::test]
async fn a_killed_subscription_comes_back_and_says_so() {
    let redis = PrivateRedis::start().await;
    let (kv, _cleanup) = open_at(&redis.url(), &random_prefix()).await;
    let mut rx = kv.subscribe("c").await.unwrap();
    kv.publish("c", b"before").await.unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        BrokerEvent::Message(b"before".to_vec())
    );

    let mut admin = raw(&redis.url()).await;
    let killed: u64 = ::redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1);

    assert_eq!(next_event(&mut rx).await, BrokerEvent::Reconnected);
    kv.publish("c", b"after").await.unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        BrokerEvent::Message(b"after".to_vec())
    );
}

#[tokio::test]
async fn commands_fail_while_redis_is_down_and_work_once_it_is_back() {
    let mut redis = PrivateRedis::start().await;
    let (kv, _cleanup) = open_at(&redis.url(), &random_prefix()).await;
    let mut rx = kv.subscribe("c").await.unwrap();
    kv.set("k", b"v", None).await.unwrap();

    redis.stop();
    let started = Instant::now();
    match kv.get("k").await {
        Err(KvdbError::Unavailable(cause)) => assert!(cause.contains(&redis.url()), "{cause}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(
        kv.pop("q", Duration::from_millis(100)).await,
        Err(KvdbError::Unavailable(_))
    ));

    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = kv.set("k", b"again", None).await {
        assert!(
            Instant::now() < deadline,
            "Redis is back but commands fail: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"again"[..]));
    assert_eq!(next_event(&mut rx).await, BrokerEvent::Reconnected);
    kv.publish("c", b"after").await.unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        BrokerEvent::Message(b"after".to_vec())
    );
}

#[tokio::test]
async fn a_quiet_subscription_survives_its_health_checks() {
    let redis = PrivateRedis::start().await;
    let (kv, _cleanup) = open_at(&redis.url(), &random_prefix()).await;
    let mut rx = kv.subscribe("c").await.unwrap();
    tokio::time::sleep(super::pubsub::HEALTH_CHECK * 4).await;
    kv.publish("c", b"still here").await.unwrap();
    // A PING that failed in subscribed mode would have shown up as `Reconnected` first.
    assert_eq!(
        next_event(&mut rx).await,
        BrokerEvent::Message(b"still here".to_vec())
    );
}
