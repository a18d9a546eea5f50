//! `/outconns`: the outgoing connections (HTTP, SOAP, SQL, FTP, AMQP, ZeroMQ): a list filtered by
//! type, a create and edit form per type, delete with a confirmation, and a ping of
//! each. The secret is write-only: the form shows whether one is set, an empty
//! password field keeps it, and a checkbox removes it. A refusal of the admin API is
//! shown next to the field it names (`settings.address` -> the address), or above the
//! form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::messaging::DEFAULT_AMQP_HEARTBEAT_S;
use zato_api::outconn::{
    AmqpSettings, FtpSettings, Header, HttpAuth, HttpSettings, Outconn, OutconnInfo,
    OutconnSettings, OutconnType, SoapSettings, SoapVersion, SqlSettings, ZmqOutSocket,
    ZmqSettings,
};

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;

const SECTION: &str = "outconns";
const TYPES: [&str; 6] = ["http", "soap", "sql", "ftp", "amqp", "zmq"];
const AUTHS: [&str; 4] = ["none", "basic", "bearer", "api_key"];
const PING_METHODS: [&str; 7] = ["HEAD", "GET", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

struct Row {
    c: OutconnInfo,
    kind: &'static str,
    link: String,
    target: String,
}

#[derive(Template)]
#[template(path = "outconns.html")]
struct ListPage {
    chrome: Chrome,
    kind: String,
    types: [&'static str; 6],
    notice: String,
    failure: String,
    rows: Vec<Row>,
}

/// The list's query: `?type=` filters, `done`/`failed` carry an outcome to show.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    failed: String,
}

fn kind_of(s: &str) -> Result<OutconnType, PageError> {
    s.parse().map_err(|e: String| PageError::NotFound(e))
}

/// Where a connection leads, for people.
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

/// `GET /outconns?type=`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let kind = match query.kind.as_str() {
        "" => None,
        k => Some(kind_of(k)?),
    };
    let cluster = app.cluster(&session)?;
    let conns = app
        .clusters
        .call(&cluster, true, |c| async move { c.outconns(kind).await })
        .await?;
    let rows = conns
        .into_iter()
        .map(|c| Row {
            kind: c.kind.as_str(),
            link: format!("{}/{}", c.kind, seg(&c.name)),
            target: target_of(&c.settings),
            c,
        })
        .collect();
    Ok(render(&ListPage {
        chrome: app.chrome(&session, SECTION),
        kind: query.kind,
        types: TYPES,
        notice: query.done,
        failure: query.failed,
        rows,
    }))
}

/// The form, as typed; which fields count depends on `kind`.
#[derive(Debug, Default, Deserialize)]
pub struct OutconnForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    active: String,
    /// Empty: keep the stored secret (on an edit) or none (on a create).
    #[serde(default)]
    secret: String,
    #[serde(default)]
    clear_secret: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    timeout_ms: String,
    #[serde(default)]
    pool_size: String,
    #[serde(default)]
    tls_verify: String,
    #[serde(default)]
    ca_pem: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    api_key_header: String,
    /// One `Name: value` per line.
    #[serde(default)]
    headers: String,
    #[serde(default)]
    retries: String,
    #[serde(default)]
    ping_method: String,
    #[serde(default)]
    soap_version: String,
    #[serde(default)]
    soap_action: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    max_rows: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    tls: String,
    #[serde(default)]
    base_dir: String,
    #[serde(default)]
    heartbeat: String,
    /// ZeroMQ: `push` or `pub`.
    #[serde(default)]
    socket: String,
    #[serde(default)]
    bind: String,
}

fn on(flag: bool) -> String {
    if flag { "on".into() } else { String::new() }
}

impl OutconnForm {
    /// A new connection's form of `kind`, with the defaults.
    fn blank(kind: OutconnType) -> Self {
        let mut form = Self {
            active: on(true),
            tls_verify: on(true),
            auth: "none".into(),
            ping_method: "HEAD".into(),
            soap_version: "1.1".into(),
            timeout_ms: "0".into(),
            pool_size: "0".into(),
            retries: "0".into(),
            max_rows: "0".into(),
            port: "21".into(),
            base_dir: "/".into(),
            ..Self::default()
        };
        match kind {
            OutconnType::Ftp => form.username = "anonymous".into(),
            OutconnType::Amqp => {
                form.heartbeat = DEFAULT_AMQP_HEARTBEAT_S.to_string();
                form.timeout_ms = "10000".into();
            }
            OutconnType::Zmq => {
                form.socket = "push".into();
                form.timeout_ms = "5000".into();
            }
            _ => {}
        }
        form
    }

    fn of(c: &OutconnInfo) -> Self {
        let mut form = Self {
            name: c.name.clone(),
            active: on(c.active),
            ..Self::blank(c.kind)
        };
        let http = |form: &mut Self, h: &HttpSettings| {
            form.address = h.address.clone();
            form.timeout_ms = h.timeout_ms.to_string();
            form.pool_size = h.pool_size.to_string();
            form.tls_verify = on(h.tls_verify);
            form.ca_pem = h.ca_pem.clone().unwrap_or_default();
            match &h.auth {
                HttpAuth::None => form.auth = "none".into(),
                HttpAuth::Basic { username } => {
                    form.auth = "basic".into();
                    form.username = username.clone();
                }
                HttpAuth::Bearer => form.auth = "bearer".into(),
                HttpAuth::ApiKey { header } => {
                    form.auth = "api_key".into();
                    form.api_key_header = header.clone();
                }
            }
            form.headers = h
                .headers
                .iter()
                .map(|h| format!("{}: {}", h.name, h.value))
                .collect::<Vec<_>>()
                .join("\n");
            form.retries = h.retries.to_string();
            form.ping_method = h.ping_method.clone();
        };
        match &c.settings {
            OutconnSettings::Http(h) => http(&mut form, h),
            OutconnSettings::Soap(s) => {
                http(&mut form, &s.http);
                form.soap_version = match s.version {
                    SoapVersion::V11 => "1.1".into(),
                    SoapVersion::V12 => "1.2".into(),
                };
                form.soap_action = s.soap_action.clone();
            }
            OutconnSettings::Sql(s) => {
                form.url = s.url.clone();
                form.pool_size = s.pool_size.to_string();
                form.timeout_ms = s.timeout_ms.to_string();
                form.max_rows = s.max_rows.to_string();
            }
            OutconnSettings::Ftp(f) => {
                form.host = f.host.clone();
                form.port = f.port.to_string();
                form.username = f.username.clone();
                form.tls = on(f.tls);
                form.ca_pem = f.ca_pem.clone().unwrap_or_default();
                form.base_dir = f.base_dir.clone();
                form.timeout_ms = f.timeout_ms.to_string();
            }
            OutconnSettings::Amqp(a) => {
                form.url = a.url.clone();
                form.heartbeat = a.heartbeat_s.to_string();
                form.ca_pem = a.ca_pem.clone().unwrap_or_default();
                form.timeout_ms = a.timeout_ms.to_string();
            }
            OutconnSettings::Zmq(z) => {
                form.socket = z.socket.as_str().into();
                form.address = z.address.clone();
                form.bind = on(z.bind);
                form.timeout_ms = z.timeout_ms.to_string();
            }
        }
        form
    }

    /// The connection the form describes, or what is wrong with it. `editing`: an
    /// empty secret keeps the stored one.
    fn outconn(&self, kind: OutconnType, editing: bool) -> Result<Outconn, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A connection needs a name.");
        }
        let settings = match kind {
            OutconnType::Http => OutconnSettings::Http(self.http(&mut errors)),
            OutconnType::Soap => OutconnSettings::Soap(SoapSettings {
                http: self.http(&mut errors),
                version: match self.soap_version.as_str() {
                    "1.2" => SoapVersion::V12,
                    _ => SoapVersion::V11,
                },
                soap_action: self.soap_action.trim().into(),
            }),
            OutconnType::Sql => OutconnSettings::Sql(SqlSettings {
                url: self.url.trim().into(),
                pool_size: number(&mut errors, "pool_size", &self.pool_size),
                timeout_ms: number(&mut errors, "timeout_ms", &self.timeout_ms),
                max_rows: number(&mut errors, "max_rows", &self.max_rows),
            }),
            OutconnType::Ftp => OutconnSettings::Ftp(FtpSettings {
                host: self.host.trim().into(),
                port: number(&mut errors, "port", &self.port),
                username: self.username.trim().into(),
                tls: !self.tls.is_empty(),
                ca_pem: {
                    let ca_pem = self.ca_pem.trim();
                    (!ca_pem.is_empty()).then(|| format!("{ca_pem}\n"))
                },
                base_dir: self.base_dir.trim().into(),
                timeout_ms: number(&mut errors, "timeout_ms", &self.timeout_ms),
            }),
            OutconnType::Amqp => OutconnSettings::Amqp(AmqpSettings {
                url: self.url.trim().into(),
                heartbeat_s: number(&mut errors, "heartbeat", &self.heartbeat),
                ca_pem: {
                    let ca_pem = self.ca_pem.trim();
                    (!ca_pem.is_empty()).then(|| format!("{ca_pem}\n"))
                },
                timeout_ms: number(&mut errors, "timeout_ms", &self.timeout_ms),
            }),
            OutconnType::Zmq => OutconnSettings::Zmq(ZmqSettings {
                socket: match self.socket.as_str() {
                    "pub" => ZmqOutSocket::Pub,
                    _ => ZmqOutSocket::Push,
                },
                address: self.address.trim().into(),
                bind: !self.bind.is_empty(),
                timeout_ms: number(&mut errors, "timeout_ms", &self.timeout_ms),
            }),
        };
        if errors.any() {
            return Err(errors);
        }
        let secret = if !self.clear_secret.is_empty() {
            Some(String::new())
        } else if self.secret.is_empty() {
            if editing { None } else { Some(String::new()) }
        } else {
            Some(self.secret.clone())
        };
        Ok(Outconn {
            name: name.into(),
            active: !self.active.is_empty(),
            settings,
            secret,
        })
    }

    fn http(&self, errors: &mut FormErrors) -> HttpSettings {
        let auth = match self.auth.as_str() {
            "basic" => HttpAuth::Basic {
                username: self.username.trim().into(),
            },
            "bearer" => HttpAuth::Bearer,
            "api_key" => HttpAuth::ApiKey {
                header: self.api_key_header.trim().into(),
            },
            _ => HttpAuth::None,
        };
        let mut headers = Vec::new();
        for line in self
            .headers
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match line.split_once(':') {
                Some((name, value)) => headers.push(Header {
                    name: name.trim().into(),
                    value: value.trim().into(),
                }),
                None => errors.set("headers", format!("`{line}` is not `Name: value`.")),
            }
        }
        let ca_pem = self.ca_pem.trim();
        HttpSettings {
            address: self.address.trim().into(),
            timeout_ms: number(errors, "timeout_ms", &self.timeout_ms),
            pool_size: number(errors, "pool_size", &self.pool_size),
            tls_verify: !self.tls_verify.is_empty(),
            ca_pem: (!ca_pem.is_empty()).then(|| format!("{ca_pem}\n")),
            auth,
            headers,
            retries: number(errors, "retries", &self.retries),
            ping_method: self.ping_method.trim().to_ascii_uppercase(),
        }
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
            errors.set(field, "A whole number, 0 or more.");
            T::default()
        }),
    }
}

/// The form fields an admin API message can name.
const FIELDS: [&str; 21] = [
    "heartbeat_s",
    "address",
    "timeout_ms",
    "pool_size",
    "ca_pem",
    "auth.username",
    "auth.header",
    "headers",
    "retries",
    "ping_method",
    "soap_action",
    "url",
    "max_rows",
    "host",
    "port",
    "base_dir",
    "username",
    "secret",
    "name",
    "tls_verify",
    "tls",
];

/// Puts an admin API refusal next to the field it names.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let field = FIELDS.into_iter().find(|f| {
        [format!("settings.{f}"), format!("settings.http.{f}")]
            .iter()
            .any(|named| message.contains(named.as_str()))
    });
    let field = match field {
        Some("auth.username") => Some("username"),
        Some("auth.header") => Some("api_key_header"),
        Some("heartbeat_s") => Some("heartbeat"),
        Some(f) => Some(f),
        None if status == 409 || message.starts_with("invalid name") => Some("name"),
        None if message.starts_with("invalid secret") => Some("secret"),
        None => None,
    };
    match field {
        Some(field) => errors.set(field, message),
        None => errors.top.push(message.to_owned()),
    }
    errors
}

#[derive(Template)]
#[template(path = "outconn_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    kind: &'static str,
    action: String,
    link: String,
    form: OutconnForm,
    secret_set: bool,
    auths: [&'static str; 4],
    ping_methods: [&'static str; 7],
    errors: FormErrors,
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    app: &App,
    session: &Session,
    kind: OutconnType,
    editing: bool,
    secret_set: bool,
    mut form: OutconnForm,
    errors: FormErrors,
) -> Response {
    // Never sent back: the field is write-only.
    form.secret.clear();
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
        action: if editing {
            format!("/outconns/{link}")
        } else {
            format!("/outconns/new/{kind}")
        },
        link,
        form,
        secret_set,
        auths: AUTHS,
        ping_methods: PING_METHODS,
        errors,
    };
    (status, render(&page)).into_response()
}

/// `GET /outconns/new/{type}`.
pub async fn new_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(kind): Path<String>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    Ok(form_page(
        &app,
        &session,
        kind,
        false,
        false,
        OutconnForm::blank(kind),
        FormErrors::default(),
    ))
}

/// `POST /outconns/new/{type}`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(kind): Path<String>,
    Form(form): Form<OutconnForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let conn = match form.outconn(kind, false) {
        Ok(conn) => conn,
        Err(errors) => return Ok(form_page(&app, &session, kind, false, false, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let conn_ref = &conn;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_outconn(conn_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/outconns?done={}",
            seg(&format!(
                "Connection {} ({}) created.",
                created.name, created.kind
            ))
        ))),
        Err(e) => refused(&app, &session, kind, false, false, form, e),
    }
}

fn refused(
    app: &App,
    session: &Session,
    kind: OutconnType,
    editing: bool,
    secret_set: bool,
    form: OutconnForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let errors = attribute(message, status);
            Ok(form_page(
                app, session, kind, editing, secret_set, form, errors,
            ))
        }
        None => Err(e.into()),
    }
}

async fn read(
    app: &App,
    session: &Session,
    kind: OutconnType,
    name: &str,
) -> Result<OutconnInfo, PageError> {
    let cluster = app.cluster(session)?;
    Ok(app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.outconn(kind, name).await },
        )
        .await?)
}

/// `GET /outconns/{type}/{name}`: the connection's edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let info = read(&app, &session, kind, &name).await?;
    Ok(form_page(
        &app,
        &session,
        kind,
        true,
        info.secret_set,
        OutconnForm::of(&info),
        FormErrors::default(),
    ))
}

/// `POST /outconns/{type}/{name}`: saves the edit form (a connection keeps its name).
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
    Form(mut form): Form<OutconnForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    form.name = name.clone();
    let secret_set = read(&app, &session, kind, &name).await?.secret_set;
    let conn = match form.outconn(kind, true) {
        Ok(conn) => conn,
        Err(errors) => {
            return Ok(form_page(
                &app, &session, kind, true, secret_set, form, errors,
            ));
        }
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, conn_ref) = (name.as_str(), &conn);
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_outconn(name_ref, conn_ref).await
        })
        .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/outconns?done={}",
            seg(&format!(
                "Connection {} ({}) saved.",
                saved.name, saved.kind
            ))
        ))),
        Err(e) => refused(&app, &session, kind, true, secret_set, form, e),
    }
}

/// `POST /outconns/{type}/{name}/ping`: pings it, and shows the outcome on the list.
pub async fn ping(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let cluster = app.cluster(&session)?;
    let name_ref = name.as_str();
    let outcome = app
        .clusters
        .call(&cluster, false, |c| async move {
            c.ping_outconn(kind, name_ref).await
        })
        .await;
    let to = match outcome {
        Ok(p) if p.ok => format!(
            "/outconns?done={}",
            seg(&format!(
                "Ping of {} ({}): answered in {} ms: {}",
                p.name, p.kind, p.ms, p.detail
            ))
        ),
        Ok(p) => format!(
            "/outconns?failed={}",
            seg(&format!(
                "Ping of {} ({}): no answer after {} ms: {}",
                p.name, p.kind, p.ms, p.detail
            ))
        ),
        Err(e) => match e.refusal() {
            Some((_, message)) => format!("/outconns?failed={}", seg(message)),
            None => return Err(e.into()),
        },
    };
    Ok(see_other(&to))
}

fn confirm_page(
    app: &App,
    session: &Session,
    kind: OutconnType,
    name: &str,
    errors: Vec<String>,
) -> Response {
    render(&super::services::ConfirmPage {
        chrome: app.chrome(session, SECTION),
        title: format!("Delete connection {name}"),
        question: format!(
            "Delete the {kind} connection {name}? Services calling it get an error on every \
             server at once (calls in flight finish)."
        ),
        action: format!("/outconns/{kind}/{}/delete", seg(name)),
        button: "Delete".into(),
        cancel: "/outconns".into(),
        errors,
    })
}

/// `GET /outconns/{type}/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path((kind, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    Ok(confirm_page(&app, &session, kind, &name, Vec::new()))
}

/// `POST /outconns/{type}/{name}/delete`.
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
            c.delete_outconn(kind, name_ref).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/outconns?done={}",
            seg(&format!("Connection {name} ({kind}) deleted."))
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
    fn a_form_becomes_a_connection_of_its_type() {
        let form = OutconnForm {
            name: " crm ".into(),
            active: "on".into(),
            address: "http://127.0.0.1:1/api".into(),
            auth: "basic".into(),
            username: "u".into(),
            headers: "X-A: 1\n\nX-B:2".into(),
            ping_method: "get".into(),
            ..OutconnForm::blank(OutconnType::Http)
        };
        let conn = form.outconn(OutconnType::Http, true).unwrap();
        assert_eq!(conn.name, "crm");
        assert_eq!(
            conn.secret, None,
            "an empty field keeps the secret on an edit"
        );
        let OutconnSettings::Http(h) = &conn.settings else {
            panic!("{conn:?}")
        };
        assert_eq!(h.headers.len(), 2);
        assert_eq!(h.ping_method, "GET");
        assert_eq!(
            h.auth,
            HttpAuth::Basic {
                username: "u".into()
            }
        );
        let cleared = OutconnForm {
            clear_secret: "on".into(),
            ..form
        };
        assert_eq!(
            cleared.outconn(OutconnType::Http, true).unwrap().secret,
            Some(String::new())
        );
        let bad = OutconnForm {
            port: "ninety".into(),
            headers: "no colon".into(),
            ..OutconnForm::blank(OutconnType::Ftp)
        };
        let errors = bad.outconn(OutconnType::Ftp, false).unwrap_err();
        assert!(errors.field("name").is_some());
        assert!(errors.field("port").is_some());
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute("invalid settings.address `x`: not a URL", 400);
        assert!(e.field("address").is_some());
        let e = attribute("invalid settings.http.address `x`: not a URL", 400);
        assert!(e.field("address").is_some());
        let e = attribute(
            "invalid settings.auth.header `x y`: not an HTTP header name",
            400,
        );
        assert!(e.field("api_key_header").is_some());
        let e = attribute("a connection of type http named `a` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1);
    }
}
