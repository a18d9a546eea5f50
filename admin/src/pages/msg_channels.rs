//! `/channels/messaging`: the messaging channels (AMQP queues, ZeroMQ sockets): a list
//! filtered by type, a create and edit form per type, and delete with a confirmation.
//!
//! An AMQP channel's secret (the broker's password) is write-only: the form shows
//! whether one is set, an empty password field keeps it, and a checkbox removes it. A
//! password typed in the URL is moved to the secret by the admin API, and this page
//! never sends one back either: a refused form shows the URL without it. A refusal of
//! the admin API is shown next to the field it names (`settings.url` -> the URL), or
//! above the form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::DataFormat;
use zato_api::messaging::{
    AmqpChannelSettings, MsgChannel, MsgChannelInfo, MsgChannelSettings, MsgChannelType,
    ZmqChannelSettings, ZmqChannelSocket,
};

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;

const SECTION: &str = "messaging";
const TYPES: [&str; 2] = ["amqp", "zmq"];
const FORMATS: [&str; 3] = ["json", "xml", "raw"];

struct Row {
    c: MsgChannelInfo,
    kind: &'static str,
    link: String,
    service_link: String,
    source: String,
    runs_on: String,
}

#[derive(Template)]
#[template(path = "msg_channels.html")]
struct ListPage {
    chrome: Chrome,
    kind: String,
    types: [&'static str; 2],
    notice: String,
    rows: Vec<Row>,
}

/// The list's query: `?type=` filters, `done` carries an outcome to show.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    done: String,
}

fn kind_of(s: &str) -> Result<MsgChannelType, PageError> {
    s.parse().map_err(|e: String| PageError::NotFound(e))
}

/// Where a channel's messages come from, for people.
fn source_of(settings: &MsgChannelSettings) -> String {
    match settings {
        MsgChannelSettings::Amqp(a) => format!("queue {} at {}", a.queue, a.url),
        MsgChannelSettings::Zmq(z) => format!(
            "{} {} {}",
            z.socket.as_str(),
            if z.bind { "bound to" } else { "connected to" },
            z.address
        ),
    }
}

/// Which servers consume, for people.
fn runs_on(settings: &MsgChannelSettings) -> String {
    match settings {
        MsgChannelSettings::Amqp(a) if a.singleton => {
            format!("the singleton ({} consumers)", a.consumers)
        }
        MsgChannelSettings::Amqp(a) => format!("every server ({} consumers each)", a.consumers),
        // A ZeroMQ socket runs once in the cluster; its messages go to any server.
        MsgChannelSettings::Zmq(_) => "the singleton".into(),
    }
}

/// `GET /channels/messaging?type=`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let kinds = match query.kind.as_str() {
        "" => MsgChannelType::ALL.to_vec(),
        k => vec![kind_of(k)?],
    };
    let cluster = app.cluster(&session)?;
    let kinds_ref = &kinds;
    let channels = app
        .clusters
        .call(&cluster, true, |c| async move {
            let mut all = Vec::new();
            for kind in kinds_ref {
                all.extend(c.msg_channels(*kind).await?);
            }
            Ok(all)
        })
        .await?;
    let rows = channels
        .into_iter()
        .map(|c| Row {
            kind: c.kind.as_str(),
            link: format!("{}/{}", c.kind, seg(&c.name)),
            service_link: seg(&c.service),
            source: source_of(&c.settings),
            runs_on: runs_on(&c.settings),
            c,
        })
        .collect();
    Ok(render(&ListPage {
        chrome: app.chrome(&session, SECTION),
        kind: query.kind,
        types: TYPES,
        notice: query.done,
        rows,
    }))
}

/// The form, as typed; which fields count depends on the type.
#[derive(Debug, Default, Deserialize)]
pub struct MsgChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    data_format: String,
    #[serde(default)]
    timeout_ms: String,
    /// AMQP: empty keeps the stored secret (on an edit) or none (on a create).
    #[serde(default)]
    secret: String,
    #[serde(default)]
    clear_secret: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    declare: String,
    #[serde(default)]
    dead_letter_exchange: String,
    #[serde(default)]
    prefetch: String,
    #[serde(default)]
    consumers: String,
    #[serde(default)]
    singleton: String,
    #[serde(default)]
    max_redeliveries: String,
    #[serde(default)]
    heartbeat: String,
    #[serde(default)]
    ca_pem: String,
    /// ZeroMQ: `pull` or `sub`.
    #[serde(default)]
    socket: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    bind: String,
    /// ZeroMQ SUB: one topic prefix per line.
    #[serde(default)]
    subscriptions: String,
}

fn on(flag: bool) -> String {
    if flag { "on".into() } else { String::new() }
}

/// The settings a new channel of `kind` starts from: the admin API's own defaults (its
/// types' serde defaults), so that the form and the API never disagree.
fn defaults(kind: MsgChannelType) -> MsgChannelSettings {
    let settings = match kind {
        MsgChannelType::Amqp => serde_json::json!({"type": "amqp", "url": "", "queue": ""}),
        MsgChannelType::Zmq => serde_json::json!({"type": "zmq", "socket": "pull", "address": ""}),
    };
    serde_json::from_value(settings).expect("the messaging settings have defaults")
}

fn pem_of(text: &str) -> Option<String> {
    let pem = text.trim();
    (!pem.is_empty()).then(|| format!("{pem}\n"))
}

impl MsgChannelForm {
    /// A new channel's form of `kind`, with the defaults.
    fn blank(kind: MsgChannelType) -> Self {
        let mut form = Self {
            active: on(true),
            data_format: DataFormat::default().as_str().into(),
            ..Self::default()
        };
        form.fill(&defaults(kind));
        form
    }

    fn of(c: &MsgChannelInfo) -> Self {
        let mut form = Self {
            name: c.name.clone(),
            active: on(c.active),
            service: c.service.clone(),
            data_format: c.data_format.as_str().into(),
            ..Self::default()
        };
        form.fill(&c.settings);
        form
    }

    fn fill(&mut self, settings: &MsgChannelSettings) {
        match settings {
            MsgChannelSettings::Amqp(a) => {
                self.url = a.url.clone();
                self.queue = a.queue.clone();
                self.declare = on(a.declare);
                self.dead_letter_exchange = a.dead_letter_exchange.clone().unwrap_or_default();
                self.prefetch = a.prefetch.to_string();
                self.consumers = a.consumers.to_string();
                self.singleton = on(a.singleton);
                self.max_redeliveries = a.max_redeliveries.to_string();
                self.heartbeat = a.heartbeat_s.to_string();
                self.ca_pem = a.ca_pem.clone().unwrap_or_default();
                self.timeout_ms = a.timeout_ms.to_string();
            }
            MsgChannelSettings::Zmq(z) => {
                self.socket = z.socket.as_str().into();
                self.address = z.address.clone();
                self.bind = on(z.bind);
                self.subscriptions = z.subscriptions.join("\n");
                self.timeout_ms = z.timeout_ms.to_string();
            }
        }
    }

    /// The channel the form describes, or what is wrong with it. `editing`: an empty
    /// secret keeps the stored one.
    fn channel(&self, kind: MsgChannelType, editing: bool) -> Result<MsgChannel, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A channel needs a name.");
        }
        let service = self.service.trim();
        if service.is_empty() {
            errors.set("service", "Name the service each message invokes.");
        }
        let data_format = self.data_format.parse::<DataFormat>().unwrap_or_else(|e| {
            errors.set("data_format", e);
            DataFormat::Json
        });
        let timeout_ms = number(&mut errors, "timeout_ms", &self.timeout_ms);
        let settings = match kind {
            MsgChannelType::Amqp => MsgChannelSettings::Amqp(AmqpChannelSettings {
                url: self.url.trim().into(),
                queue: self.queue.trim().into(),
                declare: !self.declare.is_empty(),
                dead_letter_exchange: Some(self.dead_letter_exchange.trim())
                    .filter(|dlx| !dlx.is_empty())
                    .map(str::to_owned),
                prefetch: number(&mut errors, "prefetch", &self.prefetch),
                consumers: number(&mut errors, "consumers", &self.consumers),
                singleton: !self.singleton.is_empty(),
                max_redeliveries: number(&mut errors, "max_redeliveries", &self.max_redeliveries),
                heartbeat_s: number(&mut errors, "heartbeat", &self.heartbeat),
                ca_pem: pem_of(&self.ca_pem),
                timeout_ms,
            }),
            MsgChannelType::Zmq => MsgChannelSettings::Zmq(ZmqChannelSettings {
                socket: match self.socket.as_str() {
                    "sub" => ZmqChannelSocket::Sub,
                    _ => ZmqChannelSocket::Pull,
                },
                address: self.address.trim().into(),
                bind: !self.bind.is_empty(),
                subscriptions: self
                    .subscriptions
                    .lines()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
                timeout_ms,
            }),
        };
        if errors.any() {
            return Err(errors);
        }
        // Only an AMQP channel has a secret (the broker's password).
        let secret = match kind {
            MsgChannelType::Zmq => None,
            MsgChannelType::Amqp if !self.clear_secret.is_empty() => Some(String::new()),
            MsgChannelType::Amqp if self.secret.is_empty() => (!editing).then(String::new),
            MsgChannelType::Amqp => Some(self.secret.clone()),
        };
        Ok(MsgChannel {
            name: name.into(),
            active: !self.active.is_empty(),
            service: service.into(),
            data_format,
            settings,
            secret,
        })
    }
}

/// A whole number typed in `field` (empty is 0).
fn number<T: std::str::FromStr + Default>(
    errors: &mut FormErrors,
    field: &'static str,
    text: &str,
) -> T {
    match text.trim() {
        "" => T::default(),
        t => t.parse().unwrap_or_else(|_| {
            errors.set(
                field,
                if t.parse::<u64>().is_ok() {
                    "Too large a number."
                } else {
                    "A whole number, 0 or more."
                },
            );
            T::default()
        }),
    }
}

/// `url` without the password typed in it (`amqp://user:PASSWORD@host/...`), and
/// whether there was one: a page never sends a password back.
fn without_password(url: &str) -> (String, bool) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), false);
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return (url.to_owned(), false);
    };
    let Some(colon) = authority[..at].find(':') else {
        return (url.to_owned(), false);
    };
    (
        format!("{scheme}://{}{}", &rest[..colon], &rest[at..]),
        true,
    )
}

/// The settings fields an admin API message can name (`settings.FIELD`), with the form
/// field each one is typed in.
const FIELDS: [(&str, &str); 15] = [
    ("url", "url"),
    ("queue", "queue"),
    ("declare", "declare"),
    ("dead_letter_exchange", "dead_letter_exchange"),
    ("prefetch", "prefetch"),
    ("consumers", "consumers"),
    ("singleton", "singleton"),
    ("max_redeliveries", "max_redeliveries"),
    ("heartbeat_s", "heartbeat"),
    ("ca_pem", "ca_pem"),
    ("timeout_ms", "timeout_ms"),
    ("socket", "socket"),
    ("address", "address"),
    ("bind", "bind"),
    ("subscriptions", "subscriptions"),
];

/// Puts an admin API refusal next to the field it names: the first `settings.FIELD`
/// in the message is its subject (`settings.dead_letter_exchange ... needs
/// settings.declare` is about the dead-letter exchange).
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let named = FIELDS
        .into_iter()
        .filter_map(|(setting, field)| {
            message
                .find(&format!("settings.{setting}"))
                .map(|at| (at, std::cmp::Reverse(setting.len()), field))
        })
        .min()
        .map(|(_, _, field)| field);
    let field = match named {
        Some(field) => Some(field),
        None if message.contains("subscriptions are over")
            || message.starts_with("subscription `") =>
        {
            Some("subscriptions")
        }
        None if status == 409 || message.starts_with("invalid name") => Some("name"),
        None if message.starts_with("invalid service") || message.starts_with("service `") => {
            Some("service")
        }
        None if message.contains("secret") || message.contains("password") => Some("secret"),
        None => None,
    };
    match field {
        Some(field) => errors.set(field, message),
        None => errors.top.push(message.to_owned()),
    }
    errors
}

#[derive(Template)]
#[template(path = "msg_channel_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    kind: &'static str,
    /// The type for people: `AMQP`, `ZeroMQ`.
    label: &'static str,
    action: String,
    link: String,
    form: MsgChannelForm,
    secret_set: bool,
    /// A password typed in the URL was taken out of the page sent back.
    password_dropped: bool,
    services: Vec<String>,
    formats: [&'static str; 3],
    errors: FormErrors,
}

async fn form_page(
    app: &App,
    session: &Session,
    kind: MsgChannelType,
    editing: bool,
    secret_set: bool,
    mut form: MsgChannelForm,
    errors: FormErrors,
) -> Result<Response, PageError> {
    // Never sent back: the secret is write-only, and so is a password in the URL.
    form.secret.clear();
    let (url, password_dropped) = without_password(&form.url);
    form.url = url;
    let cluster = app.cluster(session)?;
    // The service names for the field's suggestions; a cluster that cannot list them
    // still gets its form.
    let services = app
        .clusters
        .call(&cluster, true, |c| async move { c.services().await })
        .await
        .map(|s| s.into_iter().map(|s| s.name).collect())
        .unwrap_or_default();
    let link = format!("{kind}/{}", seg(&form.name));
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = FormPage {
        chrome: app.chrome(session, SECTION),
        editing,
        kind: kind.as_str(),
        label: match kind {
            MsgChannelType::Amqp => "AMQP",
            MsgChannelType::Zmq => "ZeroMQ",
        },
        action: if editing {
            format!("/channels/messaging/{link}")
        } else {
            format!("/channels/messaging/new/{kind}")
        },
        link,
        form,
        secret_set,
        password_dropped,
        services,
        formats: FORMATS,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// The new-channel form's query: `?service=` fills the service in.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    service: String,
}

/// `GET /channels/messaging/new/{type}`.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(kind): Path<String>,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let form = MsgChannelForm {
        service: query.service,
        ..MsgChannelForm::blank(kind)
    };
    form_page(
        &app,
        &session,
        kind,
        false,
        false,
        form,
        FormErrors::default(),
    )
    .await
}

/// `POST /channels/messaging/new/{type}`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(kind): Path<String>,
    Form(form): Form<MsgChannelForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let channel = match form.channel(kind, false) {
        Ok(channel) => channel,
        Err(errors) => return form_page(&app, &session, kind, false, false, form, errors).await,
    };
    let cluster = app.cluster(&session)?;
    let channel_ref = &channel;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_msg_channel(channel_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/channels/messaging?done={}",
            seg(&format!(
                "Channel {} ({}) created.",
                created.name, created.kind
            ))
        ))),
        Err(e) => refused(&app, &session, kind, false, false, form, e).await,
    }
}

async fn refused(
    app: &App,
    session: &Session,
    kind: MsgChannelType,
    editing: bool,
    secret_set: bool,
    form: MsgChannelForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let errors = attribute(message, status);
            form_page(app, session, kind, editing, secret_set, form, errors).await
        }
        None => Err(e.into()),
    }
}

async fn read(
    app: &App,
    session: &Session,
    kind: MsgChannelType,
    name: &str,
) -> Result<MsgChannelInfo, PageError> {
    let cluster = app.cluster(session)?;
    Ok(app
        .clusters
        .call(&cluster, true, |c| async move {
            c.msg_channel(kind, name).await
        })
        .await?)
}

/// `GET /channels/messaging/{type}/{name}`: the channel's edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let info = read(&app, &session, kind, &name).await?;
    form_page(
        &app,
        &session,
        kind,
        true,
        info.secret_set,
        MsgChannelForm::of(&info),
        FormErrors::default(),
    )
    .await
}

/// `POST /channels/messaging/{type}/{name}`: saves the edit form (a channel keeps its
/// name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
    Form(mut form): Form<MsgChannelForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    form.name = name.clone();
    let secret_set = read(&app, &session, kind, &name).await?.secret_set;
    let channel = match form.channel(kind, true) {
        Ok(channel) => channel,
        Err(errors) => {
            return form_page(&app, &session, kind, true, secret_set, form, errors).await;
        }
    };
    let cluster = app.cluster(&session)?;
    let channel_ref = &channel;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_msg_channel(channel_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/channels/messaging?done={}",
            seg(&format!("Channel {} ({}) saved.", saved.name, saved.kind))
        ))),
        Err(e) => refused(&app, &session, kind, true, secret_set, form, e).await,
    }
}

fn confirm_page(
    app: &App,
    session: &Session,
    kind: MsgChannelType,
    name: &str,
    errors: Vec<String>,
) -> Response {
    render(&super::services::ConfirmPage {
        chrome: app.chrome(session, SECTION),
        title: format!("Delete channel {name}"),
        question: format!(
            "Delete the {kind} channel {name}? Every server stops consuming from it at once \
             (messages being processed finish)."
        ),
        action: format!("/channels/messaging/{kind}/{}/delete", seg(name)),
        button: "Delete".into(),
        cancel: "/channels/messaging".into(),
        errors,
    })
}

/// `GET /channels/messaging/{type}/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    Ok(confirm_page(&app, &session, kind, &name, Vec::new()))
}

/// `POST /channels/messaging/{type}/{name}/delete`.
pub async fn delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.delete_msg_channel(kind, name_ref).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/channels/messaging?done={}",
            seg(&format!("Channel {name} ({kind}) deleted."))
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => Ok(confirm_page(
                &app,
                &session,
                kind,
                &name,
                vec![message.to_owned()],
            )),
            None => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_channel_of_its_type() {
        let form = MsgChannelForm {
            name: " orders ".into(),
            service: "demo.hello".into(),
            url: "amqp://guest@127.0.0.1:1/%2f".into(),
            queue: "orders".into(),
            dead_letter_exchange: "  ".into(),
            consumers: "4".into(),
            singleton: "on".into(),
            ..MsgChannelForm::blank(MsgChannelType::Amqp)
        };
        let channel = form.channel(MsgChannelType::Amqp, true).unwrap();
        assert_eq!(channel.name, "orders");
        assert_eq!(
            channel.secret, None,
            "an empty field keeps the secret on an edit"
        );
        let MsgChannelSettings::Amqp(a) = &channel.settings else {
            panic!("{channel:?}")
        };
        assert_eq!((a.consumers, a.singleton), (4, true));
        assert_eq!(a.dead_letter_exchange, None);
        assert_eq!(
            a.prefetch,
            match defaults(MsgChannelType::Amqp) {
                MsgChannelSettings::Amqp(d) => d.prefetch,
                other => panic!("{other:?}"),
            },
            "the blank form starts from the API's defaults"
        );
        assert_eq!(
            form.channel(MsgChannelType::Amqp, false).unwrap().secret,
            Some(String::new())
        );
        let cleared = MsgChannelForm {
            clear_secret: "on".into(),
            ..form
        };
        assert_eq!(
            cleared.channel(MsgChannelType::Amqp, true).unwrap().secret,
            Some(String::new())
        );

        let zmq = MsgChannelForm {
            name: "feed".into(),
            service: "demo.hello".into(),
            socket: "sub".into(),
            address: "tcp://127.0.0.1:1".into(),
            subscriptions: "orders.\r\n\n  invoices. \n".into(),
            ..MsgChannelForm::blank(MsgChannelType::Zmq)
        };
        let channel = zmq.channel(MsgChannelType::Zmq, false).unwrap();
        assert_eq!(channel.secret, None, "a ZeroMQ channel has no secret");
        let MsgChannelSettings::Zmq(z) = &channel.settings else {
            panic!("{channel:?}")
        };
        assert_eq!(z.socket, ZmqChannelSocket::Sub);
        assert_eq!(z.subscriptions, ["orders.", "invoices."]);
        assert!(!z.bind);

        let bad = MsgChannelForm {
            prefetch: "many".into(),
            consumers: "70000".into(),
            data_format: "yaml".into(),
            ..MsgChannelForm::blank(MsgChannelType::Amqp)
        };
        let errors = bad.channel(MsgChannelType::Amqp, false).unwrap_err();
        for field in ["name", "service", "prefetch", "consumers", "data_format"] {
            assert!(errors.field(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn a_password_in_the_url_is_never_sent_back() {
        assert_eq!(
            without_password("amqp://guest:pa:ss@127.0.0.1:1/v?x=1"),
            ("amqp://guest@127.0.0.1:1/v?x=1".to_owned(), true)
        );
        assert_eq!(
            without_password("amqp://guest@127.0.0.1:1/v"),
            ("amqp://guest@127.0.0.1:1/v".to_owned(), false)
        );
        assert_eq!(
            without_password("amqp://127.0.0.1:1/a@b"),
            ("amqp://127.0.0.1:1/a@b".to_owned(), false)
        );
        assert_eq!(
            without_password("not a url"),
            ("not a url".to_owned(), false)
        );
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute(
            "invalid settings.url `http://x`: an amqp:// or amqps:// URL is expected",
            400,
        );
        assert!(e.field("url").is_some());
        let e = attribute(
            "settings.dead_letter_exchange is set on the queue when the channel declares it: \
             it needs settings.declare",
            400,
        );
        assert!(e.field("dead_letter_exchange").is_some(), "{e:?}");
        let e = attribute("settings.consumers 0 is not within 1 to 64", 400);
        assert!(e.field("consumers").is_some());
        let e = attribute("settings.heartbeat_s 0 is wrong", 400);
        assert!(e.field("heartbeat").is_some());
        let e = attribute("300 subscriptions are over the most, 256", 400);
        assert!(e.field("subscriptions").is_some());
        let e = attribute("a amqp channel named `a` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("service `x` is not deployed", 400);
        assert!(e.field("service").is_some());
        let e = attribute(
            "the password is given twice, in the URL and as the secret",
            400,
        );
        assert!(e.field("secret").is_some());
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1);
    }
}
