use std::collections::BTreeMap;

use super::*;
use crate::kvdb::memory::MemoryKvdb;

fn settings() -> StatsSettings {
    StatsSettings::default()
}

fn call(service: &str, ms: u64, outcome: Outcome) -> Call<'_> {
    Call {
        service,
        cid: "c0ffee",
        channel: "http",
        channel_name: "/demo",
        duration: Duration::from_millis(ms),
        outcome,
        status: if outcome == Outcome::Ok { 200 } else { 500 },
        threshold_ms: 0,
        policy: Policy::default(),
    }
}

fn memory() -> Arc<dyn Kvdb> {
    Arc::new(MemoryKvdb::default())
}

#[tokio::test]
async fn counts_errors_timeouts_and_percentiles_of_a_known_sequence() {
    let kvdb = memory();
    let recorder = Arc::new(Recorder::new("s1".into(), settings()));
    let flusher = Flusher::new(recorder.clone(), kvdb.clone());
    // 1..=100 ms once each; every tenth an error, and 100 a timeout too.
    for ms in 1..=100 {
        let outcome = match ms {
            100 => Outcome::Timeout,
            _ if ms % 10 == 0 => Outcome::Error,
            _ => Outcome::Ok,
        };
        recorder.record(&call("svc", ms, outcome), None);
        if ms == 50 {
            // Two batches add up in the KVDB.
            flusher.flush().await.unwrap();
        }
    }
    recorder.record(&call("other", 7, Outcome::Ok), None);
    flusher.flush().await.unwrap();

    let stats = summary(&*kvdb, &settings(), "svc", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stats.count, stats.errors, stats.timeouts), (100, 10, 1));
    assert_eq!(stats.min_ms, Some(1.0));
    assert_eq!(stats.max_ms, Some(100.0));
    assert_eq!(stats.mean_ms, Some(50.5));
    let near = |got: Option<f64>, want: f64| {
        let got = got.unwrap();
        assert!(
            (got - want).abs() <= want * 0.01,
            "{got} is not {want} within 1%"
        );
    };
    near(stats.p50_ms, 50.0);
    near(stats.p95_ms, 95.0);
    near(stats.p99_ms, 99.0);
    assert_eq!(
        stats.from_ms % 86_400_000,
        0,
        "the whole history starts on a day"
    );

    let last = summary(&*kvdb, &settings(), "svc", Some(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.count, 100, "the last hour holds them all");
    assert!(
        summary(&*kvdb, &settings(), "never", None)
            .await
            .unwrap()
            .is_none()
    );

    let by_count = top(&*kvdb, &settings(), StatsOrder::Count, None, 10)
        .await
        .unwrap();
    let names: Vec<&str> = by_count.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, ["svc", "other"]);
    let by_mean = top(&*kvdb, &settings(), StatsOrder::Mean, None, 1)
        .await
        .unwrap();
    assert_eq!(by_mean[0].service, "svc");
    let by_errors = top(&*kvdb, &settings(), StatsOrder::Errors, Some(5), 10)
        .await
        .unwrap();
    assert_eq!(by_errors[0].errors, 10);

    let hour = series(&*kvdb, "svc", StatsRange::Hour).await.unwrap();
    assert_eq!(hour.points.len(), 60);
    assert_eq!(hour.step_s, 60);
    assert_eq!(hour.points.iter().map(|p| p.count).sum::<u64>(), 100);
    let week = series(&*kvdb, "svc", StatsRange::Week).await.unwrap();
    assert_eq!(week.points.len(), 168);
    assert_eq!(week.points.last().unwrap().count, 100);
}

/// Writes a minute's aggregate of `service` as a server's flush would, `ms` per call.
async fn write_minute(kvdb: &dyn Kvdb, service: &str, minute: i64, calls: &[u64]) {
    let mut aggregate = Aggregate::default();
    for ms in calls {
        aggregate.record(ms * 1000, Outcome::Ok);
    }
    kvdb.merge_hashes(&[
        aggregate.merge(minute_key(minute, service), false, None),
        HashMerge {
            key: FIRST.into(),
            min: vec![(service.into(), minute)],
            ..HashMerge::default()
        },
        HashMerge {
            key: LAST.into(),
            max: vec![(service.into(), minute)],
            ..HashMerge::default()
        },
    ])
    .await
    .unwrap();
}

#[tokio::test]
async fn rollups_make_hours_and_days_that_outlive_their_minutes() {
    rollups_on(memory()).await;
}

/// The same on Redis (the Lua merges, the hash reads), under a prefix of its own.
#[tokio::test]
async fn rollups_make_hours_and_days_that_outlive_their_minutes_on_redis() {
    use crate::kvdb::redis::tests::{open_at, random_prefix, redis_url};
    let (kvdb, _cleanup) = open_at(&redis_url(), &random_prefix()).await;
    rollups_on(kvdb).await;
}

async fn rollups_on(kvdb: Arc<dyn Kvdb>) {
    let now = now_minute();
    // Three days ago: minutes in two hours of one day.
    let day = now.div_euclid(1440) - 3;
    let start = day * 1440;
    write_minute(&*kvdb, "svc", start + 5, &[10, 20]).await;
    write_minute(&*kvdb, "svc", start + 6, &[30]).await;
    write_minute(&*kvdb, "svc", start + 125, &[40]).await;
    let rollup = Rollup::new(kvdb.clone(), settings());
    let (hours, days) = rollup.round(now).await.unwrap();
    assert!(hours >= 72, "every complete hour since the first: {hours}");
    assert!(days >= 3, "every complete day: {days}");
    let hour = kvdb.hashes(&[hour_key(start / 60, "svc")]).await.unwrap();
    assert_eq!(hour[0]["count"], 3);
    let day_hash = kvdb.hashes(&[day_key(day, "svc")]).await.unwrap();
    assert_eq!(day_hash[0]["count"], 4);
    assert_eq!(day_hash[0]["max_us"], 40_000);

    // The minutes expire: the whole history still counts them, through the day.
    for minute in [start + 5, start + 6, start + 125] {
        kvdb.merge_hashes(&[HashMerge {
            key: minute_key(minute, "svc"),
            replace: true,
            ..HashMerge::default()
        }])
        .await
        .unwrap();
    }
    let stats = summary(&*kvdb, &settings(), "svc", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.count, 4);
    assert_eq!(stats.mean_ms, Some(25.0));

    // A second round has nothing left to do, and does not count twice.
    assert_eq!(rollup.round(now).await.unwrap(), (0, 0));
    write_minute(&*kvdb, "svc", now, &[5]).await;
    let stats = summary(&*kvdb, &settings(), "svc", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.count, 5);
    let week = series(&*kvdb, "svc", StatsRange::Week).await.unwrap();
    assert_eq!(week.points.iter().map(|p| p.count).sum::<u64>(), 5);
}

#[test]
fn a_span_is_covered_by_rolled_days_and_hours_and_by_minutes_elsewhere() {
    let rolled = Some(Rolled { hour: 48, day: 1 });
    // Day 0 rolled; hours 24..48 rolled but day 1 not; minutes from hour 48 on.
    let keys = plan("s", 0, 48 * 60 + 2, rolled);
    assert_eq!(keys[0], day_key(0, "s"));
    assert_eq!(keys[1], hour_key(24, "s"));
    assert_eq!(keys[24], hour_key(47, "s"));
    assert_eq!(keys[25..], [minute_key(2880, "s"), minute_key(2881, "s")]);
    // Nothing rolled: minutes only; a span not on an hour starts with minutes.
    assert_eq!(plan("s", 30, 90, None).len(), 60);
    let keys = plan("s", 30, 150, rolled);
    assert_eq!(keys.len(), 30 + 1 + 30);
    assert_eq!(keys[30], hour_key(1, "s"));
}

#[tokio::test]
async fn the_slow_list_keeps_exactly_the_100_slowest_over_the_threshold() {
    let kvdb = memory();
    let recorder = Arc::new(Recorder::new("s1".into(), settings()));
    let flusher = Flusher::new(recorder.clone(), kvdb.clone());
    // 250 calls from 1 to 250 ms, in a shuffled order, in three batches.
    let mut order: Vec<u64> = (1..=250).collect();
    order.sort_by_key(|ms| (ms * 7919) % 251);
    for (i, ms) in order.iter().enumerate() {
        let mut c = call("svc", *ms, Outcome::Ok);
        c.threshold_ms = 50;
        recorder.record(
            &c,
            Some(Exchange {
                request: format!("{{\"ms\": {ms}}}").as_bytes(),
                request_headers: None,
                response: b"{}",
                response_headers: &[],
                error: None,
            }),
        );
        if i % 100 == 99 {
            flusher.flush().await.unwrap();
        }
    }
    flusher.flush().await.unwrap();
    let slow = slow(&*kvdb, "svc").await.unwrap();
    let durations: Vec<f64> = slow.iter().map(|s| s.duration_ms).collect();
    let expected: Vec<f64> = (151..=250).rev().map(|ms| ms as f64).collect();
    assert_eq!(durations, expected);
    assert_eq!(slow[0].request, "{\"ms\": 250}");
    assert_eq!(slow[0].server, "s1");
    assert_eq!(slow[0].channel, "http");

    // Under the threshold nothing is listed; the configuration's threshold wins.
    let kvdb = memory();
    let recorder = Arc::new(Recorder::new("s1".into(), settings()));
    let flusher = Flusher::new(recorder.clone(), kvdb.clone());
    let mut c = call("fast", 900, Outcome::Ok);
    recorder.record(&c, None);
    c.policy.threshold_ms = Some(100);
    recorder.record(&c, None);
    flusher.flush().await.unwrap();
    assert_eq!(super::slow(&*kvdb, "fast").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_sample_is_taken_once_per_flush_interval_without_credentials_and_private_services_have_none()
 {
    let kvdb = memory();
    let mut small = settings();
    small.sample_max_bytes = 8;
    let recorder = Arc::new(Recorder::new("s1".into(), small));
    let flusher = Flusher::new(recorder.clone(), kvdb.clone());
    let headers = |token: &str| {
        let bearer = format!("Bearer {token}");
        Headers::capture([
            ("authorization", bearer.as_str()),
            ("cookie", "sid=1"),
            ("x-api-key", "k"),
            ("content-type", "application/json"),
        ])
    };
    let response_headers = [
        ("set-cookie".to_owned(), "sid=2".to_owned()),
        ("x-trace".to_owned(), "t".to_owned()),
    ];
    // As a channel does: headers are captured only for the call that is to be sampled.
    let record = |body: &str, ms: u64| {
        let policy = Policy::default();
        let wanted = recorder.wants_sample("svc", policy);
        recorder.record(
            &call("svc", ms, Outcome::Ok),
            Some(Exchange {
                request: body.as_bytes(),
                request_headers: wanted.then(|| headers(body)),
                response: b"ok",
                response_headers: &response_headers,
                error: None,
            }),
        );
        wanted
    };
    // One interval: the first call is the sample; the next ones are only counted.
    assert!(record("first", 3));
    assert!(!record("second", 3));
    flusher.flush().await.unwrap();
    let sample = sample(&*kvdb, "svc").await.unwrap().unwrap();
    assert_eq!(sample.request, "first");
    assert!(!sample.request_truncated);
    // The next interval samples again.
    assert!(record("a body longer than eight bytes", 3));
    // A slow call makes every later call of the interval sampled, so that its slow
    // calls keep their headers.
    assert!(!record("slow", 5_000));
    assert!(record("slower", 6_000));
    assert!(record("a body longer than eight bytes", 3));
    let kept: Vec<(String, usize)> = recorder.pending.lock().unwrap()["svc"]
        .slow
        .iter()
        .map(|slow| (slow.request.clone(), slow.request_headers.len()))
        .collect();
    assert_eq!(
        kept,
        [("slow".to_owned(), 0), ("slower".to_owned(), 1)],
        "both slow calls keep their requests; the second its headers too"
    );
    flusher.flush().await.unwrap();
    let sample = super::sample(&*kvdb, "svc").await.unwrap().unwrap();
    assert_eq!(sample.request, "a body l");
    assert!(sample.request_truncated);
    let header = |name: &str, value: &str| crate::api::Header {
        name: name.to_owned(),
        value: value.to_owned(),
    };
    assert_eq!(
        sample.request_headers,
        [header("content-type", "application/json")]
    );
    assert_eq!(sample.response_headers, [header("x-trace", "t")]);
    assert_eq!(sample.response, "ok");
    assert!(!sample.response_truncated);

    // Private: no sample at all.
    let config = BTreeMap::from([(SAMPLES_KEY.to_owned(), "off".to_owned())]);
    let private = policy(&config).unwrap();
    assert!(private.private);
    assert!(!recorder.wants_exchange(private));
    assert!(!recorder.wants_sample("secret", private));
    let mut c = call("secret", 3, Outcome::Ok);
    c.policy = private;
    recorder.record(
        &c,
        Some(Exchange {
            request: b"card number",
            request_headers: Some(Headers::default()),
            response: b"",
            response_headers: &[],
            error: None,
        }),
    );
    flusher.flush().await.unwrap();
    assert!(super::sample(&*kvdb, "secret").await.unwrap().is_none());
}

#[test]
fn a_configuration_says_private_and_a_threshold_or_nothing() {
    let config = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(policy(&config(&[("other", "1")])), None);
    assert_eq!(
        policy(&config(&[(THRESHOLD_KEY, " 250 ")])),
        Some(Policy {
            private: false,
            threshold_ms: Some(250)
        })
    );
    assert_eq!(policy(&config(&[(SAMPLES_KEY, "on")])), None);
    for name in [
        "Authorization",
        "cookie",
        "Set-Cookie",
        "X-Auth-Token",
        "x-api-key",
    ] {
        assert!(is_secret_header(name), "{name}");
    }
    assert!(!is_secret_header("content-type"));
}
