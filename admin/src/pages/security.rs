//! `/security`: the security definitions (HTTP basic auth, API keys): a list, a create
//! and edit form per type, delete with a confirmation. The password or key is
//! write-only: never shown, required on a create; on an edit an empty field keeps it and
//! a filled one changes it (`change_security_secret`). A refusal of the admin API is
//! shown next to the field it names (`` `secret`: ... `` -> the password or key), or
//! above the form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::security::{
    ApikeySettings, BasicAuthSettings, ClientCertSettings, DEFAULT_APIKEY_HEADER,
    DEFAULT_JWT_TTL_S, DEFAULT_REALM, JwtAlgorithm, JwtSettings, SecurityDef, SecurityDefInfo,
    SecuritySettings, SecurityType, parse_subject_field, subject_text,
};

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::clusters::ClusterError;
use crate::pages::Deletion;

const SECTION: &str = "security";

struct Row {
    d: SecurityDefInfo,
    link: String,
    /// The username (basic auth) or the header (API key).
    who: String,
    /// The realm (basic auth), else empty.
    realm: String,
}

#[derive(Template)]
#[template(path = "security.html")]
struct ListPage {
    chrome: Chrome,
    notice: String,
    rows: Vec<Row>,
}

/// The list's query: `done` carries an outcome to show.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: String,
}

fn kind_of(s: &str) -> Result<SecurityType, PageError> {
    s.parse().map_err(|e: String| PageError::NotFound(e))
}

/// `GET /security`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let cluster = app.cluster(&session)?;
    let defs = app
        .clusters
        .call(&cluster, true, |c| async move { c.security_defs().await })
        .await?;
    let rows = defs
        .into_iter()
        .map(|d| {
            let (who, realm) = match &d.settings {
                SecuritySettings::BasicAuth(b) => (b.username.clone(), b.realm.clone()),
                SecuritySettings::Apikey(k) => (k.header.clone(), String::new()),
                SecuritySettings::Jwt(j) => (
                    format!("log-in: {}", j.login),
                    format!("{} {} → {}", j.algorithm, j.issuer, j.audience),
                ),
                SecuritySettings::Tls(c) => (subject_text(&c.subject), "client certificate".into()),
            };
            Row {
                link: seg(&d.name),
                d,
                who,
                realm,
            }
        })
        .collect();
    Ok(render(&ListPage {
        chrome: app.chrome(&session, SECTION),
        notice: query.done,
        rows,
    }))
}

/// The form, as typed; which fields count depends on the type.
#[derive(Debug, Default, Deserialize)]
pub struct SecurityForm {
    #[serde(default)]
    name: String,
    /// The password or key. Empty on an edit: keep the stored one.
    #[serde(default)]
    secret: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    realm: String,
    #[serde(default)]
    header: String,
    /// JWT: the algorithm, issuer, audience, token life, log-in definition and public key.
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    ttl_s: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    public_key: String,
    /// TLS client certificates: the CA (PEM) and the subject (`CN=partner, O=ACME`).
    #[serde(default)]
    ca_pem: String,
    #[serde(default)]
    subject: String,
}

impl SecurityForm {
    /// A new definition's form, with the defaults.
    fn blank() -> Self {
        Self {
            realm: DEFAULT_REALM.into(),
            header: DEFAULT_APIKEY_HEADER.into(),
            algorithm: JwtAlgorithm::HS256.as_str().into(),
            ttl_s: DEFAULT_JWT_TTL_S.to_string(),
            ..Self::default()
        }
    }

    fn of(d: &SecurityDefInfo) -> Self {
        let mut form = Self {
            name: d.name.clone(),
            ..Self::blank()
        };
        match &d.settings {
            SecuritySettings::BasicAuth(b) => {
                form.username = b.username.clone();
                form.realm = b.realm.clone();
            }
            SecuritySettings::Apikey(k) => form.header = k.header.clone(),
            SecuritySettings::Jwt(j) => {
                form.algorithm = j.algorithm.as_str().into();
                form.issuer = j.issuer.clone();
                form.audience = j.audience.clone();
                form.ttl_s = j.ttl_s.to_string();
                form.login = j.login.clone();
                form.public_key = j.public_key.clone().unwrap_or_default();
            }
            SecuritySettings::Tls(c) => {
                form.ca_pem = c.ca_pem.clone();
                form.subject = subject_text(&c.subject);
            }
        }
        form
    }

    /// The definition the form describes, or what is wrong with it. On an edit
    /// (`editing`) the secret is left out: an empty field keeps it, a filled one is
    /// changed apart, checked here first so that a refused one changes nothing.
    fn def(&self, kind: SecurityType, editing: bool) -> Result<SecurityDef, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A definition needs a name.");
        }
        let settings = match kind {
            SecurityType::BasicAuth => SecuritySettings::BasicAuth(BasicAuthSettings {
                username: self.username.trim().into(),
                realm: self.realm.trim().into(),
            }),
            SecurityType::Apikey => SecuritySettings::Apikey(ApikeySettings {
                header: self.header.trim().into(),
            }),
            SecurityType::Jwt => {
                let algorithm = self.algorithm.parse().unwrap_or_else(|e: String| {
                    errors.set("algorithm", e);
                    JwtAlgorithm::HS256
                });
                let ttl_s = self.ttl_s.trim().parse::<u64>().unwrap_or_else(|_| {
                    errors.set("ttl_s", "A token's life is a number of seconds.");
                    0
                });
                let public_key = self.public_key.trim();
                SecuritySettings::Jwt(JwtSettings {
                    algorithm,
                    issuer: self.issuer.trim().into(),
                    audience: self.audience.trim().into(),
                    ttl_s,
                    login: self.login.trim().into(),
                    public_key: (!public_key.is_empty()).then(|| format!("{public_key}\n")),
                })
            }
            SecurityType::Tls => {
                let mut subject = std::collections::BTreeMap::new();
                for part in self.subject.split(',').filter(|p| !p.trim().is_empty()) {
                    match parse_subject_field(part) {
                        Ok((field, value)) => {
                            subject.insert(field, value);
                        }
                        Err(e) => errors.set("subject", format!("`subject`: {e}")),
                    }
                }
                // A browser sends a text area's lines ended with CR LF.
                let ca_pem = self.ca_pem.replace("\r\n", "\n");
                let ca_pem = ca_pem.trim();
                SecuritySettings::Tls(ClientCertSettings {
                    ca_pem: if ca_pem.is_empty() {
                        String::new()
                    } else {
                        format!("{ca_pem}\n")
                    },
                    subject,
                })
            }
        };
        if !self.secret.is_empty()
            && editing
            && let Err(e) = settings.check_secret(&self.secret)
        {
            errors.set("secret", format!("`secret`: {e}"));
        }
        if errors.any() {
            return Err(errors);
        }
        Ok(SecurityDef {
            name: name.into(),
            secret: (!editing && kind.has_secret()).then(|| self.secret.clone()),
            settings,
        })
    }
}

/// Puts an admin API refusal next to the field it names.
fn attribute(message: &str, status: u16) -> FormErrors {
    let mut errors = FormErrors::default();
    let field = if message.starts_with("`secret`") {
        Some("secret")
    } else if message.starts_with("`name`") || status == 409 {
        Some("name")
    } else if let Some(rest) = message.strip_prefix("`settings`: ") {
        [
            "username",
            "realm",
            "header",
            "algorithm",
            "issuer",
            "audience",
            "ttl_s",
            "login",
            "public_key",
            "ca_pem",
            "subject",
        ]
        .into_iter()
        .find(|f| rest.starts_with(&format!("`{f}`")))
    } else {
        None
    };
    match field {
        Some(field) => errors.set(field, message),
        None => errors.top.push(message.to_owned()),
    }
    errors
}

#[derive(Template)]
#[template(path = "security_form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    kind: &'static str,
    action: String,
    link: String,
    form: SecurityForm,
    errors: FormErrors,
}

fn form_page(
    app: &App,
    session: &Session,
    kind: SecurityType,
    editing: bool,
    mut form: SecurityForm,
    errors: FormErrors,
) -> Response {
    // Never sent back: the field is write-only.
    form.secret.clear();
    let link = seg(&form.name);
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
            format!("/security/{link}")
        } else {
            format!("/security/new/{kind}")
        },
        link,
        form,
        errors,
    };
    (status, render(&page)).into_response()
}

fn refused(
    app: &App,
    session: &Session,
    kind: SecurityType,
    editing: bool,
    form: SecurityForm,
    e: ClusterError,
) -> Result<Response, PageError> {
    match e.refusal() {
        Some((status, message)) => {
            let errors = attribute(message, status);
            Ok(form_page(app, session, kind, editing, form, errors))
        }
        None => Err(e.into()),
    }
}

/// `GET /security/new/{type}`.
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
        SecurityForm::blank(),
        FormErrors::default(),
    ))
}

/// `POST /security/new/{type}`.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(kind): Path<String>,
    Form(form): Form<SecurityForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&kind)?;
    let def = match form.def(kind, false) {
        Ok(def) => def,
        Err(errors) => return Ok(form_page(&app, &session, kind, false, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let def_ref = &def;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_security_def(def_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/security?done={}",
            seg(&format!(
                "Security definition {} ({}) created.",
                created.name, created.kind
            ))
        ))),
        Err(e) => refused(&app, &session, kind, false, form, e),
    }
}

async fn read(app: &App, session: &Session, name: &str) -> Result<SecurityDefInfo, PageError> {
    let cluster = app.cluster(session)?;
    Ok(app
        .clusters
        .call(
            &cluster,
            true,
            |c| async move { c.security_def(name).await },
        )
        .await?)
}

/// `GET /security/{name}`: the definition's edit form.
pub async fn edit_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let info = read(&app, &session, &name).await?;
    Ok(form_page(
        &app,
        &session,
        info.kind,
        true,
        SecurityForm::of(&info),
        FormErrors::default(),
    ))
}

/// `POST /security/{name}`: saves the edit form (a definition keeps its name and type),
/// then the new password or key if one was typed.
pub async fn update(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<SecurityForm>,
) -> Result<Response, PageError> {
    form.name = name.clone();
    let kind = read(&app, &session, &name).await?.kind;
    let def = match form.def(kind, true) {
        Ok(def) => def,
        Err(errors) => return Ok(form_page(&app, &session, kind, true, form, errors)),
    };
    let cluster = app.cluster(&session)?;
    let (name_ref, def_ref) = (name.as_str(), &def);
    if let Err(e) = app
        .clusters
        .call(&cluster, false, |c| async move {
            c.update_security_def(name_ref, def_ref).await
        })
        .await
    {
        return refused(&app, &session, kind, true, form, e);
    }
    let mut done = format!("Security definition {name} ({kind}) saved");
    if !form.secret.is_empty() {
        let secret = form.secret.as_str();
        if let Err(e) = app
            .clusters
            .call(&cluster, false, |c| async move {
                c.change_security_secret(name_ref, secret).await
            })
            .await
        {
            return refused(&app, &session, kind, true, form, e);
        }
        done.push_str(match kind {
            SecurityType::BasicAuth => ", its password changed",
            SecurityType::Apikey | SecurityType::Jwt | SecurityType::Tls => ", its key changed",
        });
    }
    Ok(see_other(&format!(
        "/security?done={}",
        seg(&format!("{done}."))
    )))
}

fn deletion(name: &str) -> Deletion {
    Deletion {
        section: SECTION,
        title: format!("Delete security definition {name}"),
        question: format!(
            "Delete security definition {name}? Its password or key is forgotten: creating \
             it again needs a new one."
        ),
        action: format!("/security/{}/delete", seg(name)),
        cancel: "/security".into(),
    }
}

/// `GET /security/{name}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    Ok(deletion(&name).page(&app, &session, Vec::new()))
}

/// `POST /security/{name}/delete`.
pub async fn delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let name_ref = name.as_str();
    deletion(&name)
        .run(
            &app,
            &session,
            |c| async move { c.delete_security_def(name_ref).await },
            |deleted| {
                (
                    "/security".into(),
                    format!(
                        "Security definition {} ({}) deleted.",
                        deleted.name, deleted.kind
                    ),
                )
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_definition_of_its_type() {
        let form = SecurityForm {
            name: " partner ".into(),
            username: " acme ".into(),
            realm: "partners".into(),
            secret: "s3cret".into(),
            ..SecurityForm::blank()
        };
        let def = form.def(SecurityType::BasicAuth, false).unwrap();
        assert_eq!(def.name, "partner");
        assert_eq!(def.secret.as_deref(), Some("s3cret"), "a create sends it");
        assert_eq!(
            def.settings,
            SecuritySettings::BasicAuth(BasicAuthSettings {
                username: "acme".into(),
                realm: "partners".into()
            })
        );
        // An edit never sends it with the settings: it is changed apart, or kept.
        assert_eq!(
            form.def(SecurityType::BasicAuth, true).unwrap().secret,
            None
        );
        let key = SecurityForm {
            name: "crm".into(),
            ..SecurityForm::blank()
        };
        let def = key.def(SecurityType::Apikey, true).unwrap();
        assert_eq!(
            def.settings,
            SecuritySettings::Apikey(ApikeySettings {
                header: "X-API-Key".into()
            })
        );
        // A key too short for an edit is refused before anything is saved.
        let short = SecurityForm {
            secret: "short".into(),
            ..key
        };
        let errors = short.def(SecurityType::Apikey, true).unwrap_err();
        assert!(errors.field("secret").unwrap().contains("16"));
        let errors = SecurityForm::blank()
            .def(SecurityType::Apikey, false)
            .unwrap_err();
        assert!(errors.field("name").is_some());

        // JWT: the token's life is a number, the algorithm one of three.
        let jwt = SecurityForm {
            name: "partner-jwt".into(),
            issuer: "zato".into(),
            audience: "partners".into(),
            login: "partner".into(),
            secret: "k".repeat(32),
            ..SecurityForm::blank()
        };
        let def = jwt.def(SecurityType::Jwt, false).unwrap();
        assert_eq!(
            def.settings,
            SecuritySettings::Jwt(JwtSettings {
                algorithm: JwtAlgorithm::HS256,
                issuer: "zato".into(),
                audience: "partners".into(),
                ttl_s: DEFAULT_JWT_TTL_S,
                login: "partner".into(),
                public_key: None,
            })
        );
        let bad = SecurityForm {
            algorithm: "HS1".into(),
            ttl_s: "soon".into(),
            ..jwt
        };
        let errors = bad.def(SecurityType::Jwt, false).unwrap_err();
        assert!(errors.field("algorithm").is_some());
        assert!(errors.field("ttl_s").is_some());
    }

    #[test]
    fn refusals_land_next_to_their_field() {
        let e = attribute(
            "`secret`: the key is 5 bytes long: an API key needs at least 16",
            400,
        );
        assert!(e.field("secret").unwrap().contains("16"));
        let e = attribute("`settings`: `username` contains `:`, which ...", 400);
        assert!(e.field("username").is_some());
        let e = attribute("`settings`: `realm` `a\"b` must be printable ASCII", 400);
        assert!(e.field("realm").is_some());
        let e = attribute(
            "`settings`: `header` `X Key` is not an HTTP header name",
            400,
        );
        assert!(e.field("header").is_some());
        let e = attribute("`name`: invalid name", 400);
        assert!(e.field("name").is_some());
        let e = attribute("a security definition named `crm` exists already", 409);
        assert!(e.field("name").is_some());
        let e = attribute("the ODB is down", 500);
        assert_eq!(e.top.len(), 1);
    }
}
