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
    crate::harness::http_client_builder()
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
            ca_pem: None,
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
    let (_, dashboard) = page(&web, format!("{base}/")).await;
    assert!(
        dashboard.contains("every service at its latest"),
        "the versions the server runs: {dashboard}"
    );
    let (status, detail) = page(&web, format!("{base}/services/demo.hello")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        detail.contains("<code>message</code>"),
        "its output field: {detail}"
    );
    assert!(
        detail.contains("Greets by name"),
        "its description: {detail}"
    );

    // Its configuration: a bad line is named next to the field and nothing is stored; a
    // good one is in force on the server at once.
    let (status, refused) = post(
        &web,
        format!("{base}/services/demo.hello/config"),
        &[
            ("csrf", &session_csrf),
            ("config", "greeting = Hi\nno equals sign"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains(r#"<p class="field-error">"#), "{refused}");
    assert!(refused.contains("no equals sign"), "{refused}");
    assert!(
        server
            .api
            .service("demo.hello")
            .await
            .unwrap()
            .config
            .is_empty(),
        "a refused form stores nothing"
    );
    let (status, saved) = post(
        &web,
        format!("{base}/services/demo.hello/config"),
        &[("csrf", &session_csrf), ("config", "greeting = Hi")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.contains("Configuration saved."), "{saved}");
    assert_eq!(
        server.api.service("demo.hello").await.unwrap().config["greeting"],
        "Hi"
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
    // With its timing, its cid and the headers it came with.
    assert!(invoked.contains("<dt>Time</dt><dd>"), "{invoked}");
    assert!(invoked.contains(" ms</dd>"), "{invoked}");
    let cid = invoked
        .split("<dt>CID</dt><dd><code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default();
    assert!(
        cid.len() >= 16 && cid.chars().all(|c| c.is_ascii_hexdigit()),
        "a cid: {invoked}"
    );
    assert!(invoked.contains("<dt>content-type</dt>"), "{invoked}");

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
    let http = crate::harness::http_client_builder()
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

/// The job form's fields as a person fills them in for an interval or a cron job.
fn job_form(csrf: &str, fields: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&'static str, String)> = vec![
        ("csrf", csrf.to_owned()),
        ("service", "demo.hello".to_owned()),
        ("timezone", "UTC".to_owned()),
        ("data_format", "json".to_owned()),
        ("missed", "once".to_owned()),
        ("timeout_ms", "0".to_owned()),
        ("active", "on".to_owned()),
    ];
    for (key, value) in fields {
        form.retain(|(k, _)| k != key);
        form.push((key, (*value).to_owned()));
    }
    form
}

async fn post_form(
    client: &reqwest::Client,
    url: String,
    form: &[(&'static str, String)],
) -> (StatusCode, String) {
    let response = client.post(url).form(form).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The part of a page inside the element with `id`, up to the next `</section>`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[tokio::test]
async fn the_web_admin_schedules_a_job_and_shows_its_runs() {
    let server = TestServer::start().await;
    server.deploy(wasm::HELLO).await;
    let admin = start_admin(
        WebAdminConfig {
            clusters: vec![ClusterConfig::remote("local", &server.base, USER, PASSWORD)],
            ..base_config()
        },
        no_environments(),
    )
    .await;
    let base = &admin.base;
    let web = browser();
    let (_, login) = page(&web, format!("{base}/login")).await;
    let (status, dashboard) = post(
        &web,
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
        dashboard.contains(r#"href="/scheduler""#),
        "the nav: {dashboard}"
    );
    let token = csrf(&dashboard);

    // The lone server becomes the singleton, and the page says so.
    let list = eventually(
        Duration::from_secs(20),
        "the scheduler page names the singleton",
        || {
            let (web, url) = (&web, format!("{base}/scheduler"));
            async move {
                let (status, body) = page(web, url).await;
                (status == StatusCode::OK && body.contains("<strong>test</strong>, epoch"))
                    .then_some(body)
            }
        },
    )
    .await;
    assert!(list.contains("No job yet"), "{list}");
    let (status, form) = page(&web, format!("{base}/scheduler/new-job")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"name="kind""#), "{form}");

    // A cron expression the cluster refuses: its message next to the field, and the
    // form as it was typed.
    let bad = job_form(
        &token,
        &[
            ("name", "web-cron"),
            ("kind", "cron"),
            ("expression", "*/61 * * * *"),
            ("timezone", "Europe/Warsaw"),
            ("payload", r#"{"name": "cron"}"#),
            ("missed", "skip"),
            ("op", "save"),
        ],
    );
    let (status, refused) = post_form(&web, format!("{base}/scheduler/new-job"), &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">schedule.expression: `*/61 * * * *`"#),
        "the API's message next to the expression: {refused}"
    );
    for kept in [
        r#"value="web-cron""#,
        r#"value="*/61 * * * *""#,
        r#"value="Europe/Warsaw""#,
        r#"id="kind-cron" value="cron" checked"#,
        r#"<option value="skip" selected>"#,
        "&#34;cron&#34;",
    ] {
        assert!(refused.contains(kept), "{kept} kept: {refused}");
    }
    let (_, list) = page(&web, format!("{base}/scheduler")).await;
    assert!(!list.contains("web-cron"), "nothing was created: {list}");

    // The preview button: the next 10 fire times, nothing saved; a bad expression is
    // explained there too.
    let mut previewed = bad.clone();
    previewed.retain(|(k, _)| *k != "expression" && *k != "op" && *k != "timezone");
    previewed.extend([
        ("expression", "0 12 * * *".to_owned()),
        ("timezone", "UTC".to_owned()),
        ("op", "preview".to_owned()),
    ]);
    let (status, shown) = post_form(&web, format!("{base}/scheduler/new-job"), &previewed).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let preview = section(&shown, "preview");
    assert_eq!(preview.matches(" 12:00:00+00:00").count(), 10, "{preview}");
    assert!(shown.contains(r#"value="0 12 * * *""#), "{shown}");
    let (status, shown) = post_form(
        &web,
        format!("{base}/scheduler/new-job"),
        &job_form(
            &token,
            &[
                ("kind", "cron"),
                ("expression", "0 25 * * *"),
                ("op", "preview"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        section(&shown, "preview").contains("schedule.expression"),
        "{shown}"
    );
    let (_, list) = page(&web, format!("{base}/scheduler")).await;
    assert!(
        list.contains("No job yet"),
        "a preview saves nothing: {list}"
    );

    // An interval job: created, listed, and it runs.
    let tick = job_form(
        &token,
        &[
            ("name", "web-tick"),
            ("kind", "interval"),
            ("seconds", "1"),
            ("payload", r#"{"name": "scheduler"}"#),
            ("op", "save"),
        ],
    );
    let (status, list) = post_form(&web, format!("{base}/scheduler/new-job"), &tick).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("Job web-tick created"), "{list}");
    assert!(
        list.contains(r#"href="/scheduler/jobs/web-tick""#),
        "{list}"
    );
    assert!(list.contains("every 1 s"), "{list}");
    let detail = eventually(
        Duration::from_secs(30),
        "the job's page shows a run that ended ok",
        || {
            let (web, url) = (&web, format!("{base}/scheduler/jobs/web-tick"));
            async move {
                let (_, body) = page(web, url).await;
                section(&body, "runs")
                    .contains(r#"<span class="status ok">ok</span>"#)
                    .then_some(body)
            }
        },
    )
    .await;
    let runs = section(&detail, "runs");
    assert!(
        runs.contains("<td>test</td>"),
        "the server that ran it: {runs}"
    );
    assert!(runs.contains("<td>schedule</td>"), "{runs}");
    let (status, edit) = page(&web, format!("{base}/scheduler/jobs/web-tick/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        edit.contains(r#"id="kind-interval" value="interval" checked"#)
            && edit.contains(r#"name="seconds" value="1""#),
        "{edit}"
    );

    // A POST without the session's token changes nothing.
    let (status, _) = post(
        &web,
        format!("{base}/scheduler/jobs/web-tick/pause"),
        &[("back", "job")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(server.api.job("web-tick").await.unwrap().job.active);

    // Pause it: the list says so.
    let (status, list) = post(
        &web,
        format!("{base}/scheduler/jobs/web-tick/pause"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("Job web-tick paused"), "{list}");
    assert!(list.contains(">paused</span>"), "{list}");
    assert!(!server.api.job("web-tick").await.unwrap().job.active);

    // Run it now, paused as it is: the run shows on its page, triggered by hand.
    let (status, detail) = post(
        &web,
        format!("{base}/scheduler/jobs/web-tick/run"),
        &[("csrf", &token), ("back", "job")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail.contains("Job web-tick runs now"), "{detail}");
    eventually(Duration::from_secs(30), "the run by hand ended ok", || {
        let (web, url) = (&web, format!("{base}/scheduler/jobs/web-tick"));
        async move {
            let (_, body) = page(web, url).await;
            section(&body, "runs")
                .split("<tr>")
                .any(|row| {
                    row.contains("<td>manual</td>")
                        && row.contains(r#"<span class="status ok">ok</span>"#)
                })
                .then_some(())
        }
    })
    .await;

    // A calendar: a date the cluster refuses is shown with the dates as typed; a good
    // one is listed; a job names it, and it cannot be deleted until the job is gone.
    let (status, refused) = post(
        &web,
        format!("{base}/scheduler/new-calendar"),
        &[
            ("csrf", &token),
            ("name", "web-holidays"),
            ("description", "Days off"),
            ("dates", "2026-12-25\n2026-02-30"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains("`2026-02-30`"), "{refused}");
    assert!(
        refused.contains("2026-12-25\n2026-02-30</textarea>"),
        "{refused}"
    );
    let (status, calendars) = post(
        &web,
        format!("{base}/scheduler/new-calendar"),
        &[
            ("csrf", &token),
            ("name", "web-holidays"),
            ("description", "Days off"),
            ("dates", "2026-12-25\n2026-12-26"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{calendars}");
    assert!(
        calendars.contains(r#"href="/scheduler/calendars/web-holidays""#),
        "{calendars}"
    );
    assert!(calendars.contains("2026-12-25, 2026-12-26"), "{calendars}");
    let mut with_calendar = tick.clone();
    with_calendar.retain(|(k, _)| *k != "active");
    with_calendar.push(("calendars", "web-holidays".to_owned()));
    let (status, detail) = post_form(
        &web,
        format!("{base}/scheduler/jobs/web-tick/edit"),
        &with_calendar,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail.contains("Job web-tick saved"), "{detail}");
    assert!(
        detail.contains(r#"<a href="/scheduler/calendars/web-holidays">web-holidays</a>"#),
        "{detail}"
    );
    let saved = server.api.job("web-tick").await.unwrap().job;
    assert_eq!(
        (saved.active, saved.calendars),
        (false, vec!["web-holidays".to_owned()])
    );
    let (status, body) = post(
        &web,
        format!("{base}/scheduler/calendars/web-holidays/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("`web-tick`"), "which job names it: {body}");

    // Delete the job (asked first), then the calendar.
    let (status, confirm) = page(&web, format!("{base}/scheduler/jobs/web-tick/delete")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("Delete scheduler job web-tick?"),
        "{confirm}"
    );
    let (status, list) = post(
        &web,
        format!("{base}/scheduler/jobs/web-tick/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("Job web-tick deleted"), "{list}");
    assert!(
        !list.contains(r#"href="/scheduler/jobs/web-tick""#),
        "{list}"
    );
    let (status, _) = page(&web, format!("{base}/scheduler/jobs/web-tick")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, calendars) = post(
        &web,
        format!("{base}/scheduler/calendars/web-holidays/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{calendars}");
    assert!(
        calendars.contains("Calendar web-holidays deleted"),
        "{calendars}"
    );

    server.stop().await;
}

/// An HTTP/1.1 listener on 127.0.0.1:0 answering every request with 204, for pings.
async fn answering_backend() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(204)
                            .body(http_body_util::Empty::<bytes::Bytes>::new())
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_web_admin_creates_edits_pings_and_deletes_an_outgoing_connection() {
    // Every reqwest client of this process needs rustls's provider (see outconn::http).
    let server = TestServer::start().await;
    let admin = start_admin(
        WebAdminConfig {
            clusters: vec![ClusterConfig::remote("local", &server.base, USER, PASSWORD)],
            ..base_config()
        },
        no_environments(),
    )
    .await;
    let base = &admin.base;
    let web = browser();
    let (_, login) = page(&web, format!("{base}/login")).await;
    let (status, dashboard) = post(
        &web,
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
        dashboard.contains(r#"href="/outconns""#),
        "the nav: {dashboard}"
    );
    let token = csrf(&dashboard);
    let (status, list) = page(&web, format!("{base}/outconns")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list.contains("No outgoing connection yet"), "{list}");
    let (status, form) = page(&web, format!("{base}/outconns/new/http")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains(r#"type="password" name="secret""#), "{form}");

    // The cluster's refusal lands next to the field it names.
    let secret = "web-secret-never-shown";
    let backend = answering_backend().await;
    let address = format!("http://{backend}/api");
    let fields = |address: &str| {
        vec![
            ("csrf", token.clone()),
            ("name", "crm".to_owned()),
            ("active", "on".to_owned()),
            ("address", address.to_owned()),
            ("timeout_ms", "0".to_owned()),
            ("pool_size", "0".to_owned()),
            ("retries", "0".to_owned()),
            ("ping_method", "GET".to_owned()),
            ("tls_verify", "on".to_owned()),
            ("auth", "bearer".to_owned()),
            ("headers", "X-Client: web".to_owned()),
            ("secret", secret.to_owned()),
        ]
    };
    let (status, refused) = post_form(
        &web,
        format!("{base}/outconns/new/http"),
        &fields("ftp://x"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.contains(r#"<p class="field-error">invalid settings.address"#),
        "{refused}"
    );
    assert!(
        !refused.contains(secret),
        "the secret is not sent back: {refused}"
    );

    let (status, created) =
        post_form(&web, format!("{base}/outconns/new/http"), &fields(&address)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(
        created.contains("Connection crm (http) created."),
        "{created}"
    );
    assert!(created.contains(&address), "{created}");
    assert!(!created.contains(secret));
    let info = server
        .api
        .outconn(zato_api::OutconnType::Http, "crm")
        .await
        .unwrap();
    assert!(info.secret_set);
    assert_eq!(info.settings, {
        let mut s = zato_api::HttpSettings {
            address: address.clone(),
            timeout_ms: 0,
            pool_size: 0,
            tls_verify: true,
            ca_pem: None,
            auth: zato_api::HttpAuth::Bearer,
            headers: vec![zato_api::Header {
                name: "X-Client".into(),
                value: "web".into(),
            }],
            retries: 0,
            ping_method: "GET".into(),
        };
        s.tls_verify = true;
        zato_api::OutconnSettings::Http(s)
    });

    // The edit form: the secret as set, never its value; an empty field keeps it.
    let (status, edit) = page(&web, format!("{base}/outconns/http/crm")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        edit.contains("Secret (password, token or key; set)"),
        "{edit}"
    );
    assert!(!edit.contains(secret));
    let mut changed = fields(&address);
    changed.retain(|(k, _)| *k != "secret" && *k != "active");
    changed.push(("secret", String::new()));
    changed.push(("timeout_ms", "1500".to_owned()));
    changed.retain(|(k, v)| *k != "timeout_ms" || v == "1500");
    let (status, saved) = post_form(&web, format!("{base}/outconns/http/crm"), &changed).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.contains("Connection crm (http) saved."), "{saved}");
    let info = server
        .api
        .outconn(zato_api::OutconnType::Http, "crm")
        .await
        .unwrap();
    assert!(info.secret_set, "an empty field kept the secret");
    assert!(!info.active, "an unticked box made it inactive");

    // Ping: the outcome on the list.
    let (status, pinged) = post(
        &web,
        format!("{base}/outconns/http/crm/ping"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pinged}");
    assert!(pinged.contains("Ping of crm (http): answered"), "{pinged}");
    let (_, filtered) = page(&web, format!("{base}/outconns?type=sql")).await;
    assert!(filtered.contains("No sql connection."), "{filtered}");

    // The other types' forms: each stores its own settings.
    let owned = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut fields = vec![("csrf", token.clone()), ("active", "on".to_owned())];
        fields.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
        fields
    };
    let soap_fields = owned(&[
        ("name", "billing"),
        ("address", &address),
        ("timeout_ms", "0"),
        ("pool_size", "0"),
        ("retries", "0"),
        ("ping_method", "HEAD"),
        ("tls_verify", "on"),
        ("auth", "none"),
        ("soap_version", "1.2"),
        ("soap_action", "urn:billing#Get"),
    ]);
    let (status, saved) = post_form(&web, format!("{base}/outconns/new/soap"), &soap_fields).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let soap = server
        .api
        .outconn(zato_api::OutconnType::Soap, "billing")
        .await
        .unwrap();
    match &soap.settings {
        zato_api::OutconnSettings::Soap(s) => {
            assert_eq!(s.version, zato_api::SoapVersion::V12);
            assert_eq!(s.soap_action, "urn:billing#Get");
            assert_eq!(s.http.address, address);
        }
        other => panic!("{other:?}"),
    }
    let sql_fields = owned(&[
        ("name", "customers"),
        ("url", "postgres://billing@127.0.0.1:5432/billing"),
        ("pool_size", "3"),
        ("timeout_ms", "0"),
        ("max_rows", "50"),
        ("secret", "db-password"),
    ]);
    let (status, saved) = post_form(&web, format!("{base}/outconns/new/sql"), &sql_fields).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(!saved.contains("db-password"), "{saved}");
    let sql = server
        .api
        .outconn(zato_api::OutconnType::Sql, "customers")
        .await
        .unwrap();
    assert!(sql.secret_set);
    match &sql.settings {
        zato_api::OutconnSettings::Sql(s) => {
            assert_eq!((s.pool_size, s.max_rows), (3, 50));
            assert_eq!(s.url, "postgres://billing@127.0.0.1:5432/billing");
        }
        other => panic!("{other:?}"),
    }
    // A bad FTP base directory is named next to its field; a good form is stored.
    let mut ftp_fields = owned(&[
        ("name", "files"),
        ("host", "127.0.0.1"),
        ("port", "2121"),
        ("username", "zato"),
        ("tls", "on"),
        ("base_dir", "relative"),
        ("timeout_ms", "0"),
    ]);
    let (status, refused) = post_form(&web, format!("{base}/outconns/new/ftp"), &ftp_fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains(r#"<p class="field-error">"#), "{refused}");
    assert!(refused.contains("base_dir"), "{refused}");
    for (key, value) in &mut ftp_fields {
        if *key == "base_dir" {
            *value = "/in".to_owned();
        }
    }
    let (status, saved) = post_form(&web, format!("{base}/outconns/new/ftp"), &ftp_fields).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let ftp = server
        .api
        .outconn(zato_api::OutconnType::Ftp, "files")
        .await
        .unwrap();
    match &ftp.settings {
        zato_api::OutconnSettings::Ftp(f) => {
            assert_eq!((f.host.as_str(), f.port, f.tls), ("127.0.0.1", 2121, true));
            assert_eq!(f.base_dir, "/in");
        }
        other => panic!("{other:?}"),
    }
    for (kind, name) in [
        (zato_api::OutconnType::Soap, "billing"),
        (zato_api::OutconnType::Sql, "customers"),
        (zato_api::OutconnType::Ftp, "files"),
    ] {
        server.api.delete_outconn(kind, name).await.unwrap();
    }

    // Delete, after a confirmation.
    let (status, confirm) = page(&web, format!("{base}/outconns/http/crm/delete")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("Delete the http connection crm?"),
        "{confirm}"
    );
    let (status, deleted) = post(
        &web,
        format!("{base}/outconns/http/crm/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(
        deleted.contains("Connection crm (http) deleted."),
        "{deleted}"
    );
    assert!(server.api.outconns(None).await.unwrap().is_empty());
    server.stop().await;
}

/// A port no one listens on now (bound, then closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn zato_start_serves_the_web_admin_on_its_port_and_zato_info_gives_its_url() {
    use crate::cli::{start, text, zato};

    let dir = tempfile::tempdir().unwrap();
    // Without --web-admin-port (and on fixed server ports) the web admin is Zato's 8183.
    let fixed = dir.path().join("fixed");
    let created = zato(&[
        "quickstart",
        "create",
        fixed.to_str().unwrap(),
        "--base-port",
        "17010",
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let config = std::fs::read_to_string(fixed.join("web-admin/web-admin.toml")).unwrap();
    assert!(
        config.contains("listen = \"127.0.0.1:8183\""),
        "the default port: {config}"
    );

    // With --web-admin-port W: served at http://127.0.0.1:W/, said at start and by info.
    let env = dir.path().join("env");
    let env_arg = env.to_str().unwrap();
    let port = free_port().to_string();
    let created = zato(&[
        "quickstart",
        "create",
        env_arg,
        "--base-port",
        "0",
        "--web-admin-port",
        &port,
    ])
    .await;
    assert!(created.status.success(), "{}", text(&created.stderr));
    let url = format!("http://127.0.0.1:{port}/");
    let log = dir.path().join("start.log");
    let _running = start(&env, &log).await;
    let web = browser();
    let login = eventually(
        Duration::from_secs(60),
        "the web admin answers on its port",
        || {
            let web = &web;
            let url = format!("{url}login");
            async move {
                // Refused until it listens.
                let response = web.get(url).send().await.ok()?;
                if response.status() != StatusCode::OK {
                    return None;
                }
                response.text().await.ok()
            }
        },
    )
    .await;
    assert!(
        login.contains(r#"<form method="post" action="/login""#),
        "{login}"
    );
    assert!(login.contains(r#"name="username""#), "{login}");
    assert!(login.contains(r#"type="hidden" name="csrf""#), "{login}");
    let started = std::fs::read_to_string(&log).unwrap();
    assert!(
        started.contains(&format!("web admin on {url}")),
        "the address at start: {started}"
    );
    let info = zato(&["info", env_arg, "--json"]).await;
    assert!(info.status.success(), "{}", text(&info.stderr));
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["web_admin"]["url"], url.as_str(), "{info}");
    assert_eq!(info["web_admin"]["answers"], true, "{info}");
}

#[tokio::test]
async fn uploads_are_capped_channels_are_searched_and_clusters_are_added_edited_and_removed() {
    let server = TestServer::start().await;
    let urls = vec![server.base.clone()];
    let resolver: Resolver = Arc::new(move |_: &Path| {
        Ok(ClusterAccess {
            urls: urls.clone(),
            username: USER.into(),
            password: PASSWORD.into(),
            lb_url: None,
            ca_pem: None,
        })
    });
    let cap = 64 * 1024;
    let admin = start_admin(
        WebAdminConfig {
            clusters: vec![ClusterConfig::environment("local", "env")],
            users: vec![UserConfig {
                name: "root".into(),
                password_hash: zato_admin::hash_password("root-password"),
            }],
            max_upload_bytes: cap,
            ..base_config()
        },
        resolver,
    )
    .await;
    let base = &admin.base;
    let web = browser();
    let (_, login) = page(&web, format!("{base}/login")).await;
    let (status, dashboard) = post(
        &web,
        format!("{base}/login"),
        &[
            ("username", "root"),
            ("password", "root-password"),
            ("csrf", &csrf(&login)),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dashboard}");
    let token = csrf(&dashboard);

    // One byte over the cap: refused with the setting named, nothing deployed.
    let too_big = reqwest::multipart::Form::new()
        .text("csrf", token.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![0u8; usize::try_from(cap).unwrap() + 1])
                .file_name("big.wasm"),
        );
    let response = web
        .post(format!("{base}/services/upload"))
        .multipart(too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(refused.contains("max_upload_bytes"), "{refused}");
    assert!(server.services().await.is_empty());

    // The channel list's search keeps what matches.
    server.deploy(wasm::HELLO).await;
    server
        .channel("alpha-in", "/alpha", "demo.hello", 5_000)
        .await;
    server
        .channel("beta-in", "/beta", "demo.hello", 5_000)
        .await;
    let (status, found) = page(&web, format!("{base}/channels/http?q=alpha")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(found.contains("alpha-in"), "{found}");
    assert!(!found.contains("beta-in"), "{found}");

    // A cluster added, edited and removed: the settings page and the config file agree.
    let config_file = admin.dir.path().join("web-admin.toml");
    let far = dead_url();
    let cluster_form = |to: &str, url: &str, password: &str| {
        let (web, to) = (&web, format!("{base}{to}"));
        let fields = [
            ("csrf", token.clone()),
            ("name", "far".to_owned()),
            ("url", url.to_owned()),
            ("username", "admin".to_owned()),
            ("password", password.to_owned()),
        ];
        async move { post_form(web, to, &fields).await }
    };
    let (status, settings) = cluster_form("/settings/clusters", &far, "far-password").await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert!(settings.contains("far"), "{settings}");
    assert!(
        std::fs::read_to_string(&config_file)
            .unwrap()
            .contains(&far)
    );
    let (status, refused) = cluster_form("/settings/clusters", &far, "x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.contains("exists already"), "{refused}");
    let moved = dead_url();
    let (status, edited) = cluster_form("/settings/clusters/far", &moved, "far-password").await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let saved = std::fs::read_to_string(&config_file).unwrap();
    assert!(saved.contains(&moved) && !saved.contains(&far), "{saved}");
    let (status, removed) = post(
        &web,
        format!("{base}/settings/clusters/far/delete"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert!(
        !std::fs::read_to_string(&config_file)
            .unwrap()
            .contains(&moved)
    );
    assert!(!removed.contains(r#"<option value="far">"#), "{removed}");
}
