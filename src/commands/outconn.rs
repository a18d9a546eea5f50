//! `zato outconn ...`: outgoing connections (HTTP, SOAP, SQL, FTP, AMQP, ZeroMQ), the named ways
//! services reach other systems: create, list, get, edit, delete and ping them.
//!
//! A secret (a password, token or key) is read from a variable (`--secret-env`) or
//! stdin (`--secret-stdin`) so that it stays out of the shell's history and `ps`;
//! `--secret` takes it on the command line for throwaway environments. It is never
//! printed back: answers say only whether one is set.

use std::io::Read as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use zato_api::messaging::DEFAULT_AMQP_HEARTBEAT_S;
use zato_api::{
    AmqpSettings, FtpSettings, Header, HttpAuth, HttpSettings, Outconn, OutconnInfo,
    OutconnSettings, OutconnType, SoapSettings, SoapVersion, SqlSettings, ZmqOutSocket,
    ZmqSettings,
};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Outgoing connections: the named HTTP, SOAP, SQL, FTP, AMQP and ZeroMQ connections
/// services use.
///
/// Examples:
///     zato outconn create http --name crm --address https://crm.example.com/api \
///         --auth bearer --secret-env CRM_TOKEN
///     zato outconn create sql --name billing --db-url postgres://billing@127.0.0.1/billing \
///         --secret-stdin < password.txt
///     zato outconn create ftp --name drop --host 127.0.0.1 --port 2121 --base-dir /in
///     zato outconn create amqp --name events --amqp-url amqp://app@127.0.0.1:5672/%2f \
///         --secret-env AMQP_PASSWORD
///     zato outconn create zmq --name feed --socket push --connect tcp://127.0.0.1:5556
///     zato outconn ping http crm
///     zato outconn list --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct OutconnCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a connection of TYPE (http, soap, sql, ftp, amqp or zmq) on every server,
    /// from the options or a whole definition (--file).
    Create {
        /// http, soap, sql, ftp, amqp or zmq.
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: OutconnType,
        /// Unique name within its type (the service-name rule: letters, digits, `.`,
        /// `_`, `-`); services use it.
        #[arg(long, required_unless_present = "file")]
        name: Option<String>,
        /// Create it inactive: services calling it get an error until it is activated.
        #[arg(long)]
        inactive: bool,
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: Target,
    },
    /// List connections (of TYPE when given), without their secrets.
    List {
        /// http, soap, sql, ftp, amqp or zmq: only this type.
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: Option<OutconnType>,
        #[command(flatten)]
        target: Target,
    },
    /// Show a connection (its secret only as set or not).
    Get {
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: OutconnType,
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Change a connection on every server: only what is given changes (--header
    /// replaces the headers); --file replaces the whole definition. The secret stays
    /// unless a new one is given or --no-secret removes it.
    Edit {
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: OutconnType,
        name: String,
        /// Let services use it again.
        #[arg(long, conflicts_with = "inactive")]
        active: bool,
        /// Make it inactive: services calling it get an error.
        #[arg(long)]
        inactive: bool,
        /// Drop every default header.
        #[arg(long, conflicts_with = "headers")]
        no_headers: bool,
        /// Drop the extra CA certificates.
        #[arg(long, conflicts_with = "ca_file")]
        no_ca: bool,
        /// Remove the stored secret.
        #[arg(long, conflicts_with_all = ["secret", "secret_env", "secret_stdin"])]
        no_secret: bool,
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Delete a connection on every server (calls in flight finish on it).
    Delete {
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: OutconnType,
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Check that the other side of a stored connection answers (exit 0), or say why
    /// it did not (exit 1): an HTTP request with the ping method for HTTP and SOAP
    /// (any status counts), `SELECT 1` for SQL, a login for FTP, a connection and a
    /// channel for AMQP, the socket set up for ZeroMQ.
    Ping {
        #[arg(value_name = "TYPE", value_parser = parse_kind)]
        kind: OutconnType,
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

/// The settings of every type; each applies to the types its help names.
#[derive(Debug, Args)]
struct SettingsArgs {
    /// A whole definition as JSON (the admin API's `Outconn`: name, active, settings,
    /// optional secret); the options given as well override it.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// http, soap: the base URL (http:// or https://); a service's paths go under it.
    #[arg(long, value_name = "URL")]
    address: Option<String>,
    /// Each call's timeout in ms (0: 10 s), for every type.
    #[arg(long, value_name = "MS")]
    timeout_ms: Option<u64>,
    /// http, soap: idle connections kept per host; sql: the pool's most connections.
    #[arg(long, value_name = "N")]
    pool_size: Option<u32>,
    /// http, soap: verify a TLS server's certificate (true unless given false).
    #[arg(long, value_name = "BOOL")]
    tls_verify: Option<bool>,
    /// http, soap, ftp (FTPS), amqp (amqps): a PEM file of extra trusted CA certificates.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// http, soap: how calls authenticate: none, basic (--username, the secret as the
    /// password), bearer (the secret as the token) or api-key (--api-key-header, the
    /// secret as its value).
    #[arg(long, value_name = "KIND", value_parser = ["none", "basic", "bearer", "api-key"])]
    auth: Option<String>,
    /// http, soap: the user name of --auth basic; ftp: the login (anonymous when
    /// creating without it).
    #[arg(long, value_name = "USER")]
    username: Option<String>,
    /// http, soap: the header of --auth api-key, e.g. X-API-Key.
    #[arg(long, value_name = "NAME")]
    api_key_header: Option<String>,
    /// http, soap: a header sent with every call, as NAME:VALUE (repeatable; replaces
    /// the connection's headers on edit).
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    headers: Vec<Header>,
    /// http, soap: how many times an idempotent call that got no answer is retried
    /// (at most 5).
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// http, soap: the method a ping sends (HEAD when creating without it).
    #[arg(long, value_name = "METHOD")]
    ping_method: Option<String>,
    /// soap: 1.1 or 1.2 (1.1 when creating without it).
    #[arg(long, value_name = "VERSION", value_parser = parse_soap_version)]
    soap_version: Option<SoapVersion>,
    /// soap: the SOAPAction sent when a call names none.
    #[arg(long, value_name = "ACTION")]
    soap_action: Option<String>,
    /// sql: the database's URL without its password (give that as the secret), e.g.
    /// postgres://billing@127.0.0.1:5432/billing, mysql://root@127.0.0.1/test,
    /// sqlite:///var/lib/app.db. (Not --url, which names the admin API.)
    #[arg(long, value_name = "URL")]
    db_url: Option<String>,
    /// sql: the most rows a query returns (0: 1,000).
    #[arg(long, value_name = "N")]
    max_rows: Option<u32>,
    /// ftp: the server's host name or address.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// ftp: the server's port (0: 21).
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// ftp: explicit FTPS (AUTH TLS); `--tls false` turns it off on edit.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    tls: Option<bool>,
    /// ftp: the directory every path of a call stays under (/ when creating without it).
    #[arg(long, value_name = "DIR")]
    base_dir: Option<String>,
    /// amqp: the broker's URL, amqp://USER[:PASSWORD]@HOST:PORT/VHOST (`%2f` is the
    /// vhost `/`); a password given here is stored as the secret. (Not --url, which
    /// names the admin API.)
    #[arg(long, value_name = "URL")]
    amqp_url: Option<String>,
    /// amqp: the heartbeat in seconds (0: none; 30 when creating without it).
    #[arg(long, value_name = "SECONDS")]
    heartbeat: Option<u16>,
    /// zmq: the socket, push or pub.
    #[arg(long, value_name = "SOCKET", value_parser = parse_out_socket)]
    socket: Option<ZmqOutSocket>,
    /// zmq: bind this address (tcp://HOST:PORT), the peers connect.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "connect")]
    bind: Option<String>,
    /// zmq: connect to this address (tcp://HOST:PORT).
    #[arg(long, value_name = "ADDRESS")]
    connect: Option<String>,
}

fn parse_out_socket(s: &str) -> Result<ZmqOutSocket, String> {
    match s {
        "push" => Ok(ZmqOutSocket::Push),
        "pub" => Ok(ZmqOutSocket::Pub),
        other => Err(format!("unknown socket `{other}`: push or pub")),
    }
}

/// Where the secret comes from: at most one of these.
#[derive(Debug, Args)]
struct SecretArgs {
    /// Read the secret (password, token or key) from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["secret_stdin", "secret"])]
    secret_env: Option<String>,
    /// Read the secret from stdin (its first line).
    #[arg(long, conflicts_with = "secret")]
    secret_stdin: bool,
    /// The secret itself. Note: a command line is seen by `ps` and kept in the
    /// shell's history; prefer --secret-env or --secret-stdin.
    #[arg(long, value_name = "SECRET")]
    secret: Option<String>,
}

impl SecretArgs {
    /// The secret given, if one was.
    fn read(&self) -> CliResult<Option<String>> {
        if let Some(var) = &self.secret_env {
            return match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Some(value)),
                _ => Err(usage(format!(
                    "--secret-env: the variable `{var}` is not set or empty"
                ))),
            };
        }
        if self.secret_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("--secret-stdin: cannot read stdin: {e}")))?;
            let line = text.lines().next().unwrap_or("").to_owned();
            if line.is_empty() {
                return Err(usage("--secret-stdin: stdin holds no secret"));
            }
            return Ok(Some(line));
        }
        Ok(self.secret.clone())
    }
}

fn parse_kind(s: &str) -> Result<OutconnType, String> {
    s.parse()
}

fn parse_header(s: &str) -> Result<Header, String> {
    match s.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => Ok(Header {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
        }),
        _ => Err(format!("expected NAME:VALUE, got `{s}`")),
    }
}

fn parse_soap_version(s: &str) -> Result<SoapVersion, String> {
    match s {
        "1.1" => Ok(SoapVersion::V11),
        "1.2" => Ok(SoapVersion::V12),
        other => Err(format!(
            "unknown SOAP version `{other}` (expected 1.1 or 1.2)"
        )),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}

impl SettingsArgs {
    /// The options given that do not apply to `kind`, as flags.
    fn foreign(&self, kind: OutconnType) -> Vec<&'static str> {
        use OutconnType::*;
        let given: [(&str, bool, &[OutconnType]); 24] = [
            ("--address", self.address.is_some(), &[Http, Soap]),
            (
                "--timeout-ms",
                self.timeout_ms.is_some(),
                &[Http, Soap, Sql, Ftp, Amqp, Zmq],
            ),
            ("--pool-size", self.pool_size.is_some(), &[Http, Soap, Sql]),
            ("--tls-verify", self.tls_verify.is_some(), &[Http, Soap]),
            (
                "--ca-file",
                self.ca_file.is_some(),
                &[Http, Soap, Ftp, Amqp],
            ),
            ("--auth", self.auth.is_some(), &[Http, Soap]),
            ("--username", self.username.is_some(), &[Http, Soap, Ftp]),
            (
                "--api-key-header",
                self.api_key_header.is_some(),
                &[Http, Soap],
            ),
            ("--header", !self.headers.is_empty(), &[Http, Soap]),
            ("--retries", self.retries.is_some(), &[Http, Soap]),
            ("--ping-method", self.ping_method.is_some(), &[Http, Soap]),
            ("--soap-version", self.soap_version.is_some(), &[Soap]),
            ("--soap-action", self.soap_action.is_some(), &[Soap]),
            ("--db-url", self.db_url.is_some(), &[Sql]),
            ("--max-rows", self.max_rows.is_some(), &[Sql]),
            ("--host", self.host.is_some(), &[Ftp]),
            ("--port", self.port.is_some(), &[Ftp]),
            ("--tls", self.tls.is_some(), &[Ftp]),
            ("--base-dir", self.base_dir.is_some(), &[Ftp]),
            ("--amqp-url", self.amqp_url.is_some(), &[Amqp]),
            ("--heartbeat", self.heartbeat.is_some(), &[Amqp]),
            ("--socket", self.socket.is_some(), &[Zmq]),
            ("--bind", self.bind.is_some(), &[Zmq]),
            ("--connect", self.connect.is_some(), &[Zmq]),
        ];
        given
            .into_iter()
            .filter(|(_, set, types)| *set && !types.contains(&kind))
            .map(|(flag, _, _)| flag)
            .collect()
    }

    fn check_applies(&self, kind: OutconnType) -> CliResult {
        let foreign = self.foreign(kind);
        if !foreign.is_empty() {
            return Err(usage(format!(
                "{} do{} not apply to {kind} connections (see `zato outconn create --help`)",
                foreign.join(", "),
                if foreign.len() == 1 { "es" } else { "" }
            )));
        }
        Ok(())
    }

    /// The definition in --file, if one was given.
    fn read_file(&self) -> CliResult<Option<Outconn>> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::new(
                ExitCode::Failed,
                format!("cannot read `{}`: {e}", path.display()),
            )
        })?;
        serde_json::from_str(&text).map(Some).map_err(|e| {
            usage(format!(
                "`{}` is not a connection definition: {e}",
                path.display()
            ))
        })
    }

    /// Fresh settings of `kind`, with the defaults, before the options apply.
    fn blank(kind: OutconnType) -> OutconnSettings {
        match kind {
            OutconnType::Http => OutconnSettings::Http(blank_http()),
            OutconnType::Soap => OutconnSettings::Soap(SoapSettings {
                http: blank_http(),
                version: SoapVersion::V11,
                soap_action: String::new(),
            }),
            OutconnType::Sql => OutconnSettings::Sql(SqlSettings {
                url: String::new(),
                pool_size: 0,
                timeout_ms: 0,
                max_rows: 0,
            }),
            OutconnType::Ftp => OutconnSettings::Ftp(FtpSettings {
                host: String::new(),
                port: 0,
                username: "anonymous".into(),
                tls: false,
                ca_pem: None,
                base_dir: "/".into(),
                timeout_ms: 0,
            }),
            OutconnType::Amqp => OutconnSettings::Amqp(AmqpSettings {
                url: String::new(),
                heartbeat_s: DEFAULT_AMQP_HEARTBEAT_S,
                ca_pem: None,
                timeout_ms: 10_000,
            }),
            OutconnType::Zmq => OutconnSettings::Zmq(ZmqSettings {
                socket: ZmqOutSocket::Push,
                address: String::new(),
                bind: false,
                timeout_ms: 5_000,
            }),
        }
    }

    /// `settings` changed by the options given (checked to apply to its type first).
    fn apply(&self, settings: &mut OutconnSettings, no_headers: bool, no_ca: bool) -> CliResult {
        match settings {
            OutconnSettings::Http(http) => self.apply_http(http, no_headers, no_ca)?,
            OutconnSettings::Soap(soap) => {
                self.apply_http(&mut soap.http, no_headers, no_ca)?;
                if let Some(version) = self.soap_version {
                    soap.version = version;
                }
                if let Some(action) = &self.soap_action {
                    soap.soap_action = action.clone();
                }
            }
            OutconnSettings::Sql(sql) => {
                if let Some(url) = &self.db_url {
                    sql.url = url.clone();
                }
                set(&mut sql.pool_size, self.pool_size);
                set(&mut sql.timeout_ms, self.timeout_ms);
                set(&mut sql.max_rows, self.max_rows);
            }
            OutconnSettings::Ftp(ftp) => {
                if let Some(host) = &self.host {
                    ftp.host = host.clone();
                }
                set(&mut ftp.port, self.port);
                if let Some(username) = &self.username {
                    ftp.username = username.clone();
                }
                set(&mut ftp.tls, self.tls);
                if let Some(dir) = &self.base_dir {
                    ftp.base_dir = dir.clone();
                }
                set(&mut ftp.timeout_ms, self.timeout_ms);
                if no_ca {
                    ftp.ca_pem = None;
                }
                if let Some(pem) = self.ca_file_pem()? {
                    ftp.ca_pem = Some(pem);
                }
            }
            OutconnSettings::Amqp(amqp) => {
                if let Some(url) = &self.amqp_url {
                    amqp.url = url.clone();
                }
                set(&mut amqp.heartbeat_s, self.heartbeat);
                set(&mut amqp.timeout_ms, self.timeout_ms);
                if no_ca {
                    amqp.ca_pem = None;
                }
                if let Some(pem) = self.ca_file_pem()? {
                    amqp.ca_pem = Some(pem);
                }
            }
            OutconnSettings::Zmq(zmq) => {
                set(&mut zmq.socket, self.socket);
                if let Some(address) = &self.bind {
                    zmq.address = address.clone();
                    zmq.bind = true;
                }
                if let Some(address) = &self.connect {
                    zmq.address = address.clone();
                    zmq.bind = false;
                }
                set(&mut zmq.timeout_ms, self.timeout_ms);
            }
        }
        Ok(())
    }

    /// The contents of `--ca-file`, when given.
    fn ca_file_pem(&self) -> Result<Option<String>, CliError> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        std::fs::read_to_string(path).map(Some).map_err(|e| {
            CliError::new(
                ExitCode::Failed,
                format!("cannot read --ca-file `{}`: {e}", path.display()),
            )
        })
    }

    fn apply_http(&self, http: &mut HttpSettings, no_headers: bool, no_ca: bool) -> CliResult {
        if let Some(address) = &self.address {
            http.address = address.clone();
        }
        set(&mut http.timeout_ms, self.timeout_ms);
        set(&mut http.pool_size, self.pool_size);
        set(&mut http.tls_verify, self.tls_verify);
        set(&mut http.retries, self.retries);
        if let Some(method) = &self.ping_method {
            http.ping_method = method.to_ascii_uppercase();
        }
        if no_ca {
            http.ca_pem = None;
        }
        if let Some(pem) = self.ca_file_pem()? {
            http.ca_pem = Some(pem);
        }
        if no_headers {
            http.headers.clear();
        }
        if !self.headers.is_empty() {
            http.headers = self.headers.clone();
        }
        // The kind of auth, then its parameter: --username alone changes a basic
        // auth's user, --api-key-header alone an API key's header.
        let auth = match (self.auth.as_deref(), &http.auth) {
            (Some("none"), _) => HttpAuth::None,
            (Some("bearer"), _) => HttpAuth::Bearer,
            (Some("basic"), old) | (None, old @ HttpAuth::Basic { .. }) => {
                let old_user = match old {
                    HttpAuth::Basic { username } => Some(username.clone()),
                    _ => None,
                };
                match self.username.clone().or(old_user) {
                    Some(username) => HttpAuth::Basic { username },
                    None => return Err(usage("--auth basic needs --username")),
                }
            }
            (Some(_), old) | (None, old @ HttpAuth::ApiKey { .. }) => {
                let old_header = match old {
                    HttpAuth::ApiKey { header } => Some(header.clone()),
                    _ => None,
                };
                match self.api_key_header.clone().or(old_header) {
                    Some(header) => HttpAuth::ApiKey { header },
                    None => return Err(usage("--auth api-key needs --api-key-header")),
                }
            }
            (None, old) => {
                if self.username.is_some() {
                    return Err(usage("--username goes with --auth basic"));
                }
                if self.api_key_header.is_some() {
                    return Err(usage("--api-key-header goes with --auth api-key"));
                }
                old.clone()
            }
        };
        if let HttpAuth::Basic { .. } = auth {
            if self.api_key_header.is_some() {
                return Err(usage("--api-key-header goes with --auth api-key"));
            }
        } else if let HttpAuth::ApiKey { .. } = auth {
            if self.username.is_some() {
                return Err(usage("--username goes with --auth basic"));
            }
        } else if self.username.is_some() || self.api_key_header.is_some() {
            return Err(usage(
                "--username goes with --auth basic, --api-key-header with --auth api-key",
            ));
        }
        http.auth = auth;
        Ok(())
    }
}

fn blank_http() -> HttpSettings {
    HttpSettings {
        address: String::new(),
        timeout_ms: 0,
        pool_size: 0,
        tls_verify: true,
        ca_pem: None,
        auth: HttpAuth::None,
        headers: Vec::new(),
        retries: 0,
        ping_method: "HEAD".into(),
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Where a connection leads, for people: its URL, or its host and directory.
fn target_of(settings: &OutconnSettings) -> String {
    match settings {
        OutconnSettings::Http(h) => h.address.clone(),
        OutconnSettings::Soap(s) => s.http.address.clone(),
        OutconnSettings::Sql(s) => s.url.clone(),
        OutconnSettings::Ftp(f) => format!(
            "{}://{}@{}:{}{}",
            if f.tls { "ftps" } else { "ftp" },
            f.username,
            f.host,
            if f.port == 0 { 21 } else { f.port },
            f.base_dir
        ),
        OutconnSettings::Amqp(a) => a.url.clone(),
        OutconnSettings::Zmq(z) => format!(
            "{} {} {}",
            z.socket.as_str(),
            if z.bind { "bound to" } else { "connected to" },
            z.address
        ),
    }
}

fn secret_word(set: bool) -> &'static str {
    if set { "set" } else { "not set" }
}

/// A connection for people: one `key: value` line per setting.
fn describe(info: &OutconnInfo) -> String {
    let mut lines = vec![
        format!("name: {}", info.name),
        format!("type: {}", info.kind),
        format!("active: {}", info.active),
    ];
    let http_lines = |lines: &mut Vec<String>, h: &HttpSettings| {
        lines.push(format!("address: {}", h.address));
        lines.push(format!("timeout_ms: {}", h.timeout_ms));
        lines.push(format!("pool_size: {}", h.pool_size));
        lines.push(format!("tls_verify: {}", h.tls_verify));
        lines.push(format!(
            "ca_pem: {}",
            if h.ca_pem.is_some() { "given" } else { "none" }
        ));
        lines.push(format!(
            "auth: {}",
            match &h.auth {
                HttpAuth::None => "none".to_owned(),
                HttpAuth::Basic { username } => format!("basic (user `{username}`)"),
                HttpAuth::Bearer => "bearer".to_owned(),
                HttpAuth::ApiKey { header } => format!("api-key (header `{header}`)"),
            }
        ));
        for header in &h.headers {
            lines.push(format!("header: {}: {}", header.name, header.value));
        }
        lines.push(format!("retries: {}", h.retries));
        lines.push(format!("ping_method: {}", h.ping_method));
    };
    match &info.settings {
        OutconnSettings::Http(h) => http_lines(&mut lines, h),
        OutconnSettings::Soap(s) => {
            http_lines(&mut lines, &s.http);
            lines.push(format!(
                "soap_version: {}",
                match s.version {
                    SoapVersion::V11 => "1.1",
                    SoapVersion::V12 => "1.2",
                }
            ));
            lines.push(format!("soap_action: {}", s.soap_action));
        }
        OutconnSettings::Sql(s) => {
            lines.push(format!("url: {}", s.url));
            lines.push(format!("pool_size: {}", s.pool_size));
            lines.push(format!("timeout_ms: {}", s.timeout_ms));
            lines.push(format!("max_rows: {}", s.max_rows));
        }
        OutconnSettings::Ftp(f) => {
            lines.push(format!("host: {}", f.host));
            lines.push(format!("port: {}", f.port));
            lines.push(format!("username: {}", f.username));
            lines.push(format!("tls: {}", f.tls));
            lines.push(format!(
                "ca_pem: {}",
                if f.ca_pem.is_some() { "given" } else { "none" }
            ));
            lines.push(format!("base_dir: {}", f.base_dir));
            lines.push(format!("timeout_ms: {}", f.timeout_ms));
        }
        OutconnSettings::Amqp(a) => {
            lines.push(format!("url: {}", a.url));
            lines.push(format!("heartbeat_s: {}", a.heartbeat_s));
            lines.push(format!(
                "ca_pem: {}",
                if a.ca_pem.is_some() { "given" } else { "none" }
            ));
            lines.push(format!("timeout_ms: {}", a.timeout_ms));
        }
        OutconnSettings::Zmq(z) => {
            lines.push(format!("socket: {}", z.socket.as_str()));
            lines.push(format!("address: {}", z.address));
            lines.push(format!("bind: {}", z.bind));
            lines.push(format!("timeout_ms: {}", z.timeout_ms));
        }
    }
    lines.push(format!("secret: {}", secret_word(info.secret_set)));
    lines.join("\n")
}

impl OutconnCommand {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create {
                kind,
                name,
                inactive,
                settings,
                secret,
                target,
            } => {
                settings.check_applies(kind)?;
                let mut conn = match settings.read_file()? {
                    Some(conn) => {
                        if conn.kind() != kind {
                            return Err(usage(format!(
                                "the definition in --file is of type {}, not {kind}",
                                conn.kind()
                            )));
                        }
                        conn
                    }
                    None => Outconn {
                        name: String::new(),
                        active: true,
                        settings: SettingsArgs::blank(kind),
                        secret: None,
                    },
                };
                if let Some(name) = name {
                    conn.name = name;
                }
                if inactive {
                    conn.active = false;
                }
                settings.apply(&mut conn.settings, false, false)?;
                if let Some(secret) = secret.read()? {
                    conn.secret = Some(secret);
                }
                let client = target.connect()?;
                let created = client.create_outconn(&conn).await?;
                out.print(&created, || {
                    format!(
                        "created {} connection `{}` -> {} (secret {})",
                        created.kind,
                        created.name,
                        target_of(&created.settings),
                        secret_word(created.secret_set)
                    )
                });
                Ok(())
            }
            Command::List { kind, target } => {
                let conns = target.connect()?.outconns(kind).await?;
                out.print(&conns, || {
                    if conns.is_empty() {
                        return "no outgoing connections".into();
                    }
                    let rows: Vec<Vec<String>> = conns
                        .iter()
                        .map(|c| {
                            vec![
                                c.kind.to_string(),
                                c.name.clone(),
                                if c.active { "yes" } else { "no" }.into(),
                                secret_word(c.secret_set).into(),
                                target_of(&c.settings),
                            ]
                        })
                        .collect();
                    table(&["TYPE", "NAME", "ACTIVE", "SECRET", "TARGET"], &rows)
                });
                Ok(())
            }
            Command::Get { kind, name, target } => {
                let info = target.connect()?.outconn(kind, &name).await?;
                out.print(&info, || describe(&info));
                Ok(())
            }
            Command::Edit {
                kind,
                name,
                active,
                inactive,
                no_headers,
                no_ca,
                no_secret,
                settings,
                secret,
                target,
            } => {
                settings.check_applies(kind)?;
                if no_headers && !matches!(kind, OutconnType::Http | OutconnType::Soap) {
                    return Err(usage(format!(
                        "--no-headers does not apply to {kind} connections"
                    )));
                }
                if no_ca
                    && !matches!(
                        kind,
                        OutconnType::Http
                            | OutconnType::Soap
                            | OutconnType::Ftp
                            | OutconnType::Amqp
                    )
                {
                    return Err(usage(format!(
                        "--no-ca does not apply to {kind} connections"
                    )));
                }
                let from_file = settings.read_file()?;
                let new_secret = secret.read()?;
                let client = target.connect()?;
                let mut conn = match from_file {
                    Some(conn) => {
                        if conn.kind() != kind {
                            return Err(usage(format!(
                                "the definition in --file is of type {}, not {kind}",
                                conn.kind()
                            )));
                        }
                        conn
                    }
                    None => {
                        let info = client.outconn(kind, &name).await?;
                        Outconn {
                            name: info.name,
                            active: info.active,
                            settings: info.settings,
                            secret: None,
                        }
                    }
                };
                conn.name = name.clone();
                if active {
                    conn.active = true;
                }
                if inactive {
                    conn.active = false;
                }
                settings.apply(&mut conn.settings, no_headers, no_ca)?;
                if no_secret {
                    conn.secret = Some(String::new());
                } else if let Some(secret) = new_secret {
                    conn.secret = Some(secret);
                }
                let updated = client.update_outconn(&name, &conn).await?;
                out.print(&updated, || {
                    format!(
                        "updated {} connection `{}` -> {} (secret {})",
                        updated.kind,
                        updated.name,
                        target_of(&updated.settings),
                        secret_word(updated.secret_set)
                    )
                });
                Ok(())
            }
            Command::Delete { kind, name, target } => {
                let deleted = target.connect()?.delete_outconn(kind, &name).await?;
                out.print(&deleted, || {
                    format!("deleted {} connection `{}`", deleted.kind, deleted.name)
                });
                Ok(())
            }
            Command::Ping { kind, name, target } => {
                let ping = target.connect()?.ping_outconn(kind, &name).await?;
                if ping.ok {
                    out.print(&ping, || {
                        format!(
                            "{kind} connection `{name}` answered in {} ms: {}",
                            ping.ms, ping.detail
                        )
                    });
                    return Ok(());
                }
                // One JSON document with --json: the ping's fields and the error's.
                let details = match serde_json::to_value(&ping) {
                    Ok(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                Err(CliError::new(
                    ExitCode::Failed,
                    format!(
                        "{kind} connection `{name}` did not answer ({} ms): {}",
                        ping.ms, ping.detail
                    ),
                )
                .with_details(details))
            }
        }
    }
}
