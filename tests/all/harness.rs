//! A server in-process for a test, and helpers to talk to it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use zato_host::Server;
use zato_host::api::DeployOutcome;
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
        let server = Server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr());
        Self {
            server: Some(server),
            dir,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn pickup(&self) -> PathBuf {
        self.dir.path().join("pickup")
    }

    /// Stops the server and gives back its directory (to start it again).
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.server.take().unwrap().stop().await.unwrap();
        self.dir
    }

    pub fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASSWORD))
    }

    /// Deploys through the admin API, panicking with the server's message on failure.
    pub async fn deploy(&self, wasm: &str) -> DeployOutcome {
        let (status, body) = self.try_deploy(std::fs::read(wasm).unwrap()).await;
        assert!(
            status.is_success(),
            "deploy of {wasm} failed: {status} {body}"
        );
        serde_json::from_value(body).unwrap()
    }

    pub async fn try_deploy(&self, bytes: Vec<u8>) -> (StatusCode, Value) {
        let response = self
            .admin(Method::POST, "/zato/api/services?source=test.wasm")
            .body(bytes)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Creates an HTTP channel (any method, JSON).
    pub async fn channel(&self, name: &str, path: &str, service: &str, timeout_ms: u64) {
        let channel = serde_json::json!({ "name": name, "path": path, "service": service, "timeout_ms": timeout_ms });
        let response = self
            .admin(Method::POST, "/zato/api/channels/http")
            .json(&channel)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "channel {name}: {}",
            response.text().await.unwrap()
        );
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
    pub async fn services(&self) -> Vec<Value> {
        let response = self
            .admin(Method::GET, "/zato/api/services")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The version of `name` this server runs, if any.
    pub async fn running_version(&self, name: &str) -> Option<i64> {
        self.services()
            .await
            .into_iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["running_version"].as_i64())
    }
}

pub async fn json_or_text(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
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
