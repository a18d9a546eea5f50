//! The web admin (`zato-admin`) in-process against a real server, driven like a browser
//! without JavaScript: reqwest with a cookie store, plain forms, redirects followed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use zato_admin::{
    ClusterAccess, ClusterConfig, LoginLimits, Resolver, UserConfig, WebAdmin, WebAdminConfig,
};
use zato_test_artifacts as wasm;

use crate::harness::{PASSWORD, TestServer, USER, eventually};

/// A URL where nothing listens (bound, then released).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// A web admin on 127.0.0.1:0, stopped when dropped.
struct Admin {
    base: String,
    dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_admin(config: WebAdminConfig, resolver: Resolver) -> Admin {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-admin.toml");
    config.save(&path).unwrap();
    let config = WebAdminConfig::load(&path).unwrap();
    let admin = WebAdmin::bind(config, path, resolver).await.unwrap();
    let base = format!("http://{}", admin.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(admin.run(async {
        let _ = stopped.await;
    }));
    Admin {
        base,
        dir,
        _stop: stop,
    }
}

fn base_config() -> WebAdminConfig {
    WebAdminConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..WebAdminConfig::default()
    }
}

fn no_environments() -> Resolver {
    Arc::new(|dir: &Path| anyhow::bail!("no environment at {}", dir.display()))
}

/// The first form's CSRF token on a page.
fn csrf(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, url: String) -> (StatusCode, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post(
    client: &reqwest::Client,
    url: String,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = client.post(url).form(form).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_web_admin_deploys_invokes_and_routes_a_service_on_a_real_server() {
    let server = TestServer::start().await;
    // The environment resolves to a dead URL first, then the server: the first that
    // answers wins. A second cluster is down altogether.
    let urls = vec![dead_url(), server.base.clone()];
    let resolver: Resolver = Arc::new(move |dir: &Path| {
        assert!(dir.ends_with("env"), "{}", dir.display());
        Ok(ClusterAccess {
            urls: urls.clone(),
            username: USER.into(),
            password: PASSWORD.into(),
            lb_url: None,
        })
    });
    let down = dead_url();
    let admin = start_admin(
        WebAdminConfig {
            clusters: vec![
                ClusterConfig::environment("local", "env"),
                ClusterConfig::remote("far", &down, "admin", "far-password"),
            ],
            // A web-admin user of its own: it may use every cluster and the settings.
            users: vec![UserConfig {
                name: "root".into(),
                password_hash: zato_admin::hash_password("root-password"),
            }],
            ..base_config()
        },
        resolver,
    )
    .await;
    let base = &admin.base;
    let web = browser();

    // Not logged in: the login page, whose form needs its token.
    let (status, login) = page(&web, format!("{base}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.contains(r#"action="/login""#), "{login}");
    let token = csrf(&login);
    let (status, body) = post(
        &web,
        format!("{base}/login"),
        &[("username", USER), ("password", "wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token: {body}");
    assert!(body.contains("security token"), "{body}");
    let (status, body) = post(
        &web,
        format!("{base}/login"),
        &[("username", USER), ("password", "wrong"), ("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong user name or password"), "{body}");
    let token = csrf(&body);
    let (status, dashboard) = post(
        &web,
        format!("{base}/login"),
        &[
            ("username", "root"),
            ("password", "root-password"),
            ("csrf", &token),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    let address = server.base.trim_start_matches("http://");
    assert!(
        dashboard.contains(address),
        "the server on the dashboard: {dashboard}"
    );
    assert!(dashboard.contains("running"), "{dashboard}");
    assert!(
        dashboard.contains(r#"<option value="far">"#),
        "the cluster picker: {dashboard}"
    );
    let session_csrf = csrf(&dashboard);

    // Upload demo.hello, follow its progress until the server runs it.
    let upload = reqwest::multipart::Form::new()
        .text("csrf", session_csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(std::fs::read(wasm::HELLO).unwrap())
                .file_name("hello.wasm"),
        );
    let response = web
        .post(format!("{base}/services/upload"))
        .multipart(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let progress_url = response.url().to_string();
    assert!(
        progress_url.contains("/services/demo.hello/progress?version=1"),
        "{progress_url}"
    );
    eventually(
        Duration::from_secs(10),
        "the progress page says done",
        || {
            let (web, url) = (&web, progress_url.clone());
            async move {
                let (_, body) = page(web, url).await;
                body.contains("runs on every running server").then_some(())
            }
        },
    )
    .await;
    let (_, list) = page(&web, format!("{base}/services?q=hello")).await;
    assert!(list.contains(r#"href="/services/demo.hello""#), "{list}");
    assert!(
        list.contains("test v1"),
        "which server runs which version: {list}"
    );
    let (status, detail) = page(&web, format!("{base}/services/demo.hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        detail.contains("<code>message</code>"),
        "its output field: {detail}"
    );

    // Invoke it.
    let (status, invoked) = post(
        &web,
        format!("{base}/services/demo.hello/invoke"),
        &[
            ("csrf", &session_csrf),
            ("payload", r#"{"name":"Ada"}"#),
            ("data_format", "json"),
            ("timeout_ms", ""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(invoked.contains("Hello, Ada!"), "{invoked}");
    assert!(invoked.contains("200 OK"), "{invoked}");

    // Garbage is refused with the server's message; version 1 stays listed.
    let garbage = reqwest::multipart::Form::new()
        .text("csrf", session_csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"not a component".to_vec()).file_name("junk.wasm"),
        );
    let response = web
        .post(format!("{base}/services/upload"))
        .multipart(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(
        refused.contains("The cluster refused junk.wasm"),
        "{refused}"
    );
    let (_, list) = page(&web, format!("{base}/services")).await;
    assert!(list.contains(r#"href="/services/demo.hello""#), "{list}");
    assert_eq!(server.running_version("demo.hello").await, Some(1));

    // A channel: a path the server refuses shows its message next to the field; a good
    // one answers over HTTP at once; an edit moves it; a delete removes it.
    let channel = |path: &'static str| {
        [
            ("csrf", session_csrf.clone()),
            ("name", "web-hello".to_owned()),
            ("path", path.to_owned()),
            ("methods", "post".to_owned()),
            ("service", "demo.hello".to_owned()),
            ("data_format", "json".to_owned()),
            ("timeout_ms", "0".to_owned()),
        ]
    };
    let response = web
        .post(format!("{base}/channels/http/new"))
        .form(&channel("/zato/mine"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = response.text().await.unwrap();
    assert!(form.contains("reserved for the server"), "{form}");
    let response = web
        .post(format!("{base}/channels/http/new"))
        .form(&channel("/web/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let list = response.text().await.unwrap();
    assert!(list.contains("/web/hello"), "{list}");
    let (status, body) = server.post("/web/hello", r#"{"name":"Bob"}"#).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::OK, Some("Hello, Bob!"))
    );
    let (status, edit) = page(&web, format!("{base}/channels/http/web-hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(edit.contains(r#"value="/web/hello""#), "{edit}");
    let response = web
        .post(format!("{base}/channels/http/web-hello"))
        .form(&channel("/web/hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) = server.post("/web/hi", r#"{"name":"Cy"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(
        &web,
        format!("{base}/channels/http/web-hello/delete"),
        &[("csrf", &session_csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.post("/web/hi", "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A POST with another token is refused and changes nothing.
    let (status, _) = post(
        &web,
        format!("{base}/services/demo.hello/delete"),
        &[("csrf", "0123")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(server.running_version("demo.hello").await, Some(1));
    let (status, list) = post(
        &web,
        format!("{base}/services/demo.hello/delete"),
        &[("csrf", &session_csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("Service demo.hello deleted"), "{list}");
    assert!(!list.contains(r#"href="/services/demo.hello""#), "{list}");

    // The other cluster is down: a page that names it and what was tried.
    let (status, body) = post(
        &web,
        format!("{base}/cluster"),
        &[("csrf", &session_csrf), ("cluster", "far")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(body.contains("cluster `far` is down"), "{body}");
    assert!(body.contains(&down), "{body}");

    // Settings: a user added is saved hashed to the file, never shown back.
    let (status, body) = post(
        &web,
        format!("{base}/settings/users"),
        &[
            ("csrf", &session_csrf),
            ("name", "ada"),
            ("password", "correct horse"),
            ("password2", "correct horse"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("correct horse"));
    let saved = WebAdminConfig::load(&admin.dir.path().join("web-admin.toml")).unwrap();
    assert_eq!(saved.users.len(), 2);
    assert!(saved.users[1].password_hash.starts_with("$argon2id$"));

    // A form posted as multipart to a route that reads no multipart body (only the
    // upload does) is refused, not run without its token.
    let forged = reqwest::multipart::Form::new().text("cluster", "local");
    let response = web
        .post(format!("{base}/cluster"))
        .multipart(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The cluster's admin credentials open that cluster only: no other cluster, no
    // settings while there are several.
    let bound = browser();
    let (_, login) = page(&bound, format!("{base}/login")).await;
    let (status, dashboard) = post(
        &bound,
        format!("{base}/login"),
        &[
            ("username", USER),
            ("password", PASSWORD),
            ("csrf", &csrf(&login)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    assert!(
        !dashboard.contains(r#"<option value="far">"#),
        "{dashboard}"
    );
    let (status, body) = post(
        &bound,
        format!("{base}/cluster"),
        &[("csrf", &csrf(&dashboard)), ("cluster", "far")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = page(&bound, format!("{base}/settings")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    server.stop().await;
}

/// The login steps by hand (no cookie store, no redirects): (session cookie, its CSRF).
async fn log_in(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let response = http.get(format!("{base}/login")).send().await.unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let token = csrf(&response.text().await.unwrap());
    http.post(format!("{base}/login"))
        .header(COOKIE, cookie)
        .form(&[("username", user), ("password", password), ("csrf", &token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_logout_ends_the_session_and_a_guesser_is_locked_out() {
    let admin = start_admin(
        WebAdminConfig {
            clusters: vec![ClusterConfig::remote(
                "far",
                &dead_url(),
                "admin",
                "far-password",
            )],
            login: LoginLimits {
                max_failures: 2,
                window_s: 60,
            },
            ..base_config()
        },
        no_environments(),
    )
    .await;
    let base = &admin.base;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let response = log_in(&http, base, "admin", "far-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let session = set.split(';').next().unwrap().to_owned();
    let settings = http
        .get(format!("{base}/settings"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), StatusCode::OK);
    // A page with the session's token is neither cached nor framed.
    assert_eq!(settings.headers()["cache-control"], "no-store");
    assert_eq!(settings.headers()["x-frame-options"], "DENY");
    let token = csrf(&settings.text().await.unwrap());
    // A tampered cookie is no session.
    let flipped = if session.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &session[..session.len() - 1]);
    let response = http
        .get(format!("{base}/settings"))
        .header(COOKIE, tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = http
        .post(format!("{base}/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = http
        .get(format!("{base}/settings"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the old cookie after logout"
    );
    assert_eq!(response.headers()[LOCATION], "/login");

    for _ in 0..2 {
        let response = log_in(&http, base, "admin", "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = log_in(&http, base, "admin", "far-password").await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password"
    );
    assert!(response.headers().contains_key(RETRY_AFTER));
    let body = response.text().await.unwrap();
    assert!(body.contains("Too many failed logins"), "{body}");
}
