//! `web-admin.toml`: where the web admin listens, the key that signs its cookies, the
//! clusters it manages and its own users.
//!
//! ```toml
//! listen = "127.0.0.1:8183"
//! secret_key = "<64 hex characters>"
//! max_upload_bytes = 67108864
//! session_ttl_s = 28800
//!
//! [login]
//! max_failures = 5
//! window_s = 60
//!
//! [[clusters]]            # a remote cluster's admin API
//! name = "production"
//! url = "http://10.0.0.5:17010"
//! username = "admin"
//! password = "..."
//!
//! [[clusters]]            # a zato environment directory, relative to this file
//! name = "local"
//! environment = "../env"
//!
//! [[users]]
//! name = "ada"
//! password_hash = "$argon2id$v=19$..."
//! ```

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Argon2, PasswordHash};
use serde::{Deserialize, Serialize};

/// Zato's web admin port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8183";
/// The largest component an upload may carry unless configured: 64 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 << 20;
/// How long a session lasts unless configured: 8 hours.
pub const DEFAULT_SESSION_TTL_S: u64 = 8 * 3600;
/// Failed logins an address may make in a window before it is refused.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// The window of [`DEFAULT_MAX_FAILURES`], in seconds.
pub const DEFAULT_WINDOW_S: u64 = 60;

/// The web admin's whole configuration, as `web-admin.toml` holds it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebAdminConfig {
    /// The address the web admin listens on (`127.0.0.1:8183` unless given).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// 64 hex characters (32 bytes): the key that signs the web admin's cookies. A new
    /// key logs everybody out.
    pub secret_key: String,
    /// The largest component an upload may carry, in bytes.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// How long a session lasts after its login, in seconds.
    #[serde(default = "default_session_ttl_s")]
    pub session_ttl_s: u64,
    /// How failed logins are limited.
    #[serde(default)]
    pub login: LoginLimits,
    /// The clusters this web admin manages, in the order its picker shows them.
    #[serde(default)]
    pub clusters: Vec<ClusterConfig>,
    /// The web admin's own users (besides each cluster's admin credentials).
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// TLS on the listener: the browser speaks HTTPS to the web admin. Plain HTTP, for
    /// development, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
}

/// The listener's certificate, read again without a restart when its files change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// PEM file of the certificate (and any intermediates), relative to this file.
    pub cert: PathBuf,
    /// PEM file of its private key, relative to this file.
    pub key: PathBuf,
}

impl std::fmt::Debug for WebAdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key nor a password: a configuration ends up in logs.
        f.debug_struct("WebAdminConfig")
            .field("listen", &self.listen)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("session_ttl_s", &self.session_ttl_s)
            .field("login", &self.login)
            .field("clusters", &self.clusters)
            .field("users", &self.users.len())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Failed logins per client address: past `max_failures` in a window of `window_s`
/// seconds, the address's logins are refused with 429 until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginLimits {
    /// Failed logins allowed in a window.
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    /// The window's length, in seconds.
    #[serde(default = "default_window_s")]
    pub window_s: u64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            max_failures: DEFAULT_MAX_FAILURES,
            window_s: DEFAULT_WINDOW_S,
        }
    }
}

/// One cluster: either a remote admin API (`url`, `username`, `password`) or a zato
/// environment directory (`environment`) whose addresses and credentials are read when
/// they are needed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's name in the web admin (its picker, its pages).
    pub name: String,
    /// The admin API's base URL, e.g. `http://10.0.0.5:17010`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The admin API's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The admin API's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A zato environment directory, relative to the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<PathBuf>,
    /// A remote cluster's load balancer (`http://HOST:PORT`), whose statistics the
    /// dashboard shows (an environment's is found in its files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb_url: Option<String>,
    /// A remote cluster's CA: a PEM file, relative to the configuration file, that
    /// alone signs its HTTPS certificates (an environment's is found in its files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

/// Where a cluster's admin API is, as [`ClusterConfig::source`] reads it.
#[derive(Debug, Clone, Copy)]
pub enum ClusterSource<'a> {
    /// A remote admin API with its credentials.
    Remote {
        /// The admin API's base URL.
        url: &'a str,
        /// Its user.
        username: &'a str,
        /// Its password.
        password: &'a str,
    },
    /// A zato environment directory, as written (relative to the configuration file).
    Environment(&'a Path),
}

impl ClusterConfig {
    /// A remote cluster.
    pub fn remote(name: &str, url: &str, username: &str, password: &str) -> Self {
        Self {
            name: name.into(),
            url: Some(url.into()),
            username: Some(username.into()),
            password: Some(password.into()),
            environment: None,
            lb_url: None,
            ca: None,
        }
    }

    /// A cluster of a zato environment directory.
    pub fn environment(name: &str, dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            url: None,
            username: None,
            password: None,
            environment: Some(dir.into()),
            lb_url: None,
            ca: None,
        }
    }

    /// Where its admin API is, or why the entry is neither kind.
    pub fn source(&self) -> anyhow::Result<ClusterSource<'_>> {
        match (&self.url, &self.username, &self.password, &self.environment) {
            (Some(url), Some(username), Some(password), None) => Ok(ClusterSource::Remote {
                url,
                username,
                password,
            }),
            (None, None, None, Some(dir)) => Ok(ClusterSource::Environment(dir)),
            (_, _, _, Some(_)) => bail!(
                "cluster `{}`: `environment` goes alone, without `url`, `username` or `password`",
                self.name
            ),
            _ => bail!(
                "cluster `{}` needs either `url`, `username` and `password`, or `environment`",
                self.name
            ),
        }
    }
}

/// A user of the web admin itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The user's login name.
    pub name: String,
    /// The argon2id hash of the user's password, a PHC string ([`hash_password`]).
    pub password_hash: String,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().expect("the default address parses")
}
fn default_max_upload_bytes() -> u64 {
    DEFAULT_MAX_UPLOAD_BYTES
}
fn default_session_ttl_s() -> u64 {
    DEFAULT_SESSION_TTL_S
}
fn default_max_failures() -> u32 {
    DEFAULT_MAX_FAILURES
}
fn default_window_s() -> u64 {
    DEFAULT_WINDOW_S
}

impl Default for WebAdminConfig {
    /// The defaults with a fresh random secret key, no cluster and no user.
    fn default() -> Self {
        Self {
            listen: default_listen(),
            secret_key: new_secret_key(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            session_ttl_s: DEFAULT_SESSION_TTL_S,
            login: LoginLimits::default(),
            clusters: Vec::new(),
            users: Vec::new(),
            tls: None,
        }
    }
}

impl WebAdminConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let config: Self =
            toml::from_str(&text).with_context(|| format!("invalid `{}`", path.display()))?;
        config
            .check()
            .with_context(|| format!("invalid `{}`", path.display()))?;
        Ok(config)
    }

    /// Writes the configuration to `path` atomically (a temporary file beside it, mode
    /// 0600 since it holds passwords, renamed over it).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.check()?;
        let text = toml::to_string_pretty(self).context("cannot serialise the configuration")?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .with_context(|| format!("`{}` is not a file path", path.display()))?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            file_name.to_string_lossy(),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&temp);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            anyhow::anyhow!("cannot write `{}`: {e}", path.display())
        })
    }

    /// The checks serde cannot make: the key's form, unique names, each cluster of one
    /// kind, each hash a PHC string.
    pub fn check(&self) -> anyhow::Result<()> {
        secret_key_bytes(&self.secret_key)?;
        if self.max_upload_bytes == 0 {
            bail!("`max_upload_bytes` must be above 0");
        }
        if self.session_ttl_s == 0 {
            bail!("`session_ttl_s` must be above 0");
        }
        if self.login.max_failures == 0 || self.login.window_s == 0 {
            bail!("`[login]` `max_failures` and `window_s` must be above 0");
        }
        let mut names = HashSet::new();
        for cluster in &self.clusters {
            if cluster.name.trim().is_empty() {
                bail!("a cluster needs a name");
            }
            if !names.insert(cluster.name.as_str()) {
                bail!("two clusters are named `{}`", cluster.name);
            }
            cluster.source()?;
        }
        let mut names = HashSet::new();
        for user in &self.users {
            if user.name.trim().is_empty() {
                bail!("a user needs a name");
            }
            if !names.insert(user.name.as_str()) {
                bail!("two users are named `{}`", user.name);
            }
            PasswordHash::new(&user.password_hash).map_err(|e| {
                anyhow::anyhow!(
                    "user `{}`: `password_hash` is not a PHC string: {e}",
                    user.name
                )
            })?;
        }
        Ok(())
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&ClusterConfig> {
        self.clusters.iter().find(|c| c.name == name)
    }
}

/// The 32 bytes of a secret key written as 64 hex characters.
pub(crate) fn secret_key_bytes(key: &str) -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(key.trim(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("`secret_key` must be 64 hex characters (32 bytes)"))?;
    Ok(bytes)
}

/// A fresh random secret key: 64 hex characters.
pub fn new_secret_key() -> String {
    hex::encode(crate::auth::random_bytes::<32>())
}

/// The argon2id hash of `password` as a PHC string, for [`UserConfig::password_hash`].
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with defaults")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WebAdminConfig {
        WebAdminConfig {
            clusters: vec![
                ClusterConfig::remote("prod", "http://10.0.0.5:17010", "admin", "s3cret"),
                ClusterConfig::environment("local", "../env"),
            ],
            users: vec![UserConfig {
                name: "ada".into(),
                password_hash: hash_password("pw"),
            }],
            ..WebAdminConfig::default()
        }
    }

    #[test]
    fn a_saved_configuration_loads_back_the_same_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-admin.toml");
        let config = sample();
        config.save(&path).unwrap();
        let loaded = WebAdminConfig::load(&path).unwrap();
        assert_eq!(loaded.secret_key, config.secret_key);
        assert_eq!(loaded.clusters, config.clusters);
        assert_eq!(loaded.users, config.users);
        assert_eq!(loaded.listen.to_string(), DEFAULT_LISTEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Saved again over itself, nothing is left beside it.
        loaded.save(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("web-admin.toml")]);
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let key = "ab".repeat(32);
        let config: WebAdminConfig = toml::from_str(&format!("secret_key = \"{key}\"")).unwrap();
        config.check().unwrap();
        assert_eq!(config.listen.port(), 8183);
        assert_eq!(config.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert_eq!(config.login, LoginLimits::default());
    }

    fn refusal(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-admin.toml");
        std::fs::write(&path, text).unwrap();
        format!("{:#}", WebAdminConfig::load(&path).unwrap_err())
    }

    #[test]
    fn a_bad_file_is_refused_with_what_is_wrong() {
        let key = format!("secret_key = \"{}\"\n", "ab".repeat(32));
        assert!(refusal("secret_key = \"abc\"").contains("64 hex characters"));
        assert!(refusal(&format!("{key}colour = 1")).contains("unknown field `colour`"));
        let both = format!(
            "{key}[[clusters]]\nname = \"a\"\nurl = \"http://x\"\nusername = \"u\"\n\
             password = \"p\"\nenvironment = \"env\""
        );
        assert!(
            refusal(&both).contains("`environment` goes alone"),
            "{}",
            refusal(&both)
        );
        let half = format!("{key}[[clusters]]\nname = \"a\"\nurl = \"http://x\"");
        assert!(refusal(&half).contains("needs either"));
        let twice = format!(
            "{key}[[clusters]]\nname = \"a\"\nenvironment = \"x\"\n\
             [[clusters]]\nname = \"a\"\nenvironment = \"y\""
        );
        assert!(refusal(&twice).contains("two clusters are named `a`"));
        let hash = format!("{key}[[users]]\nname = \"a\"\npassword_hash = \"plain\"");
        assert!(refusal(&hash).contains("not a PHC string"));
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let config = sample();
        let text = format!("{config:?}");
        assert!(!text.contains(&config.secret_key));
        assert!(!text.contains("s3cret"));
        assert!(!text.contains("argon2"));
    }
}
