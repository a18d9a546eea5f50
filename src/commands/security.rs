//! `zato security ...`: security definitions (HTTP basic auth, API keys, JWT, TLS client
//! certificates): create,
//! list, show, edit, change the password or key of, delete. Secrets are write-only:
//! they are sent once and kept by the servers as hashes (a JWT signing key as it is).

use std::io::Read as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zato_api::security::{
    DEFAULT_APIKEY_HEADER, DEFAULT_JWT_TTL_S, DEFAULT_REALM, parse_subject_field, subject_text,
};
use zato_api::{
    ApikeySettings, BasicAuthSettings, ClientCertSettings, JwtAlgorithm, JwtSettings, SecurityDef,
    SecurityDefInfo, SecuritySettings,
};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Security definitions: who may call a channel. A definition is HTTP basic auth (a
/// username and password, in a realm), an API key (in a header), JWT (tokens from
/// POST /zato/jwt/log-in for a basic-auth definition's username and password) or a TLS
/// client certificate (signed by a CA, with given subject fields); channels name it. Only a hash of a password or key is kept (argon2id, SHA-256); a
/// JWT signing key is kept as it is. None is ever shown.
///
/// A secret on the command line is seen by `ps` and kept in the shell's history:
/// --password-env/--key-env or --password-stdin/--key-stdin read it elsewhere.
///
/// Examples:
///     zato security create basic-auth --name partner --username acme --password-stdin
///     zato security create apikey --name crm --key-env CRM_KEY
///     zato security create jwt --name partner-jwt --login partner --issuer zato \
///         --audience partners --key-env JWT_KEY
///     zato security create jwt --name partner-rs --algorithm RS256 --login partner \
///         --issuer zato --audience partners --key-file private.pem --public-key-file public.pem
///     zato security create tls --name partner-cert --ca-file partner-ca.pem \
///         --subject CN=partner --subject O=ACME
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
    /// Change a definition's username, realm, header, CA or subject (its secret:
    /// change-password).
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
        /// tls: the CA certificate(s) (PEM file) that must have signed the client's.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// tls: the subject the client's certificate must have, FIELD=value, repeated
        /// (replaces the whole subject).
        #[arg(long, value_name = "FIELD=VALUE", value_parser = parse_subject_field)]
        subject: Vec<(String, String)>,
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
    /// JSON Web Tokens: issued by POST /zato/jwt/log-in for the username and password
    /// of the basic-auth definition --login names, sent as `Authorization: Bearer`.
    /// HS256 signs with the key given; RS256 and ES256 with the private key given
    /// (PEM, best with --key-file), checked with --public-key-file.
    Jwt {
        /// The definition's name (channels name it).
        #[arg(long)]
        name: String,
        /// HS256, RS256 or ES256.
        #[arg(long, default_value = "HS256", value_parser = parse_algorithm)]
        algorithm: JwtAlgorithm,
        /// The `iss` of the tokens issued, required of those presented.
        #[arg(long)]
        issuer: String,
        /// The `aud` of the tokens issued, required of those presented.
        #[arg(long)]
        audience: String,
        /// How long a token is valid, in seconds.
        #[arg(long = "ttl", value_name = "SECONDS", default_value_t = DEFAULT_JWT_TTL_S)]
        ttl_s: u64,
        /// The basic-auth definition whose username and password log in.
        #[arg(long, value_name = "DEFINITION")]
        login: String,
        /// RS256 and ES256: the public key (PEM) that checks tokens.
        #[arg(long, value_name = "FILE")]
        public_key_file: Option<PathBuf>,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: SecTarget,
    },
    /// A TLS client certificate: the caller's must be signed by the CA in --ca-file and
    /// have each --subject field (CN, O, OU, C, ST or L) with the value given. It has no
    /// secret. The caller must reach a server directly over TLS (a server with `[tls]`;
    /// the load balancer ends TLS and does not pass certificates on).
    Tls {
        /// The definition's name (channels name it).
        #[arg(long)]
        name: String,
        /// The CA certificate(s) (PEM file) that must have signed the client's.
        #[arg(long, value_name = "FILE")]
        ca_file: PathBuf,
        /// A subject field the client's certificate must have, FIELD=value (CN=partner),
        /// repeated: at least one.
        #[arg(long, value_name = "FIELD=VALUE", value_parser = parse_subject_field, required = true)]
        subject: Vec<(String, String)>,
        #[command(flatten)]
        target: SecTarget,
    },
}

/// A PEM file's text; the error names the option and the file.
fn read_pem(option: &str, file: &std::path::Path) -> CliResult<String> {
    std::fs::read_to_string(file)
        .map_err(|e| usage(format!("{option}: cannot read `{}`: {e}", file.display())))
}

fn parse_algorithm(s: &str) -> Result<JwtAlgorithm, String> {
    s.parse()
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
    /// Read it from this file, whole (a PEM private key, say).
    #[arg(long, visible_alias = "key-file", value_name = "FILE")]
    password_file: Option<PathBuf>,
}

impl SecretArgs {
    fn read(&self) -> CliResult<String> {
        let given = [
            self.password.is_some(),
            self.password_env.is_some(),
            self.password_stdin,
            self.password_file.is_some(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                return Err(usage(
                    "give the password or key: --password/--key, --password-env/--key-env, \
                     --password-stdin/--key-stdin or --password-file/--key-file",
                ));
            }
            1 => {}
            _ => {
                return Err(usage(
                    "give the password or key one way only (--password, --password-env, \
                     --password-stdin or --password-file)",
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
        if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                usage(format!(
                    "--password-file: cannot read `{}`: {e}",
                    file.display()
                ))
            })?;
            let text = text.trim_end_matches(['\n', '\r']).to_owned();
            if text.is_empty() {
                return Err(usage(format!(
                    "--password-file: `{}` is empty",
                    file.display()
                )));
            }
            return Ok(text);
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
/// `--password` is the definition's (or the user's, in `zato user`).
#[derive(Debug, Args, Clone)]
pub(crate) struct SecTarget {
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
    /// PEM file of the CA to trust alone for an https:// --url.
    #[arg(long, env = "ZATO_CA", value_name = "FILE")]
    admin_ca: Option<PathBuf>,
}

impl SecTarget {
    pub(crate) fn connect(self) -> Result<zato_api::AdminClient, CliError> {
        Target {
            env: self.env,
            url: self.url,
            user: self.user,
            password: self.admin_password,
            ca: self.admin_ca,
        }
        .connect()
    }
}

impl Security {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create { kind } => {
                let (name, settings, secret, target): (_, _, Option<SecretArgs>, _) = match kind {
                    CreateKind::BasicAuth {
                        name,
                        username,
                        realm,
                        secret,
                        target,
                    } => (
                        name,
                        SecuritySettings::BasicAuth(BasicAuthSettings { username, realm }),
                        Some(secret),
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
                        Some(secret),
                        target,
                    ),
                    CreateKind::Jwt {
                        name,
                        algorithm,
                        issuer,
                        audience,
                        ttl_s,
                        login,
                        public_key_file,
                        secret,
                        target,
                    } => {
                        let public_key = public_key_file
                            .map(|file| {
                                std::fs::read_to_string(&file).map_err(|e| {
                                    usage(format!(
                                        "--public-key-file: cannot read `{}`: {e}",
                                        file.display()
                                    ))
                                })
                            })
                            .transpose()?;
                        (
                            name,
                            SecuritySettings::Jwt(JwtSettings {
                                algorithm,
                                issuer,
                                audience,
                                ttl_s,
                                login,
                                public_key,
                            }),
                            Some(secret),
                            target,
                        )
                    }
                    CreateKind::Tls {
                        name,
                        ca_file,
                        subject,
                        target,
                    } => (
                        name,
                        SecuritySettings::Tls(ClientCertSettings {
                            ca_pem: read_pem("--ca-file", &ca_file)?,
                            subject: subject.into_iter().collect(),
                        }),
                        None,
                        target,
                    ),
                };
                let secret = secret.map(|s| s.read()).transpose()?;
                let def = SecurityDef {
                    name,
                    settings,
                    secret,
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
                    table(&["NAME", "TYPE", "WHO", "DETAILS"], &rows)
                });
                Ok(())
            }
            Command::Get { name, target } => {
                let info = target.connect()?.security_def(&name).await?;
                out.print(&info, || {
                    table(&["NAME", "TYPE", "WHO", "DETAILS"], &[row(&info)])
                });
                Ok(())
            }
            Command::Edit {
                name,
                username,
                realm,
                header,
                ca_file,
                subject,
                target,
            } => {
                let client = target.connect()?;
                let mut info = client.security_def(&name).await?;
                if !matches!(info.settings, SecuritySettings::Tls(_))
                    && (ca_file.is_some() || !subject.is_empty())
                {
                    return Err(usage(format!(
                        "--ca-file and --subject are tls options; `{name}` is {}",
                        info.kind
                    )));
                }
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
                    SecuritySettings::Tls(cert) => {
                        if username.is_some() || realm.is_some() || header.is_some() {
                            return Err(usage(format!(
                                "--username, --realm and --header are not tls options; \
                                 `{name}` is tls (--ca-file, --subject)"
                            )));
                        }
                        if let Some(file) = ca_file {
                            cert.ca_pem = read_pem("--ca-file", &file)?;
                        }
                        if !subject.is_empty() {
                            cert.subject = subject.into_iter().collect();
                        }
                    }
                    SecuritySettings::Jwt(_) => {
                        return Err(usage(format!(
                            "`{name}` is a JWT definition: change it through the admin API \
                             (PUT /zato/api/security/{name}) or the web admin; its key with \
                             `zato security change-password`"
                        )));
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
                        zato_api::SecurityType::Apikey
                        | zato_api::SecurityType::Jwt
                        | zato_api::SecurityType::Tls => "key",
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
        SecuritySettings::Jwt(jwt) => (
            format!("login: {}", jwt.login),
            format!("{} {} -> {}", jwt.algorithm, jwt.issuer, jwt.audience),
        ),
        SecuritySettings::Tls(cert) => (subject_text(&cert.subject), "client certificate".into()),
    };
    vec![info.name.clone(), info.kind.to_string(), who, realm]
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}
