//! `/users`: the admin API's users: a list (the configuration's admin first), a form
//! that creates one, a form per user that changes its password, delete with a
//! confirmation. Passwords are write-only: never shown, never sent back in a form.

use askama::Template;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zato_api::users::{AdminUserInfo, NewAdminUser, UserSource, check_password, check_username};

use super::FormErrors;
use crate::app::{App, Chrome, PageError, Shared, render, see_other, seg};
use crate::auth::Session;
use crate::pages::Deletion;

const SECTION: &str = "users";

struct Row {
    u: AdminUserInfo,
    link: String,
    /// Whether the admin API can change it (the configuration's admin it cannot).
    editable: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct ListPage {
    chrome: Chrome,
    notice: String,
    rows: Vec<Row>,
    /// The username typed in the create form (kept on a refusal).
    username: String,
    errors: FormErrors,
}

/// The list's query: `done` carries an outcome to show.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    done: String,
}

/// The create form and the change-password form.
#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn list_page(
    app: &App,
    session: &Session,
    notice: String,
    username: String,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let cluster = app.cluster(session)?;
    let users = app
        .clusters
        .call(&cluster, true, |c| async move { c.admin_users().await })
        .await?;
    let rows = users
        .into_iter()
        .map(|u| Row {
            link: seg(&u.username),
            editable: u.source == UserSource::Odb,
            u,
        })
        .collect();
    let status = if errors.any() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        chrome: app.chrome(session, SECTION),
        notice,
        rows,
        username,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

/// `GET /users`.
pub async fn list(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    list_page(
        &app,
        &session,
        query.done,
        String::new(),
        FormErrors::default(),
    )
    .await
}

/// `POST /users`: creates a user.
pub async fn create(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Form(form): Form<UserForm>,
) -> Result<Response, PageError> {
    let username = form.username.trim().to_owned();
    let mut errors = FormErrors::default();
    if let Err(e) = check_username(&username) {
        errors.set("username", e);
    }
    if let Err(e) = check_password(&form.password) {
        errors.set("password", e);
    }
    if errors.any() {
        return list_page(&app, &session, String::new(), username, errors).await;
    }
    let cluster = app.cluster(&session)?;
    let user = NewAdminUser {
        username: username.clone(),
        password: form.password,
    };
    let user_ref = &user;
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.create_admin_user(user_ref).await
        })
        .await
    {
        Ok(created) => Ok(see_other(&format!(
            "/users?done={}",
            seg(&format!("Admin user {} created.", created.username))
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => {
                let mut errors = FormErrors::default();
                errors.set("username", message);
                list_page(&app, &session, String::new(), username, errors).await
            }
            None => Err(e.into()),
        },
    }
}

/// `POST /users/{username}/password`: a new password.
pub async fn change_password(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(username): Path<String>,
    Form(form): Form<UserForm>,
) -> Result<Response, PageError> {
    if let Err(e) = check_password(&form.password) {
        let mut errors = FormErrors::default();
        errors.top.push(format!("{username}: {e}"));
        return list_page(&app, &session, String::new(), String::new(), errors).await;
    }
    let cluster = app.cluster(&session)?;
    let (name_ref, password) = (username.as_str(), form.password.as_str());
    match app
        .clusters
        .call(&cluster, false, |c| async move {
            c.change_admin_password(name_ref, password).await
        })
        .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/users?done={}",
            seg(&format!("The password of {username} changed."))
        ))),
        Err(e) => match e.refusal() {
            Some((_, message)) => {
                let mut errors = FormErrors::default();
                errors.top.push(message.to_owned());
                list_page(&app, &session, String::new(), String::new(), errors).await
            }
            None => Err(e.into()),
        },
    }
}

fn deletion(username: &str) -> Deletion {
    Deletion {
        section: SECTION,
        title: format!("Delete admin user {username}"),
        question: format!("Delete admin user {username}? Its logins stop on every server at once."),
        action: format!("/users/{}/delete", seg(username)),
        cancel: "/users".into(),
    }
}

/// `GET /users/{username}/delete`: asks first.
pub async fn confirm_delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(username): Path<String>,
) -> Result<Response, PageError> {
    Ok(deletion(&username).page(&app, &session, Vec::new()))
}

/// `POST /users/{username}/delete`.
pub async fn delete(
    State(app): Shared,
    Extension(session): Extension<Session>,
    Path(username): Path<String>,
) -> Result<Response, PageError> {
    let name_ref = username.as_str();
    deletion(&username)
        .run(
            &app,
            &session,
            |c| async move { c.delete_admin_user(name_ref).await },
            |deleted| {
                (
                    "/users".into(),
                    format!("Admin user {} deleted.", deleted.username),
                )
            },
        )
        .await
}
