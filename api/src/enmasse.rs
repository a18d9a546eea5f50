//! Configuration as code (`zato enmasse`): every definition of an environment as one
//! document, and back.
//!
//! [`export`] reads an environment through its admin API into an [`Enmasse`] document
//! and the components of its services (each written next to the document, its sha256
//! in the document). [`plan`] compares a document with an environment and checks it
//! whole before anything changes: a name used twice, a reference to something neither
//! the document nor the environment has (a channel's service or security definition, a
//! job's calendar, a JWT definition's login, a rate limit's object), a component file
//! missing or not matching its sha256, a secret that an object to create needs and the
//! document does not give. Any of these refuses the document with every problem named,
//! and nothing is changed. [`apply`] then carries the plan out in the document's order,
//! which is the order of dependency (rate limits, security definitions, outgoing
//! connections, services, calendars, channels, jobs, rate-limit attachments, the
//! dictionary), through the admin API's ordinary routes.
//!
//! An import adds and updates; it never deletes what the document does not name. It
//! is idempotent: an object equal to the document's is left alone, so importing twice
//! changes nothing the second time.
//!
//! Secrets are never exported: an object with one is written with a reference,
//! `${ZATO_SECRET_...}`, to an environment variable that an import reads. An import
//! sends a secret when it creates an object, and for objects that exist only when told
//! to (`update_secrets`), since a stored secret cannot be compared with the document's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::rate_limit::{LimitedKind, RateLimit, RateLimitUse};
use crate::{
    AdminClient, Calendar, ClientError, Dictionary, HttpChannel, Job, MsgChannel, MsgChannelType,
    Outconn, SecurityDef, SecuritySettings, SecurityType, SoapChannel,
};

/// The version of the document's format, its `zato_enmasse` field.
pub const FORMAT: u32 = 1;

/// The directory, next to the document, that an export writes components to.
pub const SERVICES_DIR: &str = "services";

/// An environment's definitions, in the order an import creates them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enmasse {
    /// The format's version: [`FORMAT`].
    pub zato_enmasse: u32,
    /// Rate-limit definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimit>,
    /// Security definitions; a secret is a `${VARIABLE}` reference or the secret itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<SecurityDef>,
    /// Outgoing connections; a secret as for security definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outconns: Vec<Outconn>,
    /// Services: a component file each, and its configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceEntry>,
    /// Scheduler calendars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendars: Vec<Calendar>,
    /// HTTP channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_channels: Vec<HttpChannel>,
    /// SOAP channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soap_channels: Vec<SoapChannel>,
    /// AMQP and ZeroMQ channels; a secret as for security definitions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub msg_channels: Vec<MsgChannel>,
    /// Scheduler jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<Job>,
    /// Which rate-limit definition counts the requests of which object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limit_uses: Vec<RateLimitUse>,
    /// The data dictionary: entries and translations.
    #[serde(default, skip_serializing_if = "dictionary_is_empty")]
    pub dictionary: Dictionary,
}

fn dictionary_is_empty(d: &Dictionary) -> bool {
    d.entries.is_empty() && d.translations.is_empty()
}

/// A service in a document: its component's file and sha256, and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// The service's name (a zato service's `info()` says it; a `wasi:http` component
    /// is named after its file).
    pub name: String,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// The component's file, relative to the document's directory.
    pub file: String,
    /// The service's configuration: key -> value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// An exported environment: the document, and the component files it names (path
/// relative to the document's directory, bytes).
#[derive(Debug, Clone)]
pub struct Exported {
    /// The document.
    pub doc: Enmasse,
    /// The components, one per service.
    pub files: Vec<(String, Bytes)>,
}

/// The environment variable an export names for the secret of object `name` of `kind`
/// (`ZATO_SECRET_OUTCONN_HTTP_CRM` for HTTP connection `crm`): upper case, every
/// character but letters and digits made `_`.
pub fn secret_variable(kind: &str, name: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("ZATO_SECRET_{}_{}", clean(kind), clean(name))
}

fn reference(variable: &str) -> String {
    format!("${{{variable}}}")
}

/// The variable a secret refers to, when it is a `${VARIABLE}` reference.
pub fn referenced_variable(secret: &str) -> Option<&str> {
    let name = secret.strip_prefix("${")?.strip_suffix('}')?;
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads every definition of the environment `client` speaks to, and with
/// `components` its services' components (otherwise `files` is empty, and the document
/// still names each component's file and sha256).
pub async fn export(client: &AdminClient, components: bool) -> Result<Exported, ClientError> {
    let mut doc = Enmasse {
        zato_enmasse: FORMAT,
        ..Enmasse::default()
    };
    let mut files = Vec::new();

    let mut rate_limits = client.rate_limits().await?;
    rate_limits.sort_by(|a, b| a.name.cmp(&b.name));
    doc.rate_limits = rate_limits
        .into_iter()
        .map(|r| RateLimit {
            name: r.name,
            rules: r.rules,
            exact: r.exact,
        })
        .collect();

    let mut security = client.security_defs().await?;
    security.sort_by(|a, b| a.name.cmp(&b.name));
    doc.security = security
        .into_iter()
        .map(|d| SecurityDef {
            secret: d
                .kind
                .has_secret()
                .then(|| reference(&secret_variable("security", &d.name))),
            name: d.name,
            settings: d.settings,
        })
        .collect();

    let mut outconns = client.outconns(None).await?;
    outconns.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    doc.outconns = outconns
        .into_iter()
        .map(|c| Outconn {
            secret: c
                .secret_set
                .then(|| reference(&secret_variable(&format!("outconn_{}", c.kind), &c.name))),
            name: c.name,
            active: c.active,
            settings: c.settings,
        })
        .collect();

    let mut services = client.services().await?;
    services.sort_by(|a, b| a.name.cmp(&b.name));
    for service in services {
        let config = client.config(&service.name).await?;
        let file = format!("{SERVICES_DIR}/{}.wasm", service.name);
        let sha256 = if components {
            let bytes = client.service_component(&service.name).await?;
            let sha256 = sha256_hex(&bytes);
            files.push((file.clone(), bytes));
            sha256
        } else {
            service.sha256
        };
        doc.services.push(ServiceEntry {
            name: service.name,
            sha256,
            file,
            config,
        });
    }

    let mut calendars = client.calendars().await?;
    calendars.sort_by(|a, b| a.name.cmp(&b.name));
    doc.calendars = calendars;

    let mut http = client.http_channels().await?;
    http.sort_by(|a, b| a.name.cmp(&b.name));
    doc.http_channels = http;

    let mut soap = client.soap_channels().await?;
    soap.sort_by(|a, b| a.name.cmp(&b.name));
    doc.soap_channels = soap;

    for kind in MsgChannelType::ALL {
        let mut channels = client.msg_channels(kind).await?;
        channels.sort_by(|a, b| a.name.cmp(&b.name));
        doc.msg_channels.extend(channels.into_iter().map(|c| {
            MsgChannel {
                secret: c
                    .secret_set
                    .then(|| reference(&secret_variable(&format!("channel_{}", c.kind), &c.name))),
                name: c.name,
                active: c.active,
                service: c.service,
                data_format: c.data_format,
                settings: c.settings,
            }
        }));
    }

    let mut jobs: Vec<Job> = client.jobs().await?.into_iter().map(|j| j.job).collect();
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    doc.jobs = jobs;

    let mut uses = client.rate_limit_uses().await?;
    uses.sort_by(|a, b| (a.kind.as_str(), &a.object).cmp(&(b.kind.as_str(), &b.object)));
    doc.rate_limit_uses = uses;

    doc.dictionary = client.dictionary(None, None).await?;
    Ok(Exported { doc, files })
}

/// What an import does with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The environment has no such object: it is created.
    Create,
    /// The environment's differs from the document's: it is replaced.
    Update,
    /// The environment's is the document's: nothing is done.
    Unchanged,
}

/// One object of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What kind of object: `rate-limit`, `security`, `outconn`, `service-config`,
    /// `service`, `calendar`, `http-channel`, `soap-channel`, `msg-channel`, `job`,
    /// `rate-limit-use`, `dictionary`.
    pub kind: &'static str,
    /// Its name (`TYPE/NAME` where names are unique per type).
    pub name: String,
    /// What the import does with it.
    pub action: Action,
    /// What changes, when that is worth saying (a new sha256, a secret sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip)]
    op: Option<Op>,
}

#[derive(Debug, Clone)]
enum Op {
    RateLimit(bool, RateLimit),
    Security(bool, SecurityDef),
    Outconn(bool, Outconn),
    ServiceConfig(String, BTreeMap<String, String>),
    Deploy {
        name: String,
        source: String,
        bytes: Bytes,
    },
    Calendar(bool, Calendar),
    HttpChannel(bool, HttpChannel),
    SoapChannel(bool, SoapChannel),
    MsgChannel(bool, MsgChannel),
    Job(bool, Job),
    Attach(RateLimitUse),
    Dictionary(Dictionary),
}

/// What an import would do, object by object, in the order it does it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Every object of the document.
    pub steps: Vec<Step>,
}

impl Plan {
    /// How many steps take `action`.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
}

/// Why a plan could not be made.
#[derive(Debug)]
pub enum PlanError {
    /// The document is refused; every problem, each naming its object.
    Refused(Vec<String>),
    /// The environment could not be read.
    Client(ClientError),
}

impl From<ClientError> for PlanError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

/// Where a plan reads what the document refers to: component files and environment
/// variables.
pub struct Sources<'a> {
    /// The bytes of a component file named in the document (relative to its directory).
    pub file: &'a (dyn Fn(&str) -> Result<Vec<u8>, String> + Sync),
    /// An environment variable's value.
    pub variable: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Send the secrets of objects that exist too (they cannot be compared).
    pub update_secrets: bool,
}

/// A document's secret, resolved.
enum Secret {
    None,
    Given(String),
    Unset(String),
}

fn resolve(secret: Option<&str>, sources: &Sources<'_>) -> Secret {
    match secret {
        None => Secret::None,
        Some(s) => match referenced_variable(s) {
            Some(var) => match (sources.variable)(var) {
                Some(value) => Secret::Given(value),
                None => Secret::Unset(var.to_owned()),
            },
            None => Secret::Given(s.to_owned()),
        },
    }
}

/// Checks `doc` against the environment `client` speaks to and says what an import
/// would do; refuses a document with problems, naming each.
pub async fn plan(
    client: &AdminClient,
    doc: &Enmasse,
    sources: &Sources<'_>,
) -> Result<Plan, PlanError> {
    let mut problems = Vec::new();
    if doc.zato_enmasse != FORMAT {
        return Err(PlanError::Refused(vec![format!(
            "`zato_enmasse` is {}: this zato reads format {FORMAT}",
            doc.zato_enmasse
        )]));
    }
    duplicates(doc, &mut problems);

    // What the environment has now.
    let rate_limits: HashMap<String, RateLimit> = client
        .rate_limits()
        .await?
        .into_iter()
        .map(|r| {
            let def = RateLimit {
                name: r.name.clone(),
                rules: r.rules,
                exact: r.exact,
            };
            (r.name, def)
        })
        .collect();
    let security: HashMap<String, (SecurityType, SecuritySettings)> = client
        .security_defs()
        .await?
        .into_iter()
        .map(|d| (d.name, (d.kind, d.settings)))
        .collect();
    let outconns: HashMap<(String, String), (bool, crate::OutconnSettings)> = client
        .outconns(None)
        .await?
        .into_iter()
        .map(|c| ((c.kind.to_string(), c.name), (c.active, c.settings)))
        .collect();
    let services: HashMap<String, String> = client
        .services()
        .await?
        .into_iter()
        .map(|s| (s.name, s.sha256))
        .collect();
    let calendars: HashMap<String, Calendar> = client
        .calendars()
        .await?
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let http: HashMap<String, HttpChannel> = client
        .http_channels()
        .await?
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let soap: HashMap<String, SoapChannel> = client
        .soap_channels()
        .await?
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let mut msg: HashMap<(String, String), MsgChannel> = HashMap::new();
    for kind in MsgChannelType::ALL {
        for c in client.msg_channels(kind).await? {
            let channel = MsgChannel {
                name: c.name.clone(),
                active: c.active,
                service: c.service,
                data_format: c.data_format,
                settings: c.settings,
                secret: None,
            };
            msg.insert((c.kind.to_string(), c.name), channel);
        }
    }
    let jobs: HashMap<String, Job> = client
        .jobs()
        .await?
        .into_iter()
        .map(|j| (j.job.name.clone(), j.job))
        .collect();
    let uses: HashMap<(&'static str, String), String> = client
        .rate_limit_uses()
        .await?
        .into_iter()
        .map(|u| ((u.kind.as_str(), u.object), u.rate_limit))
        .collect();
    let dictionary = client.dictionary(None, None).await?;

    // What exists once the document is imported, for its references.
    let known_services: BTreeSet<&str> = services
        .keys()
        .map(String::as_str)
        .chain(doc.services.iter().map(|s| s.name.as_str()))
        .collect();
    let mut known_security: HashMap<&str, SecurityType> = security
        .iter()
        .map(|(n, (k, _))| (n.as_str(), *k))
        .collect();
    for def in &doc.security {
        known_security.insert(&def.name, def.kind());
    }
    let known_calendars: BTreeSet<&str> = calendars
        .keys()
        .map(String::as_str)
        .chain(doc.calendars.iter().map(|c| c.name.as_str()))
        .collect();
    let known_rate_limits: BTreeSet<&str> = rate_limits
        .keys()
        .map(String::as_str)
        .chain(doc.rate_limits.iter().map(|r| r.name.as_str()))
        .collect();
    let known_http: BTreeSet<&str> = http
        .keys()
        .map(String::as_str)
        .chain(doc.http_channels.iter().map(|c| c.name.as_str()))
        .collect();
    let known_soap: BTreeSet<&str> = soap
        .keys()
        .map(String::as_str)
        .chain(doc.soap_channels.iter().map(|c| c.name.as_str()))
        .collect();
    let service_ref = |what: String, name: &str, problems: &mut Vec<String>| {
        if !known_services.contains(name) {
            problems.push(format!(
                "{what} names service `{name}`, which neither the file nor the environment has"
            ));
        }
    };
    let security_ref = |what: String, name: &Option<String>, problems: &mut Vec<String>| {
        if let Some(name) = name
            && !known_security.contains_key(name.as_str())
        {
            problems.push(format!(
                "{what} names security definition `{name}`, which neither the file nor the \
                 environment has"
            ));
        }
    };

    let mut steps = Vec::new();
    let step = |kind: &'static str, name: String, action: Action, op: Option<Op>| Step {
        kind,
        name,
        action,
        detail: None,
        op,
    };
    let action = |create: bool| {
        if create {
            Action::Create
        } else {
            Action::Update
        }
    };

    for def in &doc.rate_limits {
        let now = rate_limits.get(&def.name);
        if now == Some(def) {
            steps.push(step(
                "rate-limit",
                def.name.clone(),
                Action::Unchanged,
                None,
            ));
        } else {
            let create = now.is_none();
            let op = Op::RateLimit(create, def.clone());
            steps.push(step(
                "rate-limit",
                def.name.clone(),
                action(create),
                Some(op),
            ));
        }
    }

    // Basic auth before the JWT definitions that log in with it.
    let (jwt, other): (Vec<&SecurityDef>, Vec<&SecurityDef>) = doc
        .security
        .iter()
        .partition(|d| d.kind() == SecurityType::Jwt);
    for def in other.into_iter().chain(jwt) {
        let what = format!("security definition `{}`", def.name);
        if let SecuritySettings::Jwt(settings) = &def.settings {
            match known_security.get(settings.login.as_str()) {
                Some(SecurityType::BasicAuth) => {}
                Some(other) => problems.push(format!(
                    "{what} logs in with `{}`, which is a {other} definition, not basic-auth",
                    settings.login
                )),
                None => problems.push(format!(
                    "{what} logs in with basic-auth definition `{}`, which neither the file \
                     nor the environment has",
                    settings.login
                )),
            }
        }
        let now = security.get(&def.name);
        let secret = resolve(def.secret.as_deref(), sources);
        let needs_secret = def.kind().has_secret();
        let mut out = def.clone();
        out.secret = None;
        let mut detail = None;
        let act = match (now, secret) {
            (None, Secret::Given(s)) => {
                out.secret = needs_secret.then_some(s);
                Action::Create
            }
            (None, Secret::None) if needs_secret => {
                problems.push(format!(
                    "{what} does not exist here and the file gives it no `secret`: give its \
                     password or key (a ${{VARIABLE}} reference, say)"
                ));
                Action::Create
            }
            (None, Secret::Unset(var)) if needs_secret => {
                problems.push(format!(
                    "{what} does not exist here and its secret `${{{var}}}` is not set: set \
                     environment variable {var}"
                ));
                Action::Create
            }
            (None, _) => Action::Create,
            (Some((kind, settings)), secret) => {
                let type_changes = *kind != def.kind();
                match secret {
                    Secret::Given(s)
                        if needs_secret && (sources.update_secrets || type_changes) =>
                    {
                        out.secret = Some(s);
                        detail = Some("secret sent".to_owned());
                        Action::Update
                    }
                    Secret::Unset(var) if type_changes && needs_secret => {
                        problems.push(format!(
                            "{what} changes type from {kind} to {}, which needs its secret, \
                             and `${{{var}}}` is not set",
                            def.kind()
                        ));
                        Action::Update
                    }
                    Secret::None if type_changes && needs_secret => {
                        problems.push(format!(
                            "{what} changes type from {kind} to {}, which needs a `secret`",
                            def.kind()
                        ));
                        Action::Update
                    }
                    _ if settings == &def.settings => Action::Unchanged,
                    _ => Action::Update,
                }
            }
        };
        let op = (act != Action::Unchanged).then(|| Op::Security(act == Action::Create, out));
        let mut s = step("security", def.name.clone(), act, op);
        s.detail = detail;
        steps.push(s);
    }

    for conn in &doc.outconns {
        let key = (conn.kind().to_string(), conn.name.clone());
        let name = format!("{}/{}", key.0, key.1);
        let what = format!("{} connection `{}`", key.0, conn.name);
        let equal = outconns
            .get(&key)
            .map(|(active, settings)| *active == conn.active && settings == &conn.settings);
        let (act, secret, detail) =
            optional_secret(&what, equal, conn.secret.as_deref(), sources, &mut problems);
        let mut out = conn.clone();
        out.secret = secret;
        let op = (act != Action::Unchanged).then(|| Op::Outconn(act == Action::Create, out));
        let mut s = step("outconn", name, act, op);
        s.detail = detail;
        steps.push(s);
    }

    let mut deploys = Vec::new();
    for service in &doc.services {
        let what = format!("service `{}`", service.name);
        // Configuration first: a service finds its configuration when it is loaded.
        let config_now = match services.contains_key(&service.name) {
            true => Some(client.config(&service.name).await?),
            false => None,
        };
        if config_now.is_none() && service.config.is_empty() {
            // A new service without configuration: nothing to set.
        } else if config_now.as_ref() == Some(&service.config) {
            steps.push(step(
                "service-config",
                service.name.clone(),
                Action::Unchanged,
                None,
            ));
        } else {
            let op = Op::ServiceConfig(service.name.clone(), service.config.clone());
            steps.push(step(
                "service-config",
                service.name.clone(),
                action(config_now.is_none()),
                Some(op),
            ));
        }
        let now = services.get(&service.name);
        if now == Some(&service.sha256) {
            deploys.push(step(
                "service",
                service.name.clone(),
                Action::Unchanged,
                None,
            ));
            continue;
        }
        let bytes = match (sources.file)(&service.file) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(format!("{what}: cannot read `{}`: {e}", service.file));
                continue;
            }
        };
        let sha256 = sha256_hex(&bytes);
        if sha256 != service.sha256 {
            problems.push(format!(
                "{what}: `{}` has sha256 {sha256}, not the {} the file says",
                service.file, service.sha256
            ));
            continue;
        }
        let source = std::path::Path::new(&service.file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(&service.file)
            .to_owned();
        let mut s = step(
            "service",
            service.name.clone(),
            action(now.is_none()),
            Some(Op::Deploy {
                name: service.name.clone(),
                source,
                bytes: Bytes::from(bytes),
            }),
        );
        s.detail = Some(format!("sha256 {sha256}"));
        deploys.push(s);
    }
    steps.extend(deploys);

    for calendar in &doc.calendars {
        let now = calendars.get(&calendar.name);
        push_compared(
            &mut steps,
            "calendar",
            &calendar.name,
            now,
            calendar,
            Op::Calendar,
        );
    }

    for channel in &doc.http_channels {
        let what = format!("HTTP channel `{}`", channel.name);
        service_ref(what.clone(), &channel.service, &mut problems);
        security_ref(what, &channel.security, &mut problems);
        let now = http.get(&channel.name);
        push_compared(
            &mut steps,
            "http-channel",
            &channel.name,
            now,
            channel,
            Op::HttpChannel,
        );
    }

    for channel in &doc.soap_channels {
        let what = format!("SOAP channel `{}`", channel.name);
        for service in &channel.services {
            service_ref(what.clone(), service, &mut problems);
        }
        security_ref(what, &channel.security, &mut problems);
        let now = soap.get(&channel.name);
        push_compared(
            &mut steps,
            "soap-channel",
            &channel.name,
            now,
            channel,
            Op::SoapChannel,
        );
    }

    for channel in &doc.msg_channels {
        let key = (channel.kind().to_string(), channel.name.clone());
        let what = format!("{} channel `{}`", key.0, channel.name);
        service_ref(what.clone(), &channel.service, &mut problems);
        let mut out = channel.clone();
        out.secret = None;
        let equal = msg.get(&key).map(|now| now == &out);
        let (act, secret, detail) = optional_secret(
            &what,
            equal,
            channel.secret.as_deref(),
            sources,
            &mut problems,
        );
        out.secret = secret;
        let op = (act != Action::Unchanged).then(|| Op::MsgChannel(act == Action::Create, out));
        let mut s = step("msg-channel", format!("{}/{}", key.0, key.1), act, op);
        s.detail = detail;
        steps.push(s);
    }

    for job in &doc.jobs {
        let what = format!("job `{}`", job.name);
        service_ref(what.clone(), &job.service, &mut problems);
        for calendar in &job.calendars {
            if !known_calendars.contains(calendar.as_str()) {
                problems.push(format!(
                    "{what} names calendar `{calendar}`, which neither the file nor the \
                     environment has"
                ));
            }
        }
        let now = jobs.get(&job.name);
        push_compared(&mut steps, "job", &job.name, now, job, Op::Job);
    }

    for used in &doc.rate_limit_uses {
        let name = format!("{}/{}", used.kind, used.object);
        if !known_rate_limits.contains(used.rate_limit.as_str()) {
            problems.push(format!(
                "rate limit use `{name}` names rate limit `{}`, which neither the file nor the \
                 environment has",
                used.rate_limit
            ));
        }
        let exists = match used.kind {
            LimitedKind::Security => known_security.contains_key(used.object.as_str()),
            LimitedKind::HttpChannel => known_http.contains(used.object.as_str()),
            LimitedKind::SoapChannel => known_soap.contains(used.object.as_str()),
            LimitedKind::Service => known_services.contains(used.object.as_str()),
        };
        if !exists {
            problems.push(format!(
                "rate limit use `{name}` attaches to {} `{}`, which neither the file nor the \
                 environment has",
                used.kind.describe(),
                used.object
            ));
        }
        match uses.get(&(used.kind.as_str(), used.object.clone())) {
            Some(now) if now == &used.rate_limit => {
                steps.push(step("rate-limit-use", name, Action::Unchanged, None));
            }
            now => {
                let op = Op::Attach(used.clone());
                steps.push(step(
                    "rate-limit-use",
                    name,
                    action(now.is_none()),
                    Some(op),
                ));
            }
        }
    }

    if !dictionary_is_empty(&doc.dictionary) {
        let entries: BTreeSet<_> = dictionary.entries.iter().collect();
        let translations: BTreeSet<_> = dictionary.translations.iter().collect();
        let all_there = doc.dictionary.entries.iter().all(|e| entries.contains(e))
            && doc
                .dictionary
                .translations
                .iter()
                .all(|t| translations.contains(t));
        let (act, op) = if all_there {
            (Action::Unchanged, None)
        } else {
            let create = dictionary_is_empty(&dictionary);
            (action(create), Some(Op::Dictionary(doc.dictionary.clone())))
        };
        let mut s = step("dictionary", "dictionary".to_owned(), act, op);
        s.detail = Some(format!(
            "{} entries, {} translations",
            doc.dictionary.entries.len(),
            doc.dictionary.translations.len()
        ));
        steps.push(s);
    }

    if problems.is_empty() {
        Ok(Plan { steps })
    } else {
        Err(PlanError::Refused(problems))
    }
}

/// What an import does with an object whose secret is optional (an outgoing connection,
/// a messaging channel): its action, the secret to send, what to say of it. `equal` is
/// none when the environment has no such object, else whether its settings are the
/// document's.
fn optional_secret(
    what: &str,
    equal: Option<bool>,
    secret: Option<&str>,
    sources: &Sources<'_>,
    problems: &mut Vec<String>,
) -> (Action, Option<String>, Option<String>) {
    match (equal, resolve(secret, sources)) {
        (None, Secret::Given(s)) => (Action::Create, Some(s), None),
        (None, Secret::Unset(var)) => {
            problems.push(format!(
                "{what} does not exist here and its secret `${{{var}}}` is not set: set \
                 environment variable {var}, or remove `secret`"
            ));
            (Action::Create, None, None)
        }
        (None, Secret::None) => (Action::Create, None, None),
        (Some(_), Secret::Given(s)) if sources.update_secrets => {
            (Action::Update, Some(s), Some("secret sent".to_owned()))
        }
        (Some(true), _) => (Action::Unchanged, None, None),
        (Some(false), _) => (Action::Update, None, None),
    }
}

fn push_compared<T: Clone + PartialEq>(
    steps: &mut Vec<Step>,
    kind: &'static str,
    name: &str,
    now: Option<&T>,
    wanted: &T,
    op: impl FnOnce(bool, T) -> Op,
) {
    let (action, op) = match now {
        Some(now) if now == wanted => (Action::Unchanged, None),
        Some(_) => (Action::Update, Some(op(false, wanted.clone()))),
        None => (Action::Create, Some(op(true, wanted.clone()))),
    };
    steps.push(Step {
        kind,
        name: name.to_owned(),
        action,
        detail: None,
        op,
    });
}

fn duplicates(doc: &Enmasse, problems: &mut Vec<String>) {
    fn check(what: &str, names: impl Iterator<Item = String>, problems: &mut Vec<String>) {
        let mut seen = BTreeSet::new();
        for name in names {
            if !seen.insert(name.clone()) {
                problems.push(format!("{what} `{name}` is in the file twice"));
            }
        }
    }
    check(
        "rate limit",
        doc.rate_limits.iter().map(|r| r.name.clone()),
        problems,
    );
    check(
        "security definition",
        doc.security.iter().map(|d| d.name.clone()),
        problems,
    );
    check(
        "outgoing connection",
        doc.outconns
            .iter()
            .map(|c| format!("{}/{}", c.kind(), c.name)),
        problems,
    );
    check(
        "service",
        doc.services.iter().map(|s| s.name.clone()),
        problems,
    );
    check(
        "calendar",
        doc.calendars.iter().map(|c| c.name.clone()),
        problems,
    );
    check(
        "HTTP channel",
        doc.http_channels.iter().map(|c| c.name.clone()),
        problems,
    );
    check(
        "SOAP channel",
        doc.soap_channels.iter().map(|c| c.name.clone()),
        problems,
    );
    check(
        "messaging channel",
        doc.msg_channels
            .iter()
            .map(|c| format!("{}/{}", c.kind(), c.name)),
        problems,
    );
    check("job", doc.jobs.iter().map(|j| j.name.clone()), problems);
    check(
        "rate limit use",
        doc.rate_limit_uses
            .iter()
            .map(|u| format!("{}/{}", u.kind, u.object)),
        problems,
    );
}

/// A step that failed, after those before it were carried out.
#[derive(Debug)]
pub struct ApplyError {
    /// The index of the step that failed in [`Plan::steps`].
    pub step: usize,
    /// Why.
    pub error: ClientError,
}

/// Carries out `plan` step by step, calling `done` after each step that changed
/// something; stops at the first failure.
pub async fn apply(
    client: &AdminClient,
    plan: &Plan,
    mut done: impl FnMut(&Step),
) -> Result<(), ApplyError> {
    for (index, step) in plan.steps.iter().enumerate() {
        let Some(op) = &step.op else { continue };
        run(client, op)
            .await
            .map_err(|error| ApplyError { step: index, error })?;
        done(step);
    }
    Ok(())
}

async fn run(client: &AdminClient, op: &Op) -> Result<(), ClientError> {
    match op {
        Op::RateLimit(true, def) => {
            client.create_rate_limit(def).await?;
        }
        Op::RateLimit(false, def) => {
            client.update_rate_limit(&def.name, def).await?;
        }
        Op::Security(true, def) => {
            client.create_security_def(def).await?;
        }
        Op::Security(false, def) => {
            client.update_security_def(&def.name, def).await?;
        }
        Op::Outconn(true, conn) => {
            client.create_outconn(conn).await?;
        }
        Op::Outconn(false, conn) => {
            client.update_outconn(&conn.name, conn).await?;
        }
        Op::ServiceConfig(name, config) => {
            client.set_config_ahead(name, config).await?;
        }
        Op::Deploy {
            name,
            source,
            bytes,
        } => {
            let outcome = client.deploy(bytes.clone(), source).await?;
            if &outcome.name != name {
                return Err(ClientError::Unexpected(format!(
                    "`{source}` deployed as service `{}`, not `{name}` as the file says",
                    outcome.name
                )));
            }
        }
        Op::Calendar(true, calendar) => {
            client.create_calendar(calendar).await?;
        }
        Op::Calendar(false, calendar) => {
            client.update_calendar(&calendar.name, calendar).await?;
        }
        Op::HttpChannel(true, channel) => {
            client.create_http_channel(channel).await?;
        }
        Op::HttpChannel(false, channel) => {
            client.update_http_channel(&channel.name, channel).await?;
        }
        Op::SoapChannel(true, channel) => {
            client.create_soap_channel(channel).await?;
        }
        Op::SoapChannel(false, channel) => {
            client.update_soap_channel(&channel.name, channel).await?;
        }
        Op::MsgChannel(true, channel) => {
            client.create_msg_channel(channel).await?;
        }
        Op::MsgChannel(false, channel) => {
            client.update_msg_channel(channel).await?;
        }
        Op::Job(true, job) => {
            client.create_job(job).await?;
        }
        Op::Job(false, job) => {
            client.update_job(&job.name, job).await?;
        }
        Op::Attach(used) => {
            client
                .attach_rate_limit(used.kind, &used.object, Some(&used.rate_limit))
                .await?;
        }
        Op::Dictionary(dictionary) => {
            let data = serde_json::to_string(dictionary).expect("a dictionary serialises");
            let import = crate::DictImport {
                format: crate::DictFormat::Json,
                data,
                replace: false,
            };
            client.import_dictionary(&import).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_variable_is_named_after_its_object_and_read_back_from_its_reference() {
        let var = secret_variable("outconn_http", "crm.main-1");
        assert_eq!(var, "ZATO_SECRET_OUTCONN_HTTP_CRM_MAIN_1");
        assert_eq!(referenced_variable(&reference(&var)), Some(var.as_str()));
        assert_eq!(referenced_variable("${}"), None);
        assert_eq!(referenced_variable("${A B}"), None);
        assert_eq!(referenced_variable("plain secret"), None);
    }

    #[test]
    fn an_empty_document_is_the_format_line_alone() {
        let doc = Enmasse {
            zato_enmasse: FORMAT,
            ..Enmasse::default()
        };
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            format!("{{\"zato_enmasse\":{FORMAT}}}")
        );
        let err = serde_json::from_str::<Enmasse>(r#"{"zato_enmasse":1,"chanels":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `chanels`"), "{err}");
    }
}
