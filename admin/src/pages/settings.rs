//! `/settings`: the web admin's own clusters and users, saved to `web-admin.toml` at
//! each change (the configuration in force is replaced only once the file is written).
//! Passwords are never shown back.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::config::{ClusterConfig, UserConfig, WebAdminConfig, hash_password};

/// The shortest password a new user may have.
const MIN_PASSWORD: usize = 8;

struct ClusterRow {
    name: String,
    link: String,
    place: String,
    username: String,
}

/// The cluster form, as typed (the password is never filled back in).
#[derive(Debug, Default, Deserialize)]
pub struct ClusterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    environment: String,
}

impl ClusterForm {
    fn of(c: &ClusterConfig) -> Self {
        Self {
            name: c.name.clone(),
            url: c.url.clone().unwrap_or_default(),
            username: c.username.clone().unwrap_or_default(),
            password: String::new(),
            environment: c
                .environment
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// The cluster the form describes; `old` gives the password an edit left empty.
    fn cluster(&self, old: Option<&ClusterConfig>) -> Result<ClusterConfig, FormErrors> {
        let mut errors = FormErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.set("name", "A cluster needs a name.");
        }
        let (url, username, environment) = (
            self.url.trim(),
            self.username.trim(),
            self.environment.trim(),
        );
        let remote = !url.is_empty() || !username.is_empty() || !self.password.is_empty();
        let cluster = if !environment.is_empty() {
            if remote {
                errors.set(
                    "environment",
                    "Give either an environment or a URL with its credentials, not both.",
                );
            }
            ClusterConfig::environment(name, environment)
        } else {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                errors.set(
                    "url",
                    "A URL starting with http:// or https://, or an environment below.",
                );
            }
            let password = match (
                self.password.as_str(),
                old.and_then(|o| o.password.as_deref()),
            ) {
                ("", Some(kept)) => kept.to_owned(),
                ("", None) => {
                    errors.set("password", "The admin API's user and password are needed.");
                    String::new()
                }
                (typed, _) => typed.to_owned(),
            };
            if username.is_empty() {
                errors.set("password", "The admin API's user and password are needed.");
            }
            // The load balancer's URL and the CA are set in web-admin.toml only: an edit
            // keeps them.
            ClusterConfig {
                lb_url: old.and_then(|o| o.lb_url.clone()),
                ca: old.and_then(|o| o.ca.clone()),
                ..ClusterConfig::remote(name, url, username, &password)
            }
        };
        if errors.any() {
            Err(errors)
        } else {
            Ok(cluster)
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    config_path: String,
    notice: String,
    clusters: Vec<ClusterRow>,
    users: Vec<(String, String)>,
    cluster: ClusterForm,
    cluster_action: String,
    cluster_editing: bool,
    cluster_errors: FormErrors,
    user_name: String,
    user_errors: FormErrors,
}

#[derive(Template)]
#[template(path = "cluster_form.html")]
struct ClusterPage {
    chrome: Chrome,
    cluster: ClusterForm,
    cluster_action: String,
    cluster_editing: bool,
    cluster_errors: FormErrors,
}

fn settings_page(
    app: &App,
    session: &Session,
    notice: String,
    cluster: ClusterForm,
    cluster_errors: FormErrors,
    user_name: String,
    user_errors: FormErrors,
) -> Response {
    let (clusters, users) = {
        let config = app.config.read().unwrap();
        let clusters = config
            .clusters
            .iter()
            .map(|c| ClusterRow {
                name: c.name.clone(),
                link: seg(&c.name),
                place: match (&c.url, &c.environment) {
                    (Some(url), _) => url.clone(),
                    (None, Some(env)) => format!("environment {}", env.display()),
                    _ => String::new(),
                },
                username: c.username.clone().unwrap_or_default(),
            })
            .collect();
        let users = config
            .users
            .iter()
            .map(|u| (u.name.clone(), seg(&u.name)))
            .collect();
        (clusters, users)
    };
    let status = if cluster_errors.any() || user_errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SettingsPage {
        chrome: app.chrome(session, "settings"),
        config_path: app.config_path.display().to_string(),
        notice,
        clusters,
        users,
        cluster,
        cluster_action: "/settings/clusters".into(),
        cluster_editing: false,
        cluster_errors,
        user_name,
        user_errors,
    };
    (status, render(&page)).into_response()
}

/// The settings page's query: what a redirect wants said.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsQuery {
    #[serde(default)]
    saved: String,
}

/// `GET /settings`.
pub async fn show(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<SettingsQuery>,
) -> Response {
    let notice = if query.saved.is_empty() {
        String::new()
    } else {
        "Settings saved.".into()
    };
    settings_page(
        &app,
        &session,
        notice,
        ClusterForm::default(),
        FormErrors::default(),
        String::new(),
        FormErrors::default(),
    )
}

/// Applies `change` to a copy of the configuration, checks and saves it, and only then
/// puts it in force. `Err` says why nothing changed.
fn update(
    app: &App,
    change: impl FnOnce(&mut WebAdminConfig) -> Result<(), String>,
) -> Result<(), String> {
    let mut config = app.config.write().unwrap();
    let mut next = config.clone();
    change(&mut next)?;
    next.check().map_err(|e| format!("{e:#}"))?;
    next.save(&app.config_path)
        .map_err(|e| format!("the settings were not saved: {e:#}"))?;
    *config = next;
    Ok(())
}

/// `POST /settings/clusters`: adds a cluster.
pub async fn add_cluster(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<ClusterForm>,
) -> Response {
    let result = form.cluster(None).and_then(|cluster| {
        update(&app, |config| {
            if config.cluster(&cluster.name).is_some() {
                return Err(format!("a cluster named `{}` exists already", cluster.name));
            }
            config.clusters.push(cluster);
            Ok(())
        })
        .map_err(|e| {
            let mut errors = FormErrors::default();
            if e.contains("exists already") {
                errors.set("name", e);
            } else {
                errors.top.push(e);
            }
            errors
        })
    });
    match result {
        Ok(()) => see_other("/settings?saved=cluster#clusters"),
        Err(errors) => settings_page(
            &app,
            &session,
            String::new(),
            form,
            errors,
            String::new(),
            FormErrors::default(),
        ),
    }
}

fn cluster_page(app: &App, session: &Session, form: ClusterForm, errors: FormErrors) -> Response {
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ClusterPage {
        chrome: app.chrome(session, "settings"),
        cluster_action: format!("/settings/clusters/{}", seg(&form.name)),
        cluster: form,
        cluster_editing: true,
        cluster_errors: errors,
    };
    (status, render(&page)).into_response()
}

/// `GET /settings/clusters/{name}`: a cluster's edit form.
pub async fn cluster_form(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let form = app
        .config
        .read()
        .unwrap()
        .cluster(&name)
        .map(ClusterForm::of)
        .ok_or_else(|| PageError::NotFound(format!("no cluster named `{name}`")))?;
    Ok(cluster_page(&app, &session, form, FormErrors::default()))
}

/// `POST /settings/clusters/{name}`: saves a cluster's edit form (an empty password
/// keeps the one it had).
pub async fn update_cluster(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Form(mut form): Form<ClusterForm>,
) -> Result<Response, PageError> {
    form.name = name.clone();
    let old = app
        .config
        .read()
        .unwrap()
        .cluster(&name)
        .cloned()
        .ok_or_else(|| PageError::NotFound(format!("no cluster named `{name}`")))?;
    let result = form.cluster(Some(&old)).and_then(|cluster| {
        update(&app, |config| {
            let slot = config
                .clusters
                .iter_mut()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("no cluster named `{name}`"))?;
            *slot = cluster;
            Ok(())
        })
        .map_err(|e| FormErrors {
            top: vec![e],
            ..FormErrors::default()
        })
    });
    Ok(match result {
        Ok(()) => see_other("/settings?saved=cluster#clusters"),
        Err(errors) => cluster_page(&app, &session, form, errors),
    })
}

/// `POST /settings/clusters/{name}/delete`.
pub async fn remove_cluster(
    State(app): Shared,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    update(&app, |config| {
        let before = config.clusters.len();
        config.clusters.retain(|c| c.name != name);
        if config.clusters.len() == before {
            return Err(format!("no cluster named `{name}`"));
        }
        Ok(())
    })
    .map_err(PageError::BadRequest)?;
    Ok(see_other("/settings?saved=cluster#clusters"))
}

/// The new-user form.
#[derive(Debug, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

/// `POST /settings/users`: adds a user (its password stored as an argon2id hash).
pub async fn add_user(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<UserForm>,
) -> Result<Response, PageError> {
    let mut errors = FormErrors::default();
    let name = form.name.trim().to_owned();
    if name.is_empty() {
        errors.set("name", "A user needs a name.");
    } else if app
        .config
        .read()
        .unwrap()
        .users
        .iter()
        .any(|u| u.name == name)
    {
        errors.set("name", format!("a user named `{name}` exists already"));
    }
    if form.password.chars().count() < MIN_PASSWORD {
        errors.set(
            "password",
            format!("A password has at least {MIN_PASSWORD} characters."),
        );
    } else if form.password != form.password2 {
        errors.set("password", "The two passwords differ.");
    }
    if !errors.any() {
        let password_hash = {
            let _permit = app
                .argon2
                .acquire()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let password = form.password.clone();
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?
        };
        let user = UserConfig {
            name: name.clone(),
            password_hash,
        };
        match update(&app, |config| {
            config.users.push(user);
            Ok(())
        }) {
            Ok(()) => return Ok(see_other("/settings?saved=user#users")),
            Err(e) => errors.top.push(e),
        }
    }
    Ok(settings_page(
        &app,
        &session,
        String::new(),
        ClusterForm::default(),
        FormErrors::default(),
        name,
        errors,
    ))
}

/// `POST /settings/users/{name}/delete`.
pub async fn remove_user(
    State(app): Shared,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    update(&app, |config| {
        let before = config.users.len();
        config.users.retain(|u| u.name != name);
        if config.users.len() == before {
            return Err(format!("no user named `{name}`"));
        }
        Ok(())
    })
    .map_err(PageError::BadRequest)?;
    Ok(see_other("/settings?saved=user#users"))
}
