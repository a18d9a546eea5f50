//! A cluster of servers sharing an ODB (PostgreSQL, MariaDB or SQLite) and a Redis:
//! one deploy reaches every server, none is left on an old version, and a lost message
//! or a dead server costs a delay, never a divergence.

use std::time::Duration;

use reqwest::StatusCode;
use zato_api::ServerState;
use zato_test_artifacts as wasm;

use crate::harness::{Backend, Cluster, eventually, variant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_on_one_server_is_served_by_all_three() {
    let cluster = Cluster::start(3, Backend::Postgres).await;
    let outcome = cluster.servers[0].deploy(wasm::HELLO).await;
    let took = cluster
        .wait_for_version("demo.hello", outcome.version, Duration::from_secs(10))
        .await;
    println!(
        "deploy accepted -> last of 3 servers running it: {} ms",
        took.as_millis()
    );
    // A channel created on one server is live on all of them.
    cluster.servers[1]
        .channel("hello", "/hello", "demo.hello", 0)
        .await;
    for server in &cluster.servers {
        eventually(
            Duration::from_secs(10),
            "the channel on every server",
            || async {
                let (status, body) = server.get("/hello?name=cluster").await;
                (status == StatusCode::OK && body["message"] == "Hello, cluster!").then_some(())
            },
        )
        .await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_in_the_shared_pickup_directory_is_deployed_once_and_served_by_all() {
    let cluster = Cluster::start(3, Backend::Sqlite).await;
    std::fs::copy(wasm::VERSION1, cluster.pickup.join("version.wasm")).unwrap();
    cluster
        .wait_for_version("test.version", 1, Duration::from_secs(20))
        .await;
    // One watcher deployed the file and deleted it.
    let file = cluster.pickup.join("version.wasm");
    eventually(
        Duration::from_secs(10),
        "the deployed file deleted",
        || async { (!file.exists()).then_some(()) },
    )
    .await;
    // A deliberate pause, not an event: a watcher that comes after the deletion finds
    // nothing and leaves no trace, and one that read the file before it has yet to reach
    // the deploy lock: the pause lets it get there, so that a second version or a second
    // compilation would show below.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let services = cluster.servers[2].services().await;
    assert_eq!(services.len(), 1);
    assert_eq!(
        services[0].version, 1,
        "three watchers, one deploy: {services:?}"
    );
    for server in &cluster.servers {
        let status = server.api.server_status().await.unwrap();
        assert_eq!(
            status.compilations, 1,
            "compiled once on each server: {status:?}"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deploys_from_three_servers_are_monotonic_and_the_last_wins_everywhere() {
    let cluster = Cluster::start(3, Backend::MySql).await;
    let base = std::fs::read(wasm::VERSION1).unwrap();
    let deploys: Vec<_> = (0..10u32)
        .map(|i| {
            let api = cluster.servers[i as usize % 3].api.clone();
            let bytes = variant(&base, i);
            tokio::spawn(async move {
                let outcome = api.deploy(bytes, "variant.wasm").await.unwrap();
                assert!(!outcome.unchanged, "{outcome:?}");
                (outcome.version, outcome.sha256)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for d in deploys {
        outcomes.push(d.await.unwrap());
    }
    outcomes.sort();
    let versions: Vec<i64> = outcomes.iter().map(|(v, _)| *v).collect();
    assert_eq!(
        versions,
        (1..=10).collect::<Vec<_>>(),
        "each deploy got its own version"
    );
    let last_sha = &outcomes[9].1;
    cluster
        .wait_for_version("test.version", 10, Duration::from_secs(20))
        .await;
    for server in &cluster.servers {
        let services = server.services().await;
        assert_eq!(&services[0].sha256, last_sha);
        assert_eq!(services[0].running_version, Some(10));
        let status = server.api.server_status().await.unwrap();
        assert!(
            (1..=10).contains(&status.compilations),
            "each component compiled at most once per server: {status:?}"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_later_catches_up_by_itself() {
    let mut cluster = Cluster::start(2, Backend::Postgres).await;
    cluster.servers[0].deploy(wasm::VERSION1).await;
    cluster.servers[1].deploy(wasm::VERSION2).await;
    cluster.add_server("server3").await;
    // Reconciled at start: no notice needed.
    assert_eq!(
        cluster.servers[2].running_version("test.version").await,
        Some(2)
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_notice_costs_a_delay_not_a_divergence() {
    let cluster = Cluster::start(3, Backend::Sqlite).await;
    cluster.servers[0].deploy(wasm::VERSION1).await;
    cluster
        .wait_for_version("test.version", 1, Duration::from_secs(10))
        .await;
    // Store version 2 the way a deploy does, but never publish it: only the periodic
    // reconcile (500 ms in these tests) can bring it to the servers.
    let details = cluster.servers[0]
        .api
        .service("test.version")
        .await
        .unwrap();
    let bytes = std::fs::read(wasm::VERSION2).unwrap();
    let odb = zato_host::odb::SqlOdb::connect(&cluster.odb).await.unwrap();
    let version = zato_host::odb::ServiceVersions::insert_version(
        &odb,
        zato_host::odb::NewVersion {
            name: "test.version".into(),
            sha256: zato_host::deploy::sha256_hex(&bytes),
            bytes: Some(bytes),
            description: String::new(),
            info: serde_json::to_string(&details.info).unwrap(),
            source: "test: notice lost".into(),
            deployed_by: "nobody".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(version, 2);
    let took = cluster
        .wait_for_version("test.version", 2, Duration::from_secs(10))
        .await;
    println!("caught up by reconciling in {} ms", took.as_millis());
    cluster.stop().await;
}

/// A Redis of the test's own, so that killing its connections or restarting it does
/// not disturb the tests running in parallel on the shared one.
///
/// The one server of these tests on a port chosen in advance rather than port 0:
/// redis-server cannot report a port the system picked, and the test restarts it where
/// the cluster's URL points. Another process may take the port between the choice and
/// the start: `launch` then sees that the Redis answering is not its own, and `start`
/// chooses again.
struct PrivateRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    async fn start() -> Self {
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut redis = Self { port, child: None };
            if redis.launch().await {
                return redis;
            }
        }
        panic!("no free port for a private Redis in 10 tries");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        assert!(
            self.launch().await,
            "the private Redis restarts on port {}",
            self.port
        );
    }

    /// Starts redis-server on `self.port` and waits until it answers; false when another
    /// process has the port.
    async fn launch(&mut self) -> bool {
        let mut child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed");
        let own = format!("process_id:{}\r", child.id().unwrap());
        let started = std::time::Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Some(info) = self.cli(&["info", "server"]).await {
                if info.contains(&own) {
                    self.child = Some(child);
                    return true;
                }
                let _ = child.kill().await;
                return false;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the private Redis on port {} did not answer within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    async fn cli(&self, args: &[&str]) -> Option<String> {
        let output = tokio::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .await
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_whose_redis_subscriptions_are_killed_during_a_deploy_catch_up() {
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start_with_redis(3, Backend::Sqlite, &redis.url()).await;
    cluster.servers[0].deploy(wasm::VERSION1).await;
    cluster
        .wait_for_version("test.version", 1, Duration::from_secs(10))
        .await;
    let killed = redis
        .cli(&["client", "kill", "type", "pubsub"])
        .await
        .unwrap();
    assert!(
        killed.trim().parse::<u32>().unwrap() >= 3,
        "every server's subscription was cut: {killed}"
    );
    cluster.servers[0].deploy(wasm::VERSION2).await;
    let took = cluster
        .wait_for_version("test.version", 2, Duration::from_secs(10))
        .await;
    println!("caught up after the cut in {} ms", took.as_millis());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_recovers_by_itself_when_redis_restarts() {
    let mut redis = PrivateRedis::start().await;
    let cluster = Cluster::start_with_redis(2, Backend::Sqlite, &redis.url()).await;
    cluster.servers[0].deploy(wasm::VERSION1).await;
    cluster.servers[1]
        .channel("version", "/version", "test.version", 0)
        .await;
    cluster
        .wait_for_version("test.version", 1, Duration::from_secs(10))
        .await;

    redis.stop().await;
    // Without Redis, what is deployed keeps serving.
    for server in &cluster.servers {
        eventually(
            Duration::from_secs(10),
            "the channel on every server",
            || async {
                let (status, body) = server.get("/version").await;
                (status == StatusCode::OK && body["version"] == 1).then_some(())
            },
        )
        .await;
    }
    let (status, body) = cluster.servers[0]
        .try_deploy(std::fs::read(wasm::VERSION2).unwrap())
        .await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a deploy needs the KVDB: {body}"
    );
    assert!(body["error"].as_str().unwrap().contains("Redis"), "{body}");

    redis.restart().await;
    // Nobody intervenes: the servers reconnect, and the next deploy goes everywhere.
    let bytes = std::fs::read(wasm::VERSION2).unwrap();
    let outcome = eventually(
        Duration::from_secs(15),
        "a deploy accepted after the restart",
        || {
            let deploy = cluster.servers[0].try_deploy(bytes.clone());
            async move {
                let (status, body) = deploy.await;
                status.is_success().then_some(body)
            }
        },
    )
    .await;
    assert_eq!(outcome["version"], 2);
    cluster
        .wait_for_version("test.version", 2, Duration::from_secs(15))
        .await;
    for server in &cluster.servers {
        let (_, body) = server.get("/version").await;
        assert_eq!(body["version"], 2);
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_cleanly_deregisters() {
    let mut cluster = Cluster::start(2, Backend::Sqlite).await;
    let leaving = cluster.servers.pop().unwrap();
    leaving.stop().await;
    let servers = cluster.servers[0].api.servers().await.unwrap();
    let states: Vec<(&str, ServerState)> =
        servers.iter().map(|s| (s.name.as_str(), s.state)).collect();
    assert_eq!(
        states,
        [
            ("server1", ServerState::Running),
            ("server2", ServerState::Stopped)
        ]
    );
    cluster.stop().await;
}

/// Notices of every kind may be lost while a server is cut off from Redis: when it
/// reconnects, it reloads every kind of configuration at once, not only the services
/// (here the periodic reconcile is an hour away, so only the reconnect can do it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_created_while_redis_was_down_answers_everywhere_after_the_reconnect() {
    let mut redis = PrivateRedis::start().await;
    let cluster = Cluster::start_adjusted(2, Backend::Sqlite, &redis.url(), |config| {
        config.deploy.reconcile_interval_ms = 3_600_000;
    })
    .await;
    cluster.servers[0].deploy(wasm::VERSION1).await;
    cluster
        .wait_for_version("test.version", 1, Duration::from_secs(10))
        .await;

    redis.stop().await;
    // The channel is stored; its notice is lost.
    cluster.servers[0]
        .channel("version", "/version", "test.version", 0)
        .await;
    let (status, _) = cluster.servers[1].get("/version").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "server2 missed the notice");

    redis.restart().await;
    eventually(
        Duration::from_secs(15),
        "the channel on server2 after it reconnected",
        || async {
            let (status, body) = cluster.servers[1].get("/version").await;
            (status == StatusCode::OK && body["version"] == 1).then_some(())
        },
    )
    .await;
    cluster.stop().await;
}

/// 20 times, three servers of one cluster start at once on a new ODB (the first start
/// of `zato start` with three servers): each runs or waits for the migrations under the
/// database's own lock, none fails, and each serves.
async fn twenty_first_starts_of_three_servers(backend: Backend) {
    use zato_host::Server;

    use crate::harness::{TestDb, config};
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(backend, dir.path()).await;
        let cluster = format!("t{}", uuid::Uuid::new_v4().simple());
        let starts = (1..=3).map(|i| {
            let server_dir = dir.path().join(format!("server{i}"));
            std::fs::create_dir_all(&server_dir).unwrap();
            let mut config = config(&server_dir);
            config.name = format!("server{i}");
            config.cluster = cluster.clone();
            config.odb = db.url.clone();
            config.pickup_dir = None;
            Server::start(config)
        });
        let started = futures::future::join_all(starts).await;
        let http = crate::harness::http_client();
        let mut servers = Vec::new();
        for (i, server) in started.into_iter().enumerate() {
            let server = server.unwrap_or_else(|e| {
                panic!(
                    "{backend:?}, round {round}: server{} did not start: {e:#}",
                    i + 1
                )
            });
            server.loaded().await;
            let ping = http
                .get(format!("http://{}/zato/ping", server.addr()))
                .send()
                .await
                .unwrap();
            assert_eq!(ping.status(), StatusCode::OK, "{backend:?}, round {round}");
            servers.push(server);
        }
        for server in servers {
            server.stop().await.unwrap();
        }
        db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_first_starts_of_three_servers_on_sqlite() {
    twenty_first_starts_of_three_servers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_first_starts_of_three_servers_on_postgres() {
    twenty_first_starts_of_three_servers(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_first_starts_of_three_servers_on_mariadb() {
    twenty_first_starts_of_three_servers(Backend::MySql).await;
}
