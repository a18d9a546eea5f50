//! Reaching a cluster's admin API: the URLs to try (a remote cluster's one, or those an
//! environment resolves to), the first that answers, and what was tried when none did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zato_api::{AdminClient, ClientError};

use crate::config::{ClusterConfig, ClusterSource};

/// Where a cluster's admin API answers and with which credentials.
#[derive(Clone)]
pub struct ClusterAccess {
    /// Candidate base URLs of the admin API, tried in order.
    pub urls: Vec<String>,
    /// The admin API's user.
    pub username: String,
    /// The admin API's password.
    pub password: String,
    /// The load balancer in front of the cluster's servers (`http://HOST:PORT`), whose
    /// own statistics the dashboard shows, when it has one.
    pub lb_url: Option<String>,
    /// The PEM of the CA that alone signs the cluster's HTTPS certificates, when it
    /// has one (an environment made with `--tls`).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterAccess")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("lb_url", &self.lb_url)
            .field("ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// Turns a zato environment directory (absolute, or relative to the working directory
/// once joined to the configuration's) into its admin API's URLs and credentials. The
/// CLI gives one that reads the environment's files; servers that bind port 0 are known
/// only at run time, so it is called each time the cluster is reached.
pub type Resolver = Arc<dyn Fn(&Path) -> anyhow::Result<ClusterAccess> + Send + Sync>;

/// Why a cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// None of the cluster's URLs answered.
    #[error("cluster `{cluster}` is down: none of its admin URLs answered")]
    Down {
        /// The cluster's name.
        cluster: String,
        /// Each URL tried, with what happened.
        tried: Vec<(String, String)>,
    },
    /// Its environment could not be read.
    #[error("cluster `{cluster}`: cannot read its environment `{environment}`: {error}")]
    Environment {
        /// The cluster's name.
        cluster: String,
        /// The environment directory.
        environment: String,
        /// Why.
        error: String,
    },
    /// Its CA could not be read or used.
    #[error("cluster `{cluster}`: its CA: {error}")]
    Ca {
        /// The cluster's name.
        cluster: String,
        /// Why.
        error: String,
    },
    /// It answered with an error.
    #[error("cluster `{cluster}`: {error}")]
    Api {
        /// The cluster's name.
        cluster: String,
        /// What the client reported.
        error: ClientError,
    },
}

impl ClusterError {
    /// The admin API's own message when it refused the request (status, message).
    pub fn refusal(&self) -> Option<(u16, &str)> {
        match self {
            ClusterError::Api {
                error:
                    ClientError::Server {
                        status, message, ..
                    },
                ..
            } => Some((status.as_u16(), message)),
            _ => None,
        }
    }
}

/// Every configured cluster's way in.
pub struct Clusters {
    resolver: Resolver,
    /// The configuration file's directory: environments are relative to it.
    base_dir: PathBuf,
    /// The client of clusters with no CA of their own (the system's roots).
    http: reqwest::Client,
    /// The clients of clusters with a CA of their own, by the CA's PEM.
    with_ca: Mutex<HashMap<Vec<u8>, reqwest::Client>>,
    /// Per cluster, the URL that answered last: tried first next time.
    last_good: Mutex<HashMap<String, String>>,
}

impl Clusters {
    /// Clusters reached over one HTTP client; environments relative to `base_dir`.
    pub fn new(resolver: Resolver, base_dir: PathBuf) -> Self {
        let http = zato_api::tls::http_client(client_builder(), None)
            .expect("an HTTP client of the system's roots builds");
        Self {
            resolver,
            base_dir,
            http,
            with_ca: Mutex::new(HashMap::new()),
            last_good: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client of a cluster: trusting its CA alone when it has one.
    fn http(&self, cluster: &str, access: &ClusterAccess) -> Result<reqwest::Client, ClusterError> {
        let Some(ca) = &access.ca_pem else {
            return Ok(self.http.clone());
        };
        let mut clients = self.with_ca.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(ca) {
            return Ok(client.clone());
        }
        let client = zato_api::tls::http_client(client_builder(), Some(ca)).map_err(|error| {
            ClusterError::Ca {
                cluster: cluster.to_owned(),
                error,
            }
        })?;
        clients.insert(ca.clone(), client.clone());
        Ok(client)
    }

    /// The URLs and credentials of `cluster`, resolving an environment now.
    pub async fn access(&self, cluster: &ClusterConfig) -> Result<ClusterAccess, ClusterError> {
        let source = cluster.source().map_err(|e| ClusterError::Environment {
            cluster: cluster.name.clone(),
            environment: String::new(),
            error: e.to_string(),
        })?;
        match source {
            ClusterSource::Remote {
                url,
                username,
                password,
            } => {
                let ca_pem = match &cluster.ca {
                    Some(ca) => {
                        let path = self.base_dir.join(ca);
                        Some(std::fs::read(&path).map_err(|e| ClusterError::Ca {
                            cluster: cluster.name.clone(),
                            error: format!("cannot read `{}`: {e}", path.display()),
                        })?)
                    }
                    None => None,
                };
                Ok(ClusterAccess {
                    urls: vec![url.to_owned()],
                    username: username.to_owned(),
                    password: password.to_owned(),
                    lb_url: cluster.lb_url.clone(),
                    ca_pem,
                })
            }
            ClusterSource::Environment(dir) => {
                let path = self.base_dir.join(dir);
                let resolver = Arc::clone(&self.resolver);
                let shown = path.display().to_string();
                let resolved = tokio::task::spawn_blocking(move || resolver(&path))
                    .await
                    .map_err(|e| anyhow::anyhow!("the resolver panicked: {e}"))
                    .and_then(|r| r);
                resolved.map_err(|e| ClusterError::Environment {
                    cluster: cluster.name.clone(),
                    environment: shown,
                    error: format!("{e:#}"),
                })
            }
        }
    }

    /// The statistics of the load balancer in front of `cluster`, if it has one: `None`
    /// without one, `Some(Err(why))` when it does not answer within a second.
    pub async fn lb_stats(
        &self,
        cluster: &ClusterConfig,
    ) -> Option<(String, Result<zato_api::lb::LbStats, String>)> {
        let access = self.access(cluster).await.ok()?;
        let url = access.lb_url.clone()?;
        let http = match self.http(&cluster.name, &access) {
            Ok(http) => http,
            Err(e) => return Some((url, Err(e.to_string()))),
        };
        let asked = http
            .get(format!("{}/zato-lb-stats", url.trim_end_matches('/')))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        let stats = match asked {
            Ok(answer) if answer.status().is_success() => answer
                .json::<zato_api::lb::LbStats>()
                .await
                .map_err(|e| format!("its statistics do not read: {e}")),
            Ok(answer) => Err(format!("it answered {}", answer.status())),
            Err(e) => Err(format!("it does not answer: {}", chain(&e))),
        };
        Some((url, stats))
    }

    /// Runs `call` against the first of `cluster`'s URLs that answers (the one that
    /// answered last time first). A URL is given up for the next one when nothing could
    /// connect to it, or, when `idempotent`, when its answer did not come.
    pub async fn call<T, F, Fut>(
        &self,
        cluster: &ClusterConfig,
        idempotent: bool,
        call: F,
    ) -> Result<T, ClusterError>
    where
        F: Fn(AdminClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let access = self.access(cluster).await?;
        let http = self.http(&cluster.name, &access)?;
        let mut urls = access.urls.clone();
        if let Some(good) = self.last_good.lock().unwrap().get(&cluster.name)
            && let Some(at) = urls.iter().position(|u| u == good)
        {
            let good = urls.remove(at);
            urls.insert(0, good);
        }
        let mut tried = Vec::new();
        for url in urls {
            let client = AdminClient::with_client(
                http.clone(),
                url.clone(),
                &access.username,
                &access.password,
            );
            match call(client).await {
                Err(ClientError::Unreachable { refused, error, .. }) if refused || idempotent => {
                    tried.push((url, chain(&error)));
                }
                Err(error) => {
                    return Err(ClusterError::Api {
                        cluster: cluster.name.clone(),
                        error,
                    });
                }
                Ok(answer) => {
                    self.last_good
                        .lock()
                        .unwrap()
                        .insert(cluster.name.clone(), url);
                    return Ok(answer);
                }
            }
        }
        Err(ClusterError::Down {
            cluster: cluster.name.clone(),
            tried,
        })
    }
}

/// How every cluster is reached: a deploy compiles the component on the server, so it
/// gets time.
fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(300))
}

/// An error and its sources, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}
