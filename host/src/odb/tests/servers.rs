//! Membership: servers and the versions they run.

use std::sync::Arc;

use super::TestDb;
use crate::odb::{Membership, OdbError, now_ms};

backends!(
    servers_register_touch_and_deregister,
    running_versions_are_set_and_unset,
    concurrent_running_version_updates_keep_one,
    keys_are_checked_the_same_everywhere,
    lookups_match_keys_exactly,
);

async fn servers_register_touch_and_deregister(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.servers().await.unwrap().is_empty());
    let before = now_ms();
    odb.register_server("s2", "127.0.0.1:17011", 22)
        .await
        .unwrap();
    odb.register_server("s1", "127.0.0.1:17010", 11)
        .await
        .unwrap();
    let servers = odb.servers().await.unwrap();
    let names: Vec<_> = servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s1", "s2"]);
    let s1 = &servers[0];
    assert_eq!(
        (s1.address.as_str(), s1.state.as_str(), s1.pid),
        ("127.0.0.1:17010", "running", 11)
    );
    assert!(s1.started_at >= before && s1.last_seen == s1.started_at);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    odb.touch_server("s1").await.unwrap();
    let s1 = odb.servers().await.unwrap().remove(0);
    assert!(s1.last_seen > s1.started_at, "{s1:?}");
    // Touching a server that never registered changes nothing.
    odb.touch_server("nobody").await.unwrap();
    assert_eq!(odb.servers().await.unwrap().len(), 2);

    odb.set_running_version("s1", "svc", Some(3)).await.unwrap();
    odb.set_running_version("s2", "svc", Some(3)).await.unwrap();
    odb.deregister_server("s1").await.unwrap();
    let servers = odb.servers().await.unwrap();
    assert_eq!(servers[0].state, "stopped");
    assert!(servers[0].last_seen >= s1.last_seen);
    assert_eq!(servers[1].state, "running");
    // A stopped server runs nothing.
    assert_eq!(
        odb.running_versions().await.unwrap(),
        [("s2".to_string(), "svc".to_string(), 3)]
    );

    // Registering again starts afresh: running, new address and pid, no versions.
    odb.set_running_version("s2", "svc", Some(4)).await.unwrap();
    odb.register_server("s2", "127.0.0.1:17012", 33)
        .await
        .unwrap();
    let s2 = odb.servers().await.unwrap().remove(1);
    assert_eq!(
        (s2.address.as_str(), s2.state.as_str(), s2.pid),
        ("127.0.0.1:17012", "running", 33)
    );
    assert!(odb.running_versions().await.unwrap().is_empty());
}

async fn running_versions_are_set_and_unset(db: TestDb) {
    let odb = db.odb().await;
    assert!(odb.running_versions().await.unwrap().is_empty());
    odb.set_running_version("s1", "a", Some(1)).await.unwrap();
    odb.set_running_version("s1", "a", Some(2)).await.unwrap();
    odb.set_running_version("s1", "b", Some(7)).await.unwrap();
    odb.set_running_version("s2", "a", Some(1)).await.unwrap();
    let mut running = odb.running_versions().await.unwrap();
    running.sort();
    let row =
        |server: &str, service: &str, version| (server.to_string(), service.to_string(), version);
    assert_eq!(
        running,
        [row("s1", "a", 2), row("s1", "b", 7), row("s2", "a", 1)]
    );

    odb.set_running_version("s1", "a", None).await.unwrap();
    // Unsetting what is not set is not an error.
    odb.set_running_version("s1", "zz", None).await.unwrap();
    let mut running = odb.running_versions().await.unwrap();
    running.sort();
    assert_eq!(running, [row("s1", "b", 7), row("s2", "a", 1)]);
}

/// Concurrent updates of what a server runs leave one row per (server, service).
async fn concurrent_running_version_updates_keep_one(db: TestDb) {
    let odb = Arc::new(db.odb().await);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (1..=10)
        .map(|version| {
            let odb = odb.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                odb.set_running_version("s1", "a", Some(version)).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let running = odb.running_versions().await.unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert!((1..=10).contains(&running[0].2));
}

/// Names longer than the schema's key columns are refused alike on every backend
/// instead of failing on some of them.
async fn keys_are_checked_the_same_everywhere(db: TestDb) {
    let odb = db.odb().await;
    let too_long = "é".repeat(256);
    assert!(matches!(
        odb.register_server(&too_long, "127.0.0.1:1", 1).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(matches!(
        odb.set_running_version("s1", &too_long, Some(1)).await,
        Err(OdbError::Invalid(_))
    ));
    assert!(odb.servers().await.unwrap().is_empty());
    assert!(odb.running_versions().await.unwrap().is_empty());
}

/// MySQL ignores trailing spaces when it compares: deregistering `s1 ` must leave
/// `s1` running.
async fn lookups_match_keys_exactly(db: TestDb) {
    let odb = db.odb().await;
    odb.register_server("s1", "127.0.0.1:1", 1).await.unwrap();
    odb.deregister_server("s1 ").await.unwrap();
    assert_eq!(odb.servers().await.unwrap()[0].state, "running");
}
