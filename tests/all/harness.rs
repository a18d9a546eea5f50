//! A server in-process for a test, and helpers to talk to it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use zato_api::{AdminClient, Body, DataFormat, DeployOutcome, HttpChannel, ServiceSummary};
use zato_host::Server;
use zato_host::config::ServerConfig;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "test-password";

fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| zato_host::admin::hash_password(PASSWORD))
        .clone()
}

pub struct TestServer {
    server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub http: reqwest::Client,
    /// The admin API, typed; [`TestServer::admin`] for a request the client would not send.
    pub api: AdminClient,
}

/// A server configuration in `dir`, with limits small enough for many test servers.
pub fn config(dir: &Path) -> ServerConfig {
    let mut config: ServerConfig = toml::from_str(&format!(
        "name = \"test\"\nbind = \"127.0.0.1:0\"\nodb = \"sqlite://{}/odb.sqlite\"\n\
         [admin]\nusername = \"{USER}\"\npassword_hash = \"{}\"\n",
        dir.display(),
        password_hash()
    ))
    .expect("test config parses");
    config.pickup_dir = Some(dir.join("pickup"));
    config.data_dir = dir.join("data");
    config.runtime.cache_dir = Some(dir.join("data/cache"));
    // Many servers share the test process: keep each pool's address space small.
    config.runtime.max_instances = 64;
    config.deploy.reconcile_interval_ms = 500;
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        adjust(&mut config);
        Self::start_in(dir, config).await
    }

    pub async fn start_in(dir: tempfile::TempDir, config: ServerConfig) -> Self {
        let server = Self::start_loading(dir, config).await;
        server.loaded().await;
        server
    }

    /// Starts a server without waiting for it to load the services in its ODB.
    pub async fn start_loading(dir: tempfile::TempDir, config: ServerConfig) -> Self {
        capture_pickup_log();
        let server = Server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr());
        let http = http_client();
        Self {
            server: Some(server),
            dir,
            api: AdminClient::with_client(http.clone(), &base, USER, PASSWORD),
            base,
            http,
        }
    }

    /// Waits until the services that were in the ODB at start are loaded.
    pub async fn loaded(&self) {
        self.server.as_ref().unwrap().loaded().await;
    }

    /// For a server started with `tls`: `base`, `http` and `api` speak HTTPS through
    /// `http` (a client that trusts the server's CA), as `localhost`, which its
    /// certificate names.
    pub fn over_tls(&mut self, http: reqwest::Client) {
        let port = self.server.as_ref().unwrap().addr().port();
        self.base = format!("https://localhost:{port}");
        self.api = AdminClient::with_client(http.clone(), &self.base, USER, PASSWORD);
        self.http = http;
    }

    pub fn pickup(&self) -> PathBuf {
        self.dir.path().join("pickup")
    }

    /// Stops the server and gives back its directory (to start it again).
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.server.take().unwrap().stop().await.unwrap();
        self.dir
    }

    /// An admin API request with the credentials, for one the typed client would not
    /// send (extra headers, hostile bodies, requests raced from spawned tasks).
    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASSWORD))
    }

    /// Deploys through the admin API, panicking with the server's message on failure.
    pub async fn deploy(&self, wasm: &str) -> DeployOutcome {
        self.api
            .deploy(std::fs::read(wasm).unwrap(), "test.wasm")
            .await
            .unwrap_or_else(|e| panic!("deploy of {wasm} failed: {e}"))
    }

    /// Deploys `bytes` whatever comes of it: (status, JSON answer).
    pub async fn try_deploy(&self, bytes: Vec<u8>) -> (StatusCode, Value) {
        let answer = self
            .api
            .send(
                Method::POST,
                "/zato/api/services?source=test.wasm",
                Body::Bytes(bytes.into()),
            )
            .await
            .unwrap();
        (answer.status, serde_json::from_slice(&answer.body).unwrap())
    }

    /// Invokes `service` through the admin API with `body`: (status, JSON answer).
    pub async fn invoke(&self, service: &str, body: &str) -> (StatusCode, Value) {
        let answer = self
            .api
            .invoke(service, body.to_owned(), DataFormat::Json, None)
            .await
            .unwrap();
        (answer.status, json_or_text_of(&answer.body))
    }

    /// Replaces the configuration of `service` (a JSON object of strings) through the
    /// admin API.
    pub async fn set_config(&self, service: &str, config: &Value) {
        let config: BTreeMap<String, String> = serde_json::from_value(config.clone()).unwrap();
        self.api
            .set_config(service, &config)
            .await
            .unwrap_or_else(|e| panic!("config of {service}: {e}"));
    }

    /// Creates an HTTP channel (any method, JSON).
    pub async fn channel(&self, name: &str, path: &str, service: &str, timeout_ms: u64) {
        let channel = HttpChannel {
            timeout_ms,
            ..http_channel(name, path, service)
        };
        self.api
            .create_http_channel(&channel)
            .await
            .unwrap_or_else(|e| panic!("channel {name}: {e}"));
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status(), json_or_text(response).await)
    }

    pub async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), json_or_text(response).await)
    }

    /// The services as the admin API lists them.
    pub async fn services(&self) -> Vec<ServiceSummary> {
        self.api.services().await.unwrap()
    }

    /// The version of `name` this server runs, if any.
    pub async fn running_version(&self, name: &str) -> Option<i64> {
        self.services()
            .await
            .into_iter()
            .find(|s| s.name == name)
            .and_then(|s| s.running_version)
    }
}

/// An HTTP channel from `path` to `service`: any method, JSON, the server's timeout.
pub fn http_channel(name: &str, path: &str, service: &str) -> HttpChannel {
    HttpChannel {
        name: name.into(),
        path: path.into(),
        methods: Vec::new(),
        service: service.into(),
        data_format: DataFormat::Json,
        timeout_ms: 0,
        security: None,
    }
}

/// The JSON body of test.echo's 200 answer, checked to carry the cid that the response's
/// `x-zato-cid` header gives.
pub async fn echoed(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let cid = response.headers()["x-zato-cid"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cid"], cid.as_str(), "{body}");
    body
}

pub async fn json_or_text(response: reqwest::Response) -> Value {
    json_or_text_of(&response.bytes().await.unwrap())
}

/// A body as JSON, or as a JSON string when it is not JSON.
pub fn json_or_text_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// The log lines of the pickup watchers of every server in this process: the one trace
/// of a watcher's verdict on a file it refuses (the file stays where it is). The paths in
/// them name the test's temporary directory, which tells one test's lines from another's.
static PICKUP_LOG: Mutex<String> = Mutex::new(String::new());

struct PickupLogWriter;

impl std::io::Write for PickupLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        PICKUP_LOG
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_pickup_log() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        use tracing_subscriber::prelude::*;
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .without_time()
            .with_writer(|| PickupLogWriter)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target(
                        "zato_host::pickup",
                        tracing_subscriber::filter::LevelFilter::INFO,
                    )
                    .with_target(
                        "zato_host::admin",
                        tracing_subscriber::filter::LevelFilter::WARN,
                    ),
            );
        tracing_subscriber::registry()
            .with(layer)
            .try_init()
            .expect("no other subscriber in the test binary");
    });
}

/// Whether a pickup watcher of a server of this process has logged `text`.
pub fn pickup_logged(text: &str) -> bool {
    PICKUP_LOG.lock().unwrap().contains(text)
}

/// How many times the pickup watchers of this process have logged `text`; the admin
/// APIs' warnings (refused logins) are captured too.
pub fn pickup_log_count(text: &str) -> usize {
    PICKUP_LOG.lock().unwrap().matches(text).count()
}

/// Polls `check` every 20 ms until it gives a value, panicking after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Which ODB a cluster test uses; each test gets a database of its own.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";
pub const REDIS: &str = "redis://127.0.0.1:6379";

/// A fresh, empty database for one test, dropped by [`Cluster::stop`].
pub struct TestDb {
    pub url: String,
    drop_sql: Option<(String, &'static str)>,
}

impl TestDb {
    pub async fn new(backend: Backend, dir: &Path) -> Self {
        use sqlx::Connection as _;
        let name = format!("zato_t_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}/cluster-odb.sqlite", dir.display()),
                drop_sql: None,
            },
            Backend::Postgres => {
                let mut admin = sqlx::PgConnection::connect(POSTGRES_ADMIN)
                    .await
                    .expect("PostgreSQL is running");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                Self {
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    drop_sql: Some((
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        POSTGRES_ADMIN,
                    )),
                }
            }
            Backend::MySql => {
                let mut admin = sqlx::MySqlConnection::connect(MYSQL_ADMIN)
                    .await
                    .expect("MariaDB is running");
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                Self {
                    url: format!("mysql://root@127.0.0.1:3306/{name}"),
                    drop_sql: Some((format!("DROP DATABASE IF EXISTS {name}"), MYSQL_ADMIN)),
                }
            }
        }
    }

    pub async fn drop_database(self) {
        use sqlx::Connection as _;
        let Some((sql, admin)) = self.drop_sql else {
            return;
        };
        let result = if admin.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(|_| ())
        } else {
            let mut c = sqlx::MySqlConnection::connect(admin).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(|_| ())
        };
        if let Err(e) = result {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

/// Several in-process servers of one cluster: one ODB, one Redis key prefix, one
/// pickup directory, and a data directory (artifact cache) each.
pub struct Cluster {
    pub servers: Vec<TestServer>,
    pub name: String,
    pub pickup: PathBuf,
    pub odb: String,
    pub redis: String,
    dir: tempfile::TempDir,
    db: Option<TestDb>,
}

impl Cluster {
    pub async fn start(n: usize, backend: Backend) -> Self {
        Self::start_with_redis(n, backend, REDIS).await
    }

    pub async fn start_with_redis(n: usize, backend: Backend, redis: &str) -> Self {
        Self::start_adjusted(n, backend, redis, |_| {}).await
    }

    /// As [`Cluster::start_with_redis`], with each server's configuration adjusted.
    pub async fn start_adjusted(
        n: usize,
        backend: Backend,
        redis: &str,
        adjust: fn(&mut ServerConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(backend, dir.path()).await;
        let name = format!("t{}", uuid::Uuid::new_v4().simple());
        let pickup = dir.path().join("pickup");
        let mut cluster = Self {
            servers: Vec::new(),
            name,
            pickup,
            odb: db.url.clone(),
            redis: redis.into(),
            dir,
            db: Some(db),
        };
        for i in 1..=n {
            cluster
                .add_server_adjusted(&format!("server{i}"), adjust)
                .await;
        }
        cluster
    }

    /// Starts one more server of the cluster.
    pub async fn add_server(&mut self, name: &str) {
        self.add_server_adjusted(name, |_| {}).await;
    }

    async fn add_server_adjusted(&mut self, name: &str, adjust: fn(&mut ServerConfig)) {
        let server_dir = tempfile::tempdir_in(self.dir.path()).unwrap();
        let mut config = config(server_dir.path());
        config.name = name.into();
        config.cluster = self.name.clone();
        config.odb = self.odb.clone();
        config.kvdb = self.redis.clone();
        config.pickup_dir = Some(self.pickup.clone());
        config.membership.heartbeat_ms = 200;
        adjust(&mut config);
        self.servers
            .push(TestServer::start_in(server_dir, config).await);
    }

    /// Waits until every server runs `version` of `service`; returns how long it took.
    pub async fn wait_for_version(&self, service: &str, version: i64, limit: Duration) -> Duration {
        let started = Instant::now();
        for server in &self.servers {
            eventually(
                limit,
                &format!("{service} version {version} on {}", server.base),
                || async { (server.running_version(service).await >= Some(version)).then_some(()) },
            )
            .await;
        }
        started.elapsed()
    }

    pub async fn stop(self) {
        for server in self.servers {
            server.stop().await;
        }
        if let Some(db) = self.db {
            db.drop_database().await;
        }
    }
}

/// `component` with a custom section appended: a new component (new sha256) that
/// behaves exactly like the original.
pub fn variant(component: &[u8], n: u32) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"zato-test-variant";
    let mut section = Vec::new();
    leb128(name.len(), &mut section);
    section.extend_from_slice(name);
    section.extend_from_slice(&n.to_le_bytes());
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb128(section.len(), &mut out);
    out.extend_from_slice(&section);
    out
}

/// An HTTP client for a test: reqwest's defaults, after the process's TLS provider is
/// installed (reqwest has rustls without one in a workspace build).
pub fn http_client() -> reqwest::Client {
    zato_api::install_crypto_provider();
    reqwest::Client::new()
}

/// As [`http_client`], for a test that sets its own options.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    zato_api::install_crypto_provider();
    reqwest::Client::builder()
}

/// A test CA and a certificate for 127.0.0.1 it signed, made by the `openssl` command
/// in `dir`, where it also leaves `ca.pem`, `server.pem` and `server.key`: (the CA's PEM, the server's certificate chain PEM, its key PEM).
pub fn test_pki(dir: &std::path::Path) -> (String, String, String) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    openssl(
        &[
            &[
                "req",
                "-x509",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=zato test CA",
            ][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req", "-nodes", "-subj", "/CN=127.0.0.1"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    (read("ca.pem"), read("server.pem"), read("server.key"))
}
