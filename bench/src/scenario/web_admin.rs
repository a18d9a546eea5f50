//! Scenario 9, run inside scenario 4 on its server with N services (each with an HTTP
//! channel): the web admin's pages. The environment's web admin runs as `zato web-admin
//! start DIR/web-admin`, a client logs in through its form as a browser does, and each
//! page is asked for [`ROUNDS`] times after [`WARMUP`] unmeasured ones, one at a time,
//! timed from the request to the last byte of the page.
//! The target: every page under 50 ms.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Ctx;
use crate::process::{self, Proc};
use crate::report::{Row, Section, ms};
use crate::stats::quantile;
use crate::zato::Env;

/// Timed requests per page.
const ROUNDS: usize = 40;
/// Unmeasured requests per page first.
const WARMUP: usize = 3;
/// What each page must stay under.
const TARGET_MS: f64 = 50.0;

/// Times the pages of the web admin of `env`, whose server runs `names`.
pub async fn run(ctx: &Ctx<'_>, env: &Env, names: &[String]) -> anyhow::Result<Section> {
    let dir = env.dir.join("web-admin");
    let address_file = dir.join("address");
    let _ = std::fs::remove_file(&address_file);
    let mut cmd = process::command(&ctx.artifacts.zato, ctx.plan.pin.map(|p| p.server));
    cmd.args(["web-admin", "start"]).arg(&dir);
    let mut proc = Proc::spawn("web-admin", cmd, &ctx.logs, false)?;
    let base = wait_for_address(&address_file, &mut proc).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let (user, password) = env.credentials();
    log_in(&http, &base, user, password).await?;

    let n = names.len();
    let middle = &names[n / 2];
    let search = &middle[..middle.len() - 1];
    let pages: Vec<(String, String)> = vec![
        ("dashboard".into(), "/".into()),
        (format!("services: all {n}"), "/services".into()),
        (
            format!("services: search `{search}`"),
            format!("/services?q={search}"),
        ),
        (
            format!("service detail: {middle}"),
            format!("/services/{middle}"),
        ),
        ("upload form".into(), "/services/upload".into()),
        (format!("HTTP channels: all {n}"), "/channels/http".into()),
        ("settings".into(), "/settings".into()),
    ];
    let mut section = Section::new(
        format!("9. Web admin: its pages with {n} services and {n} channels"),
        vec!["page", "p50", "p99", "max", "size", "under 50 ms"],
    )
    .text_columns(1);
    for (page, path) in pages {
        let url = format!("{base}{path}");
        let mut size = 0;
        for _ in 0..WARMUP {
            fetch(&http, &url).await?;
        }
        let mut samples = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let started = Instant::now();
            size = fetch(&http, &url).await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let p50 = quantile(&samples, 0.5);
        let p99 = quantile(&samples, 0.99);
        let max = samples.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "[bench] web admin: {page}: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms, {size} bytes"
        );
        let mut row = Row::new("web_admin", page.clone())
            .extra("path", &path)
            .extra("max_ms", max)
            .extra("bytes", size)
            .cells(vec![
                page,
                ms(p50),
                ms(p99),
                ms(max),
                format!("{:.0} KiB", size as f64 / 1024.0),
                if max < TARGET_MS { "yes" } else { "no" }.into(),
            ]);
        row.p50_ms = Some(p50);
        row.p99_ms = Some(p99);
        section.rows.push(row);
    }
    proc.stop();
    Ok(section)
}

/// The web admin's URL, once it has written the address it listens on.
async fn wait_for_address(file: &Path, proc: &mut Proc) -> anyhow::Result<String> {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Ok(address) = std::fs::read_to_string(file) {
            return Ok(format!("http://{}", address.trim()));
        }
        proc.check_running()?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the web admin wrote no `{}` within 30 s", file.display())
}

/// Logs in through the login form, with the CSRF token it carries.
async fn log_in(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<()> {
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_token(&form).context("the login page has no `csrf` input")?;
    let answer = http
        .post(format!("{base}/login"))
        .form(&[("username", user), ("password", password), ("csrf", &token)])
        .send()
        .await?;
    let status = answer.status();
    let landed = answer.url().path().to_owned();
    if !status.is_success() || landed.starts_with("/login") {
        bail!(
            "the web admin refused the environment's credentials ({status}, at {landed}): {}",
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

/// The value of the `<input name="csrf" value="...">` in `html`, whatever the order of
/// its attributes.
fn csrf_token(html: &str) -> Option<String> {
    html.split("<input").skip(1).find_map(|input| {
        let tag = &input[..input.find('>')?];
        let attribute = |name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            Some(&tag[start..start + tag[start..].find('"')?])
        };
        (attribute("name")? == "csrf").then(|| attribute("value").map(str::to_owned))?
    })
}

/// GETs a page, which must be a 200 and not the login form; returns its size.
async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<usize> {
    let answer = http.get(url).send().await?;
    let status = answer.status();
    let landed = answer.url().path().to_owned();
    let body = answer.bytes().await?;
    if !status.is_success() || landed.starts_with("/login") {
        bail!("{url} answered {status} at {landed}");
    }
    Ok(body.len())
}

#[cfg(test)]
mod tests {
    use super::csrf_token;

    #[test]
    fn the_csrf_token_is_found_whatever_the_order_of_attributes() {
        let page = r#"<form><input type="text" name="username"><input type="hidden" value="t0k" name="csrf"></form>"#;
        assert_eq!(csrf_token(page).as_deref(), Some("t0k"));
        let page = r#"<input name="csrf" value="abc" type="hidden">"#;
        assert_eq!(csrf_token(page).as_deref(), Some("abc"));
        assert_eq!(csrf_token(r#"<input name="user" value="x">"#), None);
    }
}
