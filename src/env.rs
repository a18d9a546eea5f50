//! Environments: a directory made by `zato quickstart create` holding one or more
//! servers' configuration, the shared pickup directory and the admin credentials.
//!
//! ```text
//! DIR/zato.toml             the environment: cluster name and its servers
//! DIR/credentials.toml      admin credentials for the CLI (mode 0600)
//! DIR/pickup/               hot-deploy directory shared by the servers
//! DIR/data/odb.sqlite       the ODB (SQLite by default)
//! DIR/server1/server.toml   one server's configuration (see zato_host::config)
//! DIR/server1/address       where it listens, while it runs, when it binds port 0
//! DIR/lb/lb.toml            the load balancer in front of the servers (see zato_lb::config)
//! DIR/lb/address            where it listens, while it runs, when it binds port 0
//! DIR/web-admin/web-admin.toml  the web admin (see zato_admin::WebAdminConfig; mode 0600)
//! DIR/web-admin/address     where it listens, while it runs, when it binds port 0
//! DIR/ca/ca.pem             with --tls: the environment's CA, which clients trust
//! DIR/ca/ca-key.pem         with --tls: its key (mode 0600), which signs certificates
//! DIR/*/tls/{cert,key}.pem  with --tls: each server's, the load balancer's and the web
//!                           admin's certificate and key
//! ```

use std::path::{Path, PathBuf};

use crate::ca::{self, Ca, Usage};
use crate::embedded::{
    AdminConfig, DeploySettings, HttpSettings, ServerConfig, TlsSettings, hash_password,
};
use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

pub const ENV_FILE: &str = "zato.toml";
pub const SERVER_FILE: &str = "server.toml";
pub const CREDENTIALS_FILE: &str = "credentials.toml";
/// Written in a server's directory once it listens, when its configuration lets the
/// system pick the port (`--base-port 0`): the only place the port is known.
pub const ADDRESS_FILE: &str = "address";
/// Where `zato start` without a directory keeps its development environment.
pub const DEV_ENV_DIR: &str = ".zato";
/// The load balancer's directory in an environment.
pub const LB_DIR: &str = "lb";
/// The load balancer's port when `zato quickstart create` is given none (Zato's).
pub const DEFAULT_LB_PORT: u16 = 11223;
/// The web admin's directory in an environment.
pub const WEB_ADMIN_DIR: &str = "web-admin";
/// The web admin's configuration file in its directory.
pub const WEB_ADMIN_FILE: &str = "web-admin.toml";
/// The web admin's port when `zato quickstart create` is given none (Zato's).
pub const DEFAULT_WEB_ADMIN_PORT: u16 = 8183;
/// The CA's directory in an environment made with `--tls`.
pub const CA_DIR: &str = "ca";
/// A listener's certificate and key directory, in its own directory.
pub const TLS_DIR: &str = "tls";

/// `DIR/zato.toml`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    /// Name of the cluster the servers form.
    pub cluster: String,
    /// Port of the first server; the next ones take the following ports.
    pub base_port: u16,
    /// Server directories, relative to the environment.
    pub servers: Vec<String>,
    /// The load balancer's directory, relative to the environment, when it has one
    /// (absent in environments made with `--no-lb` or before zato had a load balancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb: Option<String>,
    /// The web admin's directory, relative to the environment, when it has one (absent
    /// in environments made with `--no-web-admin` or before zato had a web admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_admin: Option<String>,
    /// The CA that signs every listener's certificate, relative to the environment,
    /// when it speaks TLS (made with `--tls`): the CLI trusts it alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

/// `DIR/credentials.toml`: what the CLI needs to talk to the admin API.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// What `zato quickstart create` makes.
pub struct NewEnv<'a> {
    pub dir: &'a Path,
    pub base_port: u16,
    pub cluster: &'a str,
    /// Pickup directory relative to each server's directory; `../pickup` by default.
    pub pickup_dir: Option<&'a str>,
    /// How many servers the cluster has.
    pub servers: u16,
    /// ODB URL; an SQLite file in the environment when absent.
    pub odb: Option<&'a str>,
    /// Redis URL of the KVDB and broker; the in-memory one (a single server) when absent.
    pub redis: Option<&'a str>,
    /// Give each new service an HTTP channel by itself (the development environment).
    pub auto_http_channels: bool,
    /// The port of a load balancer in front of the servers (0: the system picks); no
    /// load balancer when absent.
    pub lb_port: Option<u16>,
    /// The port of the web admin (0: the system picks); none when absent.
    pub web_admin_port: Option<u16>,
    /// TLS everywhere, with a CA of the environment's own; the hosts each certificate
    /// names besides localhost, 127.0.0.1 and ::1.
    pub tls: Option<Vec<String>>,
}

/// The admin password, generated once and shown once.
pub struct Created {
    pub username: String,
    pub password: String,
}

pub fn create(new: &NewEnv<'_>) -> anyhow::Result<Created> {
    let dir = new.dir;
    if dir.join(ENV_FILE).exists() {
        bail!(
            "`{}` already holds an environment ({ENV_FILE} exists)",
            dir.display()
        );
    }
    if dir.exists() && dir.read_dir()?.next().is_some() {
        bail!(
            "`{}` exists and is not empty: choose a new directory",
            dir.display()
        );
    }
    if new.servers == 0 {
        bail!("an environment needs at least one server");
    }
    if new.servers > 1 && new.redis.is_none() {
        bail!(
            "a cluster of {} servers needs a shared Redis for its broker and locks: \
             pass --redis redis://127.0.0.1:6379",
            new.servers
        );
    }
    let last_port = u32::from(new.base_port) + u32::from(new.servers) - 1;
    if last_port > u32::from(u16::MAX) {
        bail!(
            "ports {}..={last_port} do not fit: choose a lower --base-port",
            new.base_port
        );
    }
    if let Some(lb_port) = new.lb_port
        && lb_port != 0
        && (u32::from(new.base_port)..=last_port).contains(&u32::from(lb_port))
    {
        bail!(
            "the load balancer's port {lb_port} is one of the servers' ({}..={last_port}): \
             choose another --lb-port",
            new.base_port
        );
    }
    if let Some(port) = new.web_admin_port
        && port != 0
    {
        if (u32::from(new.base_port)..=last_port).contains(&u32::from(port)) {
            bail!(
                "the web admin's port {port} is one of the servers' ({}..={last_port}): \
                 choose another --web-admin-port",
                new.base_port
            );
        }
        if new.lb_port == Some(port) {
            bail!(
                "the web admin's port {port} is the load balancer's: choose another --web-admin-port"
            );
        }
    }
    let names: Vec<String> = (1..=new.servers).map(|i| format!("server{i}")).collect();
    let lb = new
        .lb_port
        .map(|port| lb_config(new, port, &names))
        .transpose()?;
    for d in [dir.to_path_buf(), dir.join("pickup"), dir.join("data")] {
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create `{}`", d.display()))?;
    }
    let username = "admin".to_string();
    let password = uuid::Uuid::new_v4().simple().to_string();
    let password_hash = hash_password(&password);
    let env = EnvFile {
        cluster: new.cluster.into(),
        base_port: new.base_port,
        servers: names.clone(),
        lb: lb.as_ref().map(|_| LB_DIR.to_owned()),
        web_admin: new.web_admin_port.map(|_| WEB_ADMIN_DIR.to_owned()),
        ca: new
            .tls
            .as_ref()
            .map(|_| format!("{CA_DIR}/{}", ca::CA_CERT)),
    };
    // The CA first: every listener's certificate is signed as its directory is made.
    let authority = match &new.tls {
        Some(_) => Some(Ca::create(
            &dir.join(CA_DIR),
            &format!("zato CA of {}", new.cluster),
        )?),
        None => None,
    };
    let hosts: Vec<String> = ca::LOCAL_HOSTS
        .iter()
        .map(|h| h.to_string())
        .chain(new.tls.iter().flatten().cloned())
        .collect();
    let sign = |component_dir: &Path, name: &str| -> anyhow::Result<()> {
        if let Some(authority) = &authority {
            authority.issue(&component_dir.join(TLS_DIR), name, &hosts, Usage::Server)?;
        }
        Ok(())
    };
    let tls_files = || TlsSettings {
        cert: PathBuf::from(format!("{TLS_DIR}/{}", ca::CERT)),
        key: PathBuf::from(format!("{TLS_DIR}/{}", ca::KEY)),
    };
    write(
        &dir.join(ENV_FILE),
        &format!(
            "# A zato environment: its servers are in the directories listed below.\n{}",
            toml::to_string(&env)?
        ),
    )?;
    for (i, name) in names.iter().enumerate() {
        let server_dir = dir.join(name);
        std::fs::create_dir_all(&server_dir)
            .with_context(|| format!("cannot create `{}`", server_dir.display()))?;
        let server = ServerConfig {
            name: name.clone(),
            cluster: new.cluster.into(),
            bind: format!("127.0.0.1:{}", server_port(new.base_port, i as u16)),
            pickup_dir: Some(PathBuf::from(new.pickup_dir.unwrap_or("../pickup"))),
            data_dir: PathBuf::from("data"),
            odb: new.odb.unwrap_or("sqlite://../data/odb.sqlite").into(),
            kvdb: new.redis.unwrap_or("memory").into(),
            admin: AdminConfig {
                username: username.clone(),
                password_hash: password_hash.clone(),
                login: Default::default(),
            },
            runtime: Default::default(),
            // Behind the environment's load balancer (on this host), the client's
            // address is the one it forwards (rate limits and allow lists count by it).
            http: HttpSettings {
                trusted_proxies: if lb.is_some() {
                    vec![
                        "127.0.0.1/32".parse().expect("a network"),
                        "::1/128".parse().expect("a network"),
                    ]
                } else {
                    Vec::new()
                },
                ..Default::default()
            },
            deploy: DeploySettings {
                auto_http_channels: new.auto_http_channels,
                ..Default::default()
            },
            membership: Default::default(),
            scheduler: Default::default(),
            async_invoke: Default::default(),
            stats: Default::default(),
            telemetry: Default::default(),
            tls: new.tls.as_ref().map(|_| tls_files()),
        };
        sign(&server_dir, name)?;
        write(
            &server_dir.join(SERVER_FILE),
            &format!(
                "# Server configuration; every field is documented in zato_host::config::ServerConfig.\n{}",
                toml::to_string(&server)?
            ),
        )?;
    }
    if let Some(lb) = lb {
        let lb_dir = dir.join(LB_DIR);
        std::fs::create_dir_all(&lb_dir)
            .with_context(|| format!("cannot create `{}`", lb_dir.display()))?;
        sign(&lb_dir, "load balancer")?;
        write(
            &lb_dir.join(zato_lb::CONFIG_FILE),
            &format!(
                "# The load balancer in front of the servers; every field is documented in \
                 zato_lb::config::LbConfig.\n{}",
                lb.to_toml()
            ),
        )?;
    }
    if let Some(port) = new.web_admin_port {
        let web_admin_dir = dir.join(WEB_ADMIN_DIR);
        std::fs::create_dir_all(&web_admin_dir)
            .with_context(|| format!("cannot create `{}`", web_admin_dir.display()))?;
        let path = web_admin_dir.join(WEB_ADMIN_FILE);
        let mut config = web_admin_config(port, new.cluster)?;
        if new.tls.is_some() {
            sign(&web_admin_dir, "web admin")?;
            let files = tls_files();
            config.tls = Some(zato_admin::ListenerTls {
                cert: files.cert,
                key: files.key,
            });
        }
        config.save(&path)?;
    }
    let credentials = Credentials {
        username: username.clone(),
        password: password.clone(),
    };
    let path = dir.join(CREDENTIALS_FILE);
    write(&path, &toml::to_string(&credentials)?)?;
    restrict(&path)?;
    Ok(Created { username, password })
}

/// The load balancer of a new environment: round-robin over its servers, found through
/// their admin API (or, on ports the system picks, the address files they write), with
/// the environment's admin credentials.
fn lb_config(new: &NewEnv<'_>, port: u16, servers: &[String]) -> anyhow::Result<zato_lb::LbConfig> {
    let mut cluster = toml::Table::new();
    cluster.insert(
        "credentials".into(),
        format!("../{CREDENTIALS_FILE}").into(),
    );
    if new.base_port == 0 {
        let files: Vec<toml::Value> = servers
            .iter()
            .map(|s| format!("../{s}/{ADDRESS_FILE}").into())
            .collect();
        cluster.insert("address_files".into(), files.into());
    } else {
        let scheme = if new.tls.is_some() { "https" } else { "http" };
        let urls: Vec<toml::Value> = (0..servers.len())
            .map(|i| {
                format!(
                    "{scheme}://127.0.0.1:{}",
                    server_port(new.base_port, i as u16)
                )
                .into()
            })
            .collect();
        cluster.insert("admin_urls".into(), urls.into());
    }
    let mut table = toml::Table::new();
    table.insert("bind".into(), format!("127.0.0.1:{port}").into());
    table.insert(
        "algorithm".into(),
        zato_lb::Algorithm::RoundRobin.name().into(),
    );
    table.insert("cluster".into(), cluster.into());
    if new.tls.is_some() {
        let mut tls = toml::Table::new();
        tls.insert("cert".into(), format!("{TLS_DIR}/{}", ca::CERT).into());
        tls.insert("key".into(), format!("{TLS_DIR}/{}", ca::KEY).into());
        table.insert("tls".into(), tls.into());
        let mut backend_tls = toml::Table::new();
        backend_tls.insert("ca".into(), format!("../{CA_DIR}/{}", ca::CA_CERT).into());
        table.insert("backend_tls".into(), backend_tls.into());
    }
    // From a table rather than a struct literal: every other setting takes its default.
    let config: zato_lb::LbConfig = toml::Value::Table(table)
        .try_into()
        .context("the load balancer's configuration")?;
    config.check()?;
    Ok(config)
}

/// The web admin of a new environment: on `port`, for the environment's own cluster
/// (found through its files at each use, since servers may bind ports the system
/// picks), whose admin credentials log in; no users of its own yet.
fn web_admin_config(port: u16, cluster: &str) -> anyhow::Result<zato_admin::WebAdminConfig> {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\nsecret_key = \"{}\"\n\n[[clusters]]\nname = {}\nenvironment = \"..\"\n",
        zato_admin::new_secret_key(),
        toml::Value::from(cluster)
    );
    toml::from_str(&text).context("the web admin's configuration")
}

/// How the web admin reaches the cluster of the environment in `dir`: its servers'
/// admin APIs (those whose address is known: a server on port 0 only while it runs),
/// then its load balancer's, with the environment's admin credentials. No URL at all
/// when none is known: every server binds port 0 and none runs.
pub fn cluster_access(dir: &Path) -> anyhow::Result<zato_admin::ClusterAccess> {
    let credentials = read_credentials(dir)?;
    let mut urls: Vec<String> = servers(dir)?.into_iter().filter_map(|s| s.url).collect();
    let lb = lb_dir(dir)?.and_then(|lb| lb_url(&lb).ok());
    urls.extend(lb.clone());
    // None known (servers on port 0, all stopped): the credentials still log a person
    // in, and the web admin says the cluster is down.
    let ca_pem = match ca_file(dir)? {
        Some(ca) => Some(
            std::fs::read(&ca).with_context(|| format!("cannot read the CA `{}`", ca.display()))?,
        ),
        None => None,
    };
    Ok(zato_admin::ClusterAccess {
        urls,
        username: credentials.username,
        password: credentials.password,
        lb_url: lb,
        ca_pem,
    })
}

/// The web admin's directory that `dir` names: `dir` itself when it holds a
/// `web-admin.toml`, the environment's when `dir` is an environment that has one.
pub fn web_admin_dir(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if dir.join(WEB_ADMIN_FILE).exists() {
        return Ok(Some(dir.to_path_buf()));
    }
    if !dir.join(ENV_FILE).exists() {
        return Ok(None);
    }
    Ok(read_env(dir)?.web_admin.map(|w| dir.join(w)))
}

/// The URL of the web admin in `web_admin_dir`: its configured address, or, when it
/// binds port 0, the one it writes to its address file while it runs.
pub fn web_admin_url(web_admin_dir: &Path) -> anyhow::Result<String> {
    let config = zato_admin::WebAdminConfig::load(&web_admin_dir.join(WEB_ADMIN_FILE))?;
    let listen = config.listen.to_string();
    let scheme = scheme(config.tls.is_some());
    if !binds_port_zero(&listen) {
        return Ok(format!("{scheme}://{}", connectable(&listen)));
    }
    let path = web_admin_dir.join(ADDRESS_FILE);
    let address = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "the web admin is not running: there is no `{}`, where it writes its address \
             while it runs (its web-admin.toml listens on port 0)",
            path.display()
        )
    })?;
    Ok(format!("{scheme}://{}", address.trim()))
}

/// The port of server `i` (0-based): the ones after `base`, or 0 for every server when
/// `base` is 0 (each then binds a port the system picks).
pub fn server_port(base: u16, i: u16) -> u32 {
    if base == 0 {
        0
    } else {
        u32::from(base) + u32::from(i)
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict `{}`", path.display()))
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// Refuses a directory that is neither an environment nor a server's directory,
/// saying which it is not.
pub fn check_env(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        anyhow::bail!(
            "there is no environment at `{}`: the directory does not exist (create one with \
             `zato quickstart create {}`)",
            dir.display(),
            dir.display()
        );
    }
    if !dir.join(ENV_FILE).exists() && !dir.join(SERVER_FILE).exists() {
        anyhow::bail!(
            "there is no environment at `{}`: it has no {ENV_FILE} (create one with \
             `zato quickstart create DIR`; the development server's is {DEV_ENV_DIR} in the \
             directory where `zato start` runs)",
            dir.display()
        );
    }
    Ok(())
}

/// One server of an environment, as its files describe it.
pub struct EnvServer {
    pub name: String,
    /// Its admin API's URL, unless it binds port 0 and is not running (then only the
    /// running server knows its port).
    pub url: Option<String>,
}

/// The servers of an environment (or the one server `dir` is), from their files.
pub fn servers(dir: &Path) -> anyhow::Result<Vec<EnvServer>> {
    server_configs(dir)?
        .into_iter()
        .map(|path| {
            let config = ServerConfig::load(&path)?;
            let scheme = scheme(config.tls.is_some());
            let url = if binds_port_zero(&config.bind) {
                std::fs::read_to_string(path.with_file_name(ADDRESS_FILE))
                    .ok()
                    .map(|a| format!("{scheme}://{}", a.trim()))
            } else {
                Some(format!("{scheme}://{}", config.bind))
            };
            Ok(EnvServer {
                name: config.name,
                url,
            })
        })
        .collect()
}

pub fn read_env(dir: &Path) -> anyhow::Result<EnvFile> {
    let path = dir.join(ENV_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("`{}` is not an environment (no {ENV_FILE}); create one with `zato quickstart create {}`", dir.display(), dir.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid `{}`", path.display()))
}

pub fn read_credentials(dir: &Path) -> anyhow::Result<Credentials> {
    read_credentials_file(&dir.join(CREDENTIALS_FILE))
}

/// A `credentials.toml` wherever it is (a load balancer's configuration names one).
pub fn read_credentials_file(path: &Path) -> anyhow::Result<Credentials> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read admin credentials `{}`", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid `{}`", path.display()))
}

/// The configuration files of an environment's servers, or of the one server `dir` is.
pub fn server_configs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.join(SERVER_FILE).exists() {
        return Ok(vec![dir.join(SERVER_FILE)]);
    }
    let env = read_env(dir)?;
    Ok(env
        .servers
        .iter()
        .map(|s| dir.join(s).join(SERVER_FILE))
        .collect())
}

/// The admin API URL of an environment: that of its first server that answers, tried
/// in order (a server that is down, or stopped and not answering within a second, is
/// passed over), or the first one's when none answers (the request then says why).
pub fn admin_url(dir: &Path) -> anyhow::Result<String> {
    let configs = server_configs(dir)?;
    anyhow::ensure!(!configs.is_empty(), "the environment has no servers");
    let urls: Vec<anyhow::Result<String>> = configs.iter().map(|c| server_url(c)).collect();
    if urls.len() > 1
        && let Some(url) = urls.iter().flatten().find(|url| answers_ping(url))
    {
        return Ok(url.clone());
    }
    urls.into_iter().next().expect("at least one server")
}

/// The admin API URL of the server whose configuration is `config`.
fn server_url(config: &Path) -> anyhow::Result<String> {
    let server = ServerConfig::load(config)?;
    let scheme = scheme(server.tls.is_some());
    if !binds_port_zero(&server.bind) {
        return Ok(format!("{scheme}://{}", server.bind));
    }
    let path = config.with_file_name(ADDRESS_FILE);
    let address = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read `{}`, where the server of `{}` (port 0) writes its address while it runs",
            path.display(),
            config.display()
        )
    })?;
    Ok(format!("{scheme}://{}", address.trim()))
}

/// Whether an HTTP server answers `GET /zato/ping` at `url` within a second (any
/// status: a starting server answers 503 and can take admin requests). Over HTTPS, a
/// connection accepted within the second counts as an answer.
fn answers_ping(url: &str) -> bool {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);
    let (authority, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(authority), _) => (authority, false),
        (_, Some(authority)) => (authority, true),
        _ => return false,
    };
    let Some(addr) = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
    else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PATIENCE) else {
        return false;
    };
    if tls {
        return true;
    }
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let _ = stream.set_write_timeout(Some(PATIENCE));
    let request =
        format!("GET /zato/ping HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

/// The load balancer's directory that `dir` names: `dir` itself when it holds an
/// `lb.toml`, the environment's when `dir` is an environment that has one, else none.
pub fn lb_dir(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if dir.join(zato_lb::CONFIG_FILE).exists() {
        return Ok(Some(dir.to_path_buf()));
    }
    if !dir.join(ENV_FILE).exists() {
        return Ok(None);
    }
    Ok(read_env(dir)?.lb.map(|lb| dir.join(lb)))
}

/// The URL of the load balancer in `lb_dir`: its configured address, or, when it binds
/// port 0, the one it writes to its address file while it runs (so this fails when it
/// is down).
pub fn lb_url(lb_dir: &Path) -> anyhow::Result<String> {
    let config = zato_lb::LbConfig::load(&lb_dir.join(zato_lb::CONFIG_FILE))?;
    let scheme = scheme(config.tls.is_some());
    if !binds_port_zero(&config.bind) {
        return Ok(format!("{scheme}://{}", connectable(&config.bind)));
    }
    let path = lb_dir.join(zato_lb::ADDRESS_FILE);
    let address = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "the load balancer is not running: there is no `{}`, where it writes its address \
             while it runs (its lb.toml binds port 0)",
            path.display()
        )
    })?;
    Ok(format!("{scheme}://{}", address.trim()))
}

fn scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

/// The CA that signs the certificates of the environment `dir` names (an environment,
/// or one of its servers', its load balancer's or its web admin's directories), when
/// it was made with `--tls`.
pub fn ca_file(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let env_dir = if dir.join(ENV_FILE).exists() {
        dir.to_path_buf()
    } else {
        match dir.parent() {
            Some(parent) if parent.join(ENV_FILE).exists() => parent.to_path_buf(),
            _ => return Ok(None),
        }
    };
    Ok(read_env(&env_dir)?.ca.map(|ca| env_dir.join(ca)))
}

/// An HTTP client of the environment that `dir` names (or one of its components'
/// directories): trusting its CA alone when it has one.
pub fn http_client(dir: &Path, builder: reqwest::ClientBuilder) -> anyhow::Result<reqwest::Client> {
    let ca = match ca_file(dir)? {
        Some(ca) => Some(
            std::fs::read(&ca).with_context(|| format!("cannot read the CA `{}`", ca.display()))?,
        ),
        None => None,
    };
    zato_api::tls::http_client(builder, ca.as_deref()).map_err(anyhow::Error::msg)
}

/// An address to connect to for one to listen on: the loopback for a wildcard host.
fn connectable(bind: &str) -> String {
    match bind.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => bind.to_owned(),
    }
}

/// Whether a bind address (`HOST:PORT`) lets the system pick the port.
pub fn binds_port_zero(bind: &str) -> bool {
    bind.rsplit_once(':').is_some_and(|(_, port)| port == "0")
}

/// Writes `addr` to the [`ADDRESS_FILE`] next to `config` (by a rename, so that a reader
/// never sees half of it); returns the file's path, for removing it on a clean stop.
pub fn write_address(config: &Path, addr: std::net::SocketAddr) -> anyhow::Result<PathBuf> {
    let path = config.with_file_name(ADDRESS_FILE);
    let partial = config.with_file_name(format!(".{ADDRESS_FILE}.part"));
    write(&partial, &format!("{addr}\n"))?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_every_server_s_and_only_a_zero_port_counts() {
        assert_eq!(
            (server_port(17010, 0), server_port(17010, 2)),
            (17010, 17012)
        );
        assert_eq!((server_port(0, 0), server_port(0, 2)), (0, 0));
        assert!(binds_port_zero("127.0.0.1:0") && binds_port_zero("[::1]:0"));
        assert!(!binds_port_zero("127.0.0.1:17010") && !binds_port_zero("127.0.0.1:10"));
    }

    fn new_env(dir: &Path, base_port: u16, lb_port: Option<u16>) -> NewEnv<'_> {
        NewEnv {
            dir,
            base_port,
            cluster: "c",
            pickup_dir: None,
            servers: 2,
            odb: None,
            redis: Some("redis://127.0.0.1:6379"),
            auto_http_channels: false,
            lb_port,
            web_admin_port: lb_port,
            tls: None,
        }
    }

    #[test]
    fn a_new_environment_s_load_balancer_finds_its_servers_where_they_listen() {
        let names = ["server1".to_owned(), "server2".to_owned()];
        let dir = Path::new("env");
        let fixed = lb_config(&new_env(dir, 17010, Some(11223)), 11223, &names).unwrap();
        assert_eq!(fixed.bind, "127.0.0.1:11223");
        let cluster = fixed.cluster.unwrap();
        assert_eq!(
            cluster.admin_urls,
            ["http://127.0.0.1:17010", "http://127.0.0.1:17011"]
        );
        assert_eq!(cluster.credentials, Path::new("../credentials.toml"));
        let picked = lb_config(&new_env(dir, 0, Some(0)), 0, &names).unwrap();
        let cluster = picked.cluster.unwrap();
        assert!(cluster.admin_urls.is_empty());
        assert_eq!(
            cluster.address_files,
            [
                Path::new("../server1/address"),
                Path::new("../server2/address")
            ]
        );
        assert_eq!(connectable("0.0.0.0:11223"), "127.0.0.1:11223");
        assert_eq!(connectable("127.0.0.1:11223"), "127.0.0.1:11223");
    }

    #[test]
    fn the_load_balancer_s_port_is_not_a_server_s_and_old_environments_have_none() {
        let tmp = tempfile::tempdir().unwrap();
        let refused = create(&new_env(&tmp.path().join("a"), 17010, Some(17011)));
        let message = format!("{:#}", refused.err().unwrap());
        assert!(message.contains("--lb-port"), "{message}");
        assert!(!tmp.path().join("a").exists(), "nothing is written");
        let old: EnvFile =
            toml::from_str("cluster = \"zato\"\nbase_port = 17010\nservers = [\"server1\"]\n")
                .unwrap();
        assert_eq!(old.lb, None);
        create(&new_env(&tmp.path().join("b"), 0, Some(0))).unwrap();
        let env = tmp.path().join("b");
        assert_eq!(read_env(&env).unwrap().lb.as_deref(), Some(LB_DIR));
        assert_eq!(lb_dir(&env).unwrap(), Some(env.join(LB_DIR)));
        assert_eq!(lb_dir(&env.join(LB_DIR)).unwrap(), Some(env.join(LB_DIR)));
        zato_lb::LbConfig::load(&env.join(LB_DIR).join(zato_lb::CONFIG_FILE)).unwrap();
    }
}
