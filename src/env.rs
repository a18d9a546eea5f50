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
//! ```

use std::path::{Path, PathBuf};

use crate::embedded::{AdminConfig, DeploySettings, ServerConfig, hash_password};
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
    let names: Vec<String> = (1..=new.servers).map(|i| format!("server{i}")).collect();
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
            http: Default::default(),
            deploy: DeploySettings {
                auto_http_channels: new.auto_http_channels,
                ..Default::default()
            },
            membership: Default::default(),
        };
        write(
            &server_dir.join(SERVER_FILE),
            &format!(
                "# Server configuration; every field is documented in zato_host::config::ServerConfig.\n{}",
                toml::to_string(&server)?
            ),
        )?;
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
            let url = if binds_port_zero(&config.bind) {
                std::fs::read_to_string(path.with_file_name(ADDRESS_FILE))
                    .ok()
                    .map(|a| format!("http://{}", a.trim()))
            } else {
                Some(format!("http://{}", config.bind))
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
    let path = dir.join(CREDENTIALS_FILE);
    let text = std::fs::read_to_string(&path)
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

/// The admin API URL of an environment: its first server's address.
pub fn admin_url(dir: &Path) -> anyhow::Result<String> {
    let first = server_configs(dir)?
        .into_iter()
        .next()
        .context("the environment has no servers")?;
    let config = ServerConfig::load(&first)?;
    if !binds_port_zero(&config.bind) {
        return Ok(format!("http://{}", config.bind));
    }
    let path = first.with_file_name(ADDRESS_FILE);
    let address = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read `{}`, where the server of `{}` (port 0) writes its address while it runs",
            path.display(),
            first.display()
        )
    })?;
    Ok(format!("http://{}", address.trim()))
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
    use super::{binds_port_zero, server_port};

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
}
