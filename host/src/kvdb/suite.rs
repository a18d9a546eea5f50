//! Behavioural tests written once against the traits and run for every implementation,
//! so that the in-memory KVDB and Redis keep the same semantics.
//!
//! Each test takes what [`open`](super::open) returns. [`behaviour_tests!`] expands into
//! one `#[tokio::test]` per test, given an async `setup` function that returns that pair
//! and a guard dropped at the end (Redis uses it to delete the test's keys).
//!
//! Durations leave generous margins: Redis counts TTLs in milliseconds and the test
//! machine is shared.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Broker, BrokerEvent, HashMerge, Kvdb, KvdbError, Taken};

pub(crate) type Opened = (Arc<dyn Kvdb>, Arc<dyn Broker>);

/// Long enough for anything that should happen to happen.
const PATIENCE: Duration = Duration::from_secs(5);

/// Expands into one test per behaviour, each with a fresh backend from `$setup`.
macro_rules! behaviour_tests {
    ($setup:path) => {
        $crate::kvdb::suite::behaviour_tests!(@each $setup;
            values_expire,
            incr_counts_from_zero_keeps_the_ttl_and_refuses_text,
            a_window_count_expires_with_its_window,
            locks_are_released_and_extended_only_by_their_holder,
            an_expired_lock_is_free,
            fenced_locks_count_each_acquisition_only,
            hashes_add_lower_raise_replace_and_expire,
            a_ranking_keeps_the_highest_scores,
            an_extended_lock_outlives_its_first_ttl,
            pop_waits_for_a_push_and_keeps_the_order,
            push_many_appends_in_order,
            each_queue_item_goes_to_exactly_one_of_two_consumers,
            work_items_are_taken_in_order_and_acked_ones_never_come_back,
            an_item_not_acked_is_taken_again_after_its_visibility_and_not_before,
            a_touched_item_stays_its_takers,
            deliveries_count_each_take,
            a_waiting_take_wakes_on_enqueue,
            each_work_item_goes_to_exactly_one_of_two_consumers,
            every_subscriber_gets_each_message_of_its_channel,
            a_dropped_subscriber_does_not_stop_the_others
        );
    };
    (@each $setup:path; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (opened, _guard) = $setup().await;
                $crate::kvdb::suite::$name(opened).await;
            }
        )*
    };
}
pub(crate) use behaviour_tests;

/// The next message, skipping `Reconnected`: that event may come at any time (someone
/// may kill pub/sub clients on a shared Redis) and only asks for a reconciliation.
pub(crate) async fn next_message(rx: &mut mpsc::Receiver<BrokerEvent>) -> Vec<u8> {
    loop {
        match tokio::time::timeout(PATIENCE, rx.recv()).await {
            Ok(Some(BrokerEvent::Message(m))) => return m,
            Ok(Some(BrokerEvent::Reconnected)) => {}
            Ok(None) => panic!("the subscription ended"),
            Err(_) => panic!("no message within {PATIENCE:?}"),
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) async fn values_expire((kv, _): Opened) {
    kv.set("k", b"v", Some(ms(150))).await.unwrap();
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    tokio::time::sleep(ms(300)).await;
    assert_eq!(kv.get("k").await.unwrap(), None);
    assert!(
        !kv.delete("k").await.unwrap(),
        "an expired key did not exist"
    );

    kv.set("p", b"1", Some(ms(100))).await.unwrap();
    kv.set("p", b"2", None).await.unwrap();
    tokio::time::sleep(ms(250)).await;
    assert_eq!(
        kv.get("p").await.unwrap().as_deref(),
        Some(&b"2"[..]),
        "a set without TTL keeps the value for good"
    );
    assert!(kv.delete("p").await.unwrap());
    assert!(!kv.delete("p").await.unwrap());
    assert_eq!(kv.get("p").await.unwrap(), None);
}

fn pairs(fields: &[(&str, i64)]) -> Vec<(String, i64)> {
    fields.iter().map(|(f, v)| ((*f).to_owned(), *v)).collect()
}

pub(crate) async fn hashes_add_lower_raise_replace_and_expire((kv, _): Opened) {
    let merge =
        |key: &str, add: &[(&str, i64)], min: &[(&str, i64)], max: &[(&str, i64)]| HashMerge {
            key: key.to_owned(),
            add: pairs(add),
            min: pairs(min),
            max: pairs(max),
            ..HashMerge::default()
        };
    // More hashes than one Redis script run takes, several changes to one of them.
    let mut batch: Vec<HashMerge> = (0..150)
        .map(|i| merge(&format!("h{i}"), &[("count", i)], &[], &[]))
        .collect();
    batch.push(merge(
        "h7",
        &[("count", 10), ("sum", 5)],
        &[("min", 30)],
        &[("max", 30)],
    ));
    batch.push(merge("h7", &[], &[("min", 20)], &[("max", 25)]));
    batch.push(merge("h7", &[("sum", -2)], &[("min", 40)], &[("max", 45)]));
    kv.merge_hashes(&batch).await.unwrap();
    let keys: Vec<String> = ["h0", "h7", "h149", "missing"].map(String::from).to_vec();
    let got = kv.hashes(&keys).await.unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], pairs(&[("count", 0)]).into_iter().collect());
    assert_eq!(
        got[1],
        pairs(&[("count", 17), ("sum", 3), ("min", 20), ("max", 45)])
            .into_iter()
            .collect()
    );
    assert_eq!(got[2], pairs(&[("count", 149)]).into_iter().collect());
    assert!(got[3].is_empty(), "a missing hash is empty");

    // A replace drops what was there; a TTL makes the hash go.
    let mut rewrite = merge("h7", &[("count", 1)], &[], &[]);
    rewrite.replace = true;
    rewrite.ttl = Some(ms(150));
    kv.merge_hashes(&[rewrite]).await.unwrap();
    let got = kv.hashes(&keys[1..2]).await.unwrap();
    assert_eq!(got[0], pairs(&[("count", 1)]).into_iter().collect());
    tokio::time::sleep(ms(300)).await;
    assert!(kv.hashes(&keys[1..2]).await.unwrap()[0].is_empty());
    assert!(kv.hashes(&[]).await.unwrap().is_empty());
}

pub(crate) async fn a_ranking_keeps_the_highest_scores((kv, _): Opened) {
    for (i, score) in [5.0, 1.0, 9.0, 3.0, 7.0, 2.0].into_iter().enumerate() {
        kv.rank("r", format!("m{i}").as_bytes(), score, 3, None)
            .await
            .unwrap();
    }
    let got = kv.ranked("r").await.unwrap();
    let expected: Vec<(Vec<u8>, f64)> = [("m2", 9.0), ("m4", 7.0), ("m0", 5.0)]
        .map(|(m, s)| (m.as_bytes().to_vec(), s))
        .to_vec();
    assert_eq!(got, expected);
    // A score too low to enter leaves the ranking as it was.
    kv.rank("r", b"low", 0.5, 3, Some(ms(150))).await.unwrap();
    assert_eq!(kv.ranked("r").await.unwrap(), expected);
    tokio::time::sleep(ms(300)).await;
    assert!(kv.ranked("r").await.unwrap().is_empty(), "the TTL applies");
    assert!(kv.ranked("never").await.unwrap().is_empty());
}

pub(crate) async fn incr_counts_from_zero_keeps_the_ttl_and_refuses_text((kv, _): Opened) {
    assert_eq!(kv.incr("n", 2).await.unwrap(), 2);
    assert_eq!(kv.incr("n", -5).await.unwrap(), -3);
    assert_eq!(kv.get("n").await.unwrap().as_deref(), Some(&b"-3"[..]));

    kv.set("s", b"x", None).await.unwrap();
    match kv.incr("s", 1).await {
        Err(KvdbError::NotAnInteger(key)) => assert_eq!(key, "s"),
        other => panic!("expected NotAnInteger, got {other:?}"),
    }

    kv.set("t", b"5", Some(ms(150))).await.unwrap();
    assert_eq!(kv.incr("t", 1).await.unwrap(), 6);
    tokio::time::sleep(ms(300)).await;
    assert_eq!(kv.get("t").await.unwrap(), None, "incr kept the TTL");
}

pub(crate) async fn a_window_count_expires_with_its_window((kv, _): Opened) {
    use tokio::time::Instant;
    let window = ms(1_000);
    // The window starts while the first count is made: after `first_sent`, before
    // `first_done`.
    let first_sent = Instant::now();
    assert_eq!(kv.count_in_window("w", window).await.unwrap(), 1);
    let first_done = Instant::now();
    for expected in 2..=3 {
        assert_eq!(kv.count_in_window("w", window).await.unwrap(), expected);
    }
    // Counting on, later in the window, does not push its end back...
    tokio::time::sleep(ms(300)).await;
    let sent = Instant::now();
    let fourth = kv.count_in_window("w", window).await.unwrap();
    if sent < first_sent + window {
        assert_eq!(fourth, 4, "within the window");
    }
    // ... so once the first count's window is over, counting starts again.
    tokio::time::sleep_until(first_done + ms(1_200)).await;
    assert_eq!(
        kv.count_in_window("w", window).await.unwrap(),
        1,
        "a new window"
    );
    kv.set("text", b"x", None).await.unwrap();
    assert!(matches!(
        kv.count_in_window("text", window).await,
        Err(KvdbError::NotAnInteger(_))
    ));
}

pub(crate) async fn locks_are_released_and_extended_only_by_their_holder((kv, _): Opened) {
    let ttl = Duration::from_secs(10);
    assert!(kv.try_lock("l", "a", ttl).await.unwrap());
    assert!(!kv.try_lock("l", "b", ttl).await.unwrap());
    assert!(
        !kv.try_lock("l", "a", ttl).await.unwrap(),
        "a lock is not re-entrant"
    );
    assert!(!kv.unlock("l", "b").await.unwrap());
    assert!(!kv.extend_lock("l", "b", ttl).await.unwrap());
    assert!(kv.extend_lock("l", "a", ttl).await.unwrap());
    assert!(kv.unlock("l", "a").await.unwrap());
    assert!(!kv.unlock("l", "a").await.unwrap(), "released twice");
    assert!(kv.try_lock("l", "b", ttl).await.unwrap());
    assert!(!kv.unlock("other", "b").await.unwrap());
}

pub(crate) async fn fenced_locks_count_each_acquisition_only((kv, _): Opened) {
    let ttl = Duration::from_secs(10);
    assert_eq!(
        kv.try_lock_fenced("l", "f", "a", ttl).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        kv.try_lock_fenced("l", "f", "b", ttl).await.unwrap(),
        None,
        "held: no token, and the counter does not move"
    );
    assert!(!kv.unlock("l", "b").await.unwrap());
    assert!(kv.unlock("l", "a").await.unwrap());
    assert_eq!(
        kv.try_lock_fenced("l", "f", "b", ttl).await.unwrap(),
        Some(2)
    );
    assert!(kv.unlock("l", "b").await.unwrap());
    // An expired holder's lock is free, and the next token is still larger.
    assert_eq!(
        kv.try_lock_fenced("l", "f", "c", ms(100)).await.unwrap(),
        Some(3)
    );
    tokio::time::sleep(ms(250)).await;
    assert_eq!(
        kv.try_lock_fenced("l", "f", "d", ttl).await.unwrap(),
        Some(4)
    );
    assert_eq!(kv.get("f").await.unwrap().as_deref(), Some(&b"4"[..]));
    // Another lock has a counter of its own.
    assert_eq!(
        kv.try_lock_fenced("m", "g", "a", ttl).await.unwrap(),
        Some(1)
    );
}

pub(crate) async fn an_expired_lock_is_free((kv, _): Opened) {
    assert!(kv.try_lock("l", "a", ms(100)).await.unwrap());
    assert!(!kv.try_lock("l", "b", ms(100)).await.unwrap());
    tokio::time::sleep(ms(250)).await;
    assert!(
        !kv.extend_lock("l", "a", ms(100)).await.unwrap(),
        "too late to extend"
    );
    assert!(
        kv.try_lock("l", "c", Duration::from_secs(10))
            .await
            .unwrap()
    );
    assert!(
        !kv.unlock("l", "a").await.unwrap(),
        "the old holder cannot release it"
    );
    assert!(kv.unlock("l", "c").await.unwrap());
}

pub(crate) async fn an_extended_lock_outlives_its_first_ttl((kv, _): Opened) {
    assert!(kv.try_lock("l", "a", ms(300)).await.unwrap());
    assert!(
        kv.extend_lock("l", "a", Duration::from_secs(10))
            .await
            .unwrap()
    );
    tokio::time::sleep(ms(500)).await;
    assert!(!kv.try_lock("l", "b", ms(100)).await.unwrap());
    assert!(kv.unlock("l", "a").await.unwrap());
}

pub(crate) async fn push_many_appends_in_order((kv, _): Opened) {
    kv.push("q", b"first").await.unwrap();
    kv.push_many("q", &[]).await.unwrap();
    let items: Vec<Vec<u8>> = (0..100).map(|i| format!("item {i}").into_bytes()).collect();
    kv.push_many("q", &items).await.unwrap();
    assert_eq!(
        kv.pop("q", ms(100)).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    for item in &items {
        assert_eq!(kv.pop("q", ms(100)).await.unwrap().as_ref(), Some(item));
    }
    assert_eq!(kv.pop("q", Duration::ZERO).await.unwrap(), None);
}

pub(crate) async fn pop_waits_for_a_push_and_keeps_the_order((kv, _): Opened) {
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move { kv.pop("q", PATIENCE).await.unwrap() })
    };
    tokio::time::sleep(ms(100)).await;
    kv.push("q", b"1").await.unwrap();
    assert_eq!(waiter.await.unwrap().as_deref(), Some(&b"1"[..]));

    assert_eq!(kv.pop("q", ms(100)).await.unwrap(), None);
    assert_eq!(kv.pop("q", Duration::ZERO).await.unwrap(), None);

    // A value and a queue of the same name are different things.
    kv.set("q", b"value", None).await.unwrap();
    for item in [&b"a"[..], b"b", b"c"] {
        kv.push("q", item).await.unwrap();
    }
    assert_eq!(
        kv.pop("q", Duration::ZERO).await.unwrap().as_deref(),
        Some(&b"a"[..])
    );
    assert_eq!(
        kv.pop("q", ms(100)).await.unwrap().as_deref(),
        Some(&b"b"[..])
    );
    assert_eq!(
        kv.pop("q", ms(100)).await.unwrap().as_deref(),
        Some(&b"c"[..])
    );
    assert_eq!(kv.get("q").await.unwrap().as_deref(), Some(&b"value"[..]));
}

pub(crate) async fn each_queue_item_goes_to_exactly_one_of_two_consumers((kv, _): Opened) {
    const ITEMS: u32 = 200;
    let consumer = |kv: Arc<dyn Kvdb>| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            // Stops once the queue stayed empty for a while, after everything was pushed.
            while let Some(item) = kv.pop("work", Duration::from_secs(1)).await.unwrap() {
                got.push(std::str::from_utf8(&item).unwrap().parse::<u32>().unwrap());
            }
            got
        })
    };
    let first = consumer(kv.clone());
    let second = consumer(kv.clone());
    tokio::time::sleep(ms(100)).await;
    for i in 0..ITEMS {
        kv.push("work", i.to_string().as_bytes()).await.unwrap();
    }
    let first = first.await.unwrap();
    let second = second.await.unwrap();
    let mut all: Vec<u32> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item exactly once (first got {}, second {})",
        first.len(),
        second.len()
    );
}

/// Takes from the work queue `work` for `consumer`.
async fn take(
    kv: &Arc<dyn Kvdb>,
    consumer: &str,
    visibility: Duration,
    wait: Duration,
) -> Option<Taken> {
    kv.take("work", consumer, visibility, wait).await.unwrap()
}

pub(crate) async fn work_items_are_taken_in_order_and_acked_ones_never_come_back((kv, _): Opened) {
    let visibility = ms(300);
    // Not text, and a list queue of the same name is another thing.
    let items: Vec<Vec<u8>> = (0..20u8).map(|i| vec![0xff, i, 0]).collect();
    kv.push("work", b"list item").await.unwrap();
    for item in &items {
        kv.enqueue("work", item).await.unwrap();
    }
    let mut ids = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let consumer = if n % 2 == 0 { "a" } else { "b" };
        let taken = take(&kv, consumer, visibility, ms(100))
            .await
            .expect("an item");
        assert_eq!(&taken.item, item, "oldest first");
        assert_eq!(taken.deliveries, 1);
        assert!(!ids.contains(&taken.id), "ids are unique");
        ids.push(taken.id);
    }
    assert_eq!(take(&kv, "c", visibility, ms(100)).await, None);
    for id in &ids {
        kv.ack("work", id).await.unwrap();
    }
    kv.ack("work", &ids[0]).await.unwrap();
    kv.ack("work", "no such id").await.unwrap();
    tokio::time::sleep(visibility * 2).await;
    assert_eq!(
        take(&kv, "c", visibility, ms(100)).await,
        None,
        "an acknowledged item came back"
    );
    assert!(!kv.touch("work", "a", &ids[0]).await.unwrap());
    assert_eq!(
        kv.pop("work", Duration::ZERO).await.unwrap().as_deref(),
        Some(&b"list item"[..])
    );
}

pub(crate) async fn an_item_not_acked_is_taken_again_after_its_visibility_and_not_before(
    (kv, _): Opened,
) {
    let visibility = ms(600);
    kv.enqueue("work", b"x").await.unwrap();
    let first = take(&kv, "dead", visibility, ms(100))
        .await
        .expect("an item");
    let taken_at = std::time::Instant::now();
    assert_eq!(
        take(&kv, "alive", visibility, ms(200)).await,
        None,
        "taken again before its visibility ended"
    );
    let again = take(&kv, "alive", visibility, PATIENCE)
        .await
        .expect("taken again");
    assert!(
        taken_at.elapsed() >= visibility,
        "taken again after {:?}",
        taken_at.elapsed()
    );
    assert_eq!(
        (again.id.as_str(), &again.item[..]),
        (first.id.as_str(), &b"x"[..])
    );
    assert_eq!(again.deliveries, 2);
    assert!(
        !kv.touch("work", "dead", &first.id).await.unwrap(),
        "the old taker touched an item that is no longer its own"
    );
    assert!(kv.touch("work", "alive", &again.id).await.unwrap());
    kv.ack("work", &again.id).await.unwrap();
    assert!(!kv.touch("work", "alive", &again.id).await.unwrap());
    assert_eq!(take(&kv, "other", ms(1), ms(100)).await, None);
}

pub(crate) async fn a_touched_item_stays_its_takers((kv, _): Opened) {
    let visibility = ms(400);
    kv.enqueue("work", b"long job").await.unwrap();
    let taken = take(&kv, "busy", visibility, ms(100))
        .await
        .expect("an item");
    // Three visibilities long, touched four times per visibility.
    for _ in 0..12 {
        tokio::time::sleep(visibility / 4).await;
        assert!(kv.touch("work", "busy", &taken.id).await.unwrap());
        assert_eq!(
            take(&kv, "thief", visibility, Duration::ZERO).await,
            None,
            "a touched item was taken over"
        );
    }
    let again = take(&kv, "thief", visibility, PATIENCE)
        .await
        .expect("taken over");
    assert_eq!((again.id, again.deliveries), (taken.id, 2));
}

pub(crate) async fn deliveries_count_each_take((kv, _): Opened) {
    let visibility = ms(200);
    kv.enqueue("work", b"x").await.unwrap();
    for n in 1..=3 {
        let taken = take(&kv, &format!("c{n}"), visibility, PATIENCE)
            .await
            .expect("an item");
        assert_eq!(taken.deliveries, n);
    }
}

pub(crate) async fn a_waiting_take_wakes_on_enqueue((kv, _): Opened) {
    let waiter = {
        let kv = kv.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let taken = take(&kv, "a", Duration::from_secs(30), Duration::from_secs(20)).await;
            (taken, started.elapsed())
        })
    };
    tokio::time::sleep(ms(300)).await;
    kv.enqueue("work", b"wake up").await.unwrap();
    let (taken, took) = waiter.await.unwrap();
    assert_eq!(taken.expect("an item").item, b"wake up");
    assert!(took < Duration::from_secs(10), "woke after {took:?}");
}

pub(crate) async fn each_work_item_goes_to_exactly_one_of_two_consumers((kv, _): Opened) {
    const ITEMS: u32 = 200;
    let consumer = |kv: Arc<dyn Kvdb>, name: &'static str| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            // Stops once the queue stayed empty for a while, after everything was queued.
            while let Some(taken) =
                take(&kv, name, Duration::from_secs(30), Duration::from_secs(1)).await
            {
                kv.ack("work", &taken.id).await.unwrap();
                got.push(
                    std::str::from_utf8(&taken.item)
                        .unwrap()
                        .parse::<u32>()
                        .unwrap(),
                );
            }
            got
        })
    };
    let first = consumer(kv.clone(), "first");
    let second = consumer(kv.clone(), "second");
    tokio::time::sleep(ms(100)).await;
    for i in 0..ITEMS {
        kv.enqueue("work", i.to_string().as_bytes()).await.unwrap();
    }
    let first = first.await.unwrap();
    let second = second.await.unwrap();
    let mut all: Vec<u32> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item exactly once (first got {}, second {})",
        first.len(),
        second.len()
    );
}

pub(crate) async fn every_subscriber_gets_each_message_of_its_channel((_, broker): Opened) {
    let mut a = broker.subscribe("c").await.unwrap();
    let mut b = broker.subscribe("c").await.unwrap();
    let mut other = broker.subscribe("other").await.unwrap();
    broker.publish("c", b"m1").await.unwrap();
    broker.publish("other", b"x").await.unwrap();
    broker.publish("c", b"m2").await.unwrap();
    broker.publish("c", b"end").await.unwrap();
    for rx in [&mut a, &mut b] {
        // Had "x" leaked into "c", it would come before "end".
        assert_eq!(next_message(rx).await, b"m1");
        assert_eq!(next_message(rx).await, b"m2");
        assert_eq!(next_message(rx).await, b"end");
    }
    assert_eq!(next_message(&mut other).await, b"x");
}

pub(crate) async fn a_dropped_subscriber_does_not_stop_the_others((_, broker): Opened) {
    let gone = broker.subscribe("c").await.unwrap();
    let mut kept = broker.subscribe("c").await.unwrap();
    drop(gone);
    broker.publish("c", b"m1").await.unwrap();
    broker.publish("c", b"m2").await.unwrap();
    assert_eq!(next_message(&mut kept).await, b"m1");
    assert_eq!(next_message(&mut kept).await, b"m2");
    let mut late = broker.subscribe("c").await.unwrap();
    broker.publish("c", b"m3").await.unwrap();
    assert_eq!(next_message(&mut late).await, b"m3");
    assert_eq!(next_message(&mut kept).await, b"m3");
}

mod memory {
    use super::Opened;

    async fn setup() -> (Opened, ()) {
        let opened = crate::kvdb::open("memory", "ignored").await.unwrap();
        (opened, ())
    }

    super::behaviour_tests!(setup);
}
