//! `zato security ...`: security definitions (HTTP basic auth, API keys): create, list,
//! show, edit, change the password or key of, delete. Secrets are write-only: they are
//! sent once and kept by the servers as hashes.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zato_api::security::{DEFAULT_APIKEY_HEADER, DEFAULT_REALM};
use zato_api::{ApikeySettings, BasicAuthSettings, SecurityDef, SecurityDefInfo, SecuritySettings};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Security definitions: who may call a channel. A definition is HTTP basic auth (a
/// username and password, in a realm) or an API key (in a header); channels name it.
/// Only a hash of a password or key is kept (argon2id, SHA-256); it is never shown.
///
/// A secret on the command line is seen by `ps` and kept in the shell's history:
/// --password-env/--key-env or --password-stdin/--key-stdin read it elsewhere.
///
/// Examples:
///     zato security create basic-auth --name partner --username acme --password-stdin
///     zato security create apikey --name crm --key-env CRM_KEY
///     zato security list
///     zato security edit partner --realm partners
///     zato security change-password partner --password-env NEW_PASSWORD
///     zato security delete crm
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct Security {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a definition.
    Create {
        #[command(subcommand)]
        kind: CreateKind,
    },
    /// List the definitions.
    List {
        #[command(flatten)]
        target: SecTarget,
    },
    /// Show one definition.
    Get {
        /// The definition's name.
        name: String,
        #[command(flatten)]
        target: SecTarget,
    },
    /// Change a definition's username, realm or header (its secret: change-password).
    Edit {
        /// The definition's name.
        name: String,
        /// basic-auth: the username.
        #[arg(long)]
        username: Option<String>,
        /// basic-auth: the realm of the challenge.
        #[arg(long)]
        realm: Option<String>,
        /// apikey: the header the key comes in.
        #[arg(long)]
        header: Option<String>,
        #[command(flatten)]
        target: SecTarget,
    },
    /// Change a definition's password (basic-auth) or key (apikey).
    ChangePassword {
        /// The definition's name.
        name: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: SecTarget,
    },
    /// Delete a definition.
    Delete {
        /// The definition's name.
        name: String,
        #[command(flatten)]
        target: SecTarget,
    },
}

#[derive(Debug, Subcommand)]
enum CreateKind {
    /// HTTP basic auth: a username and a password, in a realm.
    BasicAuth {
        /// The definition's name (channels name it).
        #[arg(long)]
        name: String,
        /// The username callers give.
        #[arg(long)]
        username: String,
        /// The realm of the `WWW-Authenticate` challenge.
        #[arg(long, default_value = DEFAULT_REALM)]
        realm: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: SecTarget,
    },
    /// An API key, sent in a header.
    Apikey {
        /// The definition's name (channels name it).
        #[arg(long)]
        name: String,
        /// The header callers send the key in.
        #[arg(long, default_value = DEFAULT_APIKEY_HEADER)]
        header: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: SecTarget,
    },
}

/// Where the password or key comes from: one of these. `--password*` and `--key*` are
/// the same options under two names.
#[derive(Debug, Args)]
struct SecretArgs {
    /// The password or key itself (seen by `ps`; prefer the -env or -stdin forms).
    #[arg(long, visible_alias = "key", value_name = "SECRET")]
    password: Option<String>,
    /// Read it from this environment variable.
    #[arg(long, visible_alias = "key-env", value_name = "VAR")]
    password_env: Option<String>,
    /// Read it from stdin (its first line).
    #[arg(long, visible_alias = "key-stdin")]
    password_stdin: bool,
}

impl SecretArgs {
    fn read(&self) -> CliResult<String> {
        let given = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_stdin,
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                return Err(usage(
                    "give the password or key: --password/--key, --password-env/--key-env \
                     or --password-stdin/--key-stdin",
                ));
            }
            1 => {}
            _ => {
                return Err(usage(
                    "give the password or key one way only (--password, --password-env or \
                     --password-stdin)",
                ));
            }
        }
        if let Some(var) = &self.password_env {
            return match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(value),
                _ => Err(usage(format!(
                    "--password-env: the variable `{var}` is not set or empty"
                ))),
            };
        }
        if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("--password-stdin: cannot read stdin: {e}")))?;
            let line = text.lines().next().unwrap_or("").to_owned();
            if line.is_empty() {
                return Err(usage("--password-stdin: stdin holds no password or key"));
            }
            return Ok(line);
        }
        Ok(self.password.clone().unwrap_or_default())
    }
}

/// Which server to talk to. The admin's own password is `--admin-password` here, as
/// `--password` is the definition's.
#[derive(Debug, Args, Clone)]
struct SecTarget {
    /// Environment directory (made by `zato quickstart create`); defaults to `./.zato`
    /// when it exists.
    #[arg(long, env = "ZATO_ENV", value_name = "DIR")]
    env: Option<PathBuf>,
    /// Admin API base URL, e.g. http://127.0.0.1:17010 (instead of --env).
    #[arg(long, env = "ZATO_URL", value_name = "URL")]
    url: Option<String>,
    /// Admin user name: needed with --url.
    #[arg(long, env = "ZATO_USER")]
    user: Option<String>,
    /// Admin password: needed with --url.
    #[arg(long, env = "ZATO_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
}

impl SecTarget {
    fn connect(self) -> Result<zato_api::AdminClient, CliError> {
        Target {
            env: self.env,
            url: self.url,
            user: self.user,
            password: self.admin_password,
        }
        .connect()
    }
}

impl Security {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create { kind } => {
                let (name, settings, secret, target) = match kind {
                    CreateKind::BasicAuth {
                        name,
                        username,
                        realm,
                        secret,
                        target,
                    } => (
                        name,
                        SecuritySettings::BasicAuth(BasicAuthSettings { username, realm }),
                        secret,
                        target,
                    ),
                    CreateKind::Apikey {
                        name,
                        header,
                        secret,
                        target,
                    } => (
                        name,
                        SecuritySettings::Apikey(ApikeySettings { header }),
                        secret,
                        target,
                    ),
                };
                let secret = secret.read()?;
                let def = SecurityDef {
                    name,
                    settings,
                    secret: Some(secret),
                };
                let info = target.connect()?.create_security_def(&def).await?;
                out.print(&info, || {
                    format!("created {} security definition `{}`", info.kind, info.name)
                });
                Ok(())
            }
            Command::List { target } => {
                let defs = target.connect()?.security_defs().await?;
                out.print(&defs, || {
                    if defs.is_empty() {
                        return "no security definitions".into();
                    }
                    let rows: Vec<Vec<String>> = defs.iter().map(row).collect();
                    table(&["NAME", "TYPE", "USERNAME / HEADER", "REALM"], &rows)
                });
                Ok(())
            }
            Command::Get { name, target } => {
                let info = target.connect()?.security_def(&name).await?;
                out.print(&info, || {
                    table(
                        &["NAME", "TYPE", "USERNAME / HEADER", "REALM"],
                        &[row(&info)],
                    )
                });
                Ok(())
            }
            Command::Edit {
                name,
                username,
                realm,
                header,
                target,
            } => {
                let client = target.connect()?;
                let mut info = client.security_def(&name).await?;
                match &mut info.settings {
                    SecuritySettings::BasicAuth(basic) => {
                        if header.is_some() {
                            return Err(usage(format!(
                                "--header is an apikey option; `{name}` is basic-auth"
                            )));
                        }
                        if let Some(username) = username {
                            basic.username = username;
                        }
                        if let Some(realm) = realm {
                            basic.realm = realm;
                        }
                    }
                    SecuritySettings::Apikey(key) => {
                        if username.is_some() || realm.is_some() {
                            return Err(usage(format!(
                                "--username and --realm are basic-auth options; `{name}` is \
                                 an apikey"
                            )));
                        }
                        if let Some(header) = header {
                            key.header = header;
                        }
                    }
                }
                let def = SecurityDef {
                    name: name.clone(),
                    settings: info.settings,
                    secret: None,
                };
                let info = client.update_security_def(&name, &def).await?;
                out.print(&info, || {
                    format!("updated {} security definition `{}`", info.kind, info.name)
                });
                Ok(())
            }
            Command::ChangePassword {
                name,
                secret,
                target,
            } => {
                let secret = secret.read()?;
                let info = target
                    .connect()?
                    .change_security_secret(&name, &secret)
                    .await?;
                out.print(&info, || {
                    let what = match info.kind {
                        zato_api::SecurityType::BasicAuth => "password",
                        zato_api::SecurityType::Apikey => "key",
                    };
                    format!("changed the {what} of security definition `{}`", info.name)
                });
                Ok(())
            }
            Command::Delete { name, target } => {
                let deleted = target.connect()?.delete_security_def(&name).await?;
                out.print(&deleted, || {
                    format!(
                        "deleted {} security definition `{}`",
                        deleted.kind, deleted.name
                    )
                });
                Ok(())
            }
        }
    }
}

/// A definition's line in a table.
fn row(info: &SecurityDefInfo) -> Vec<String> {
    let (who, realm) = match &info.settings {
        SecuritySettings::BasicAuth(basic) => (basic.username.clone(), basic.realm.clone()),
        SecuritySettings::Apikey(key) => (key.header.clone(), "-".into()),
    };
    vec![info.name.clone(), info.kind.to_string(), who, realm]
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}
