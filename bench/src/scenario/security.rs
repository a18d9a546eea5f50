//! Scenario 16: what a channel's security definition costs a request.
//!
//! One server on the embedded defaults, `demo.hello` behind six channels: one open,
//! one guarded by a basic-auth definition, one by an API key, one by a JWT definition
//! (HS256, its token from `/zato/jwt/log-in` before the runs), and two open ones with
//! a rate limit that counts every request and refuses none (`* = 1000000000/d`), one
//! counted per server, one exactly (in the KVDB: the in-memory one here). wrk loads each in turn
//! (the order alternating by round, pinned like scenario 1) sending the right
//! credentials with every request, from a Lua script, padded with a header of its own
//! to the size of the largest (the JWT's), so that every target's requests are as
//! large as every other's; the table gives the median of the
//! rounds and the ratio of each guarded channel to the open one. A basic-auth password
//! is verified with argon2id once, then remembered as a keyed digest: the figure is
//! that of a caller the server already knows, as every caller but the first is.

use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use zato_api::{
    ApikeySettings, BasicAuthSettings, JwtAlgorithm, JwtSettings, JwtToken, SecurityDef,
    SecuritySettings,
};

use super::Ctx;
use super::deploy::stop_all;
use crate::report::Section;
use crate::wrk::{self, Load};
use crate::zato::{Env, EnvOptions, wait_for};

const USERNAME: &str = "bench";
const PASSWORD: &str = "bench password, long enough";
const KEY: &str = "bench-key-0123456789abcdef";
const JWT_KEY: &str = "bench HS256 key, at least 32 bytes long";

/// (label, channel path, the credential header (name, value) or none); the JWT's is
/// set once its token is issued.
type Target = (&'static str, &'static str, Option<(&'static str, String)>);

fn targets() -> [Target; 6] {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"));
    [
        ("no security", "/open/hello", None),
        (
            "basic auth (password verified once, then from its digest)",
            "/basic/hello",
            Some(("Authorization", format!("Basic {basic}"))),
        ),
        (
            "API key (SHA-256, compared in constant time)",
            "/key/hello",
            Some(("X-API-Key", KEY.to_owned())),
        ),
        (
            "JWT (HS256 signature, claims, revocation set)",
            "/jwt/hello",
            None,
        ),
        (
            "rate limit, per server (a count per address, in memory)",
            "/counted/hello",
            None,
        ),
        (
            "rate limit, exact (a count per address in the KVDB, in-memory here)",
            "/exact/hello",
            None,
        ),
    ]
}

/// The bytes a header adds to a request: `name: value\r\n`.
fn header_bytes(name: &str, value: &str) -> usize {
    name.len() + 2 + value.len() + 2
}

/// The wrk Lua script of each target: its credential header, and a padding header
/// (`X-Bench-Pad`) that makes every target's requests the same size, so that what
/// a ratio shows is the check, not the bytes of the credential that wrk writes and
/// hyper parses.
fn scripts(targets: &[Target]) -> Vec<String> {
    const PAD: &str = "X-Bench-Pad";
    let widest = targets
        .iter()
        .filter_map(|(_, _, header)| header.as_ref())
        .map(|(name, value)| header_bytes(name, value))
        .max()
        .unwrap_or(0);
    let total = widest + header_bytes(PAD, "x");
    targets
        .iter()
        .map(|(_, _, header)| {
            let mut lua = String::new();
            let mut used = 0;
            if let Some((name, value)) = header {
                lua.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
                used = header_bytes(name, value);
            }
            let pad = "x".repeat(total - used - header_bytes(PAD, ""));
            lua.push_str(&format!("wrk.headers[\"{PAD}\"] = \"{pad}\"\n"));
            lua
        })
        .collect()
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let wrk = ctx
        .wrk
        .as_deref()
        .context("the security scenario needs wrk")?;
    let plan = ctx.plan;
    let mut section = Section::new(
        "16. Channel security: the cost of each check per request",
        crate::scenario::RATIO_COLUMNS.to_vec(),
    )
    .text_columns(1);
    section.notes.push(format!(
        "demo.hello over HTTP (GET ...?name=bench, keep-alive, {} connections, {} s runs, median of {} rounds alternating the order) through six channels of one server: open, guarded by a basic-auth definition, by an API key definition, by a JWT definition (HS256), and open with a rate limit counting every request (* = 1000000000/d), per server and exact; every request carries the right credentials (a wrk Lua script sets the header; the JWT is one token from /zato/jwt/log-in) and a padding header that makes every target's requests the same size; ratio = to the open channel; paired ratio = the median of each round's ratio to the open channel's run in the same round (a drift of the machine over the run moves both).",
        crate::scenario::CONNECTIONS,
        plan.duration.as_secs(),
        plan.rounds.max(2)
    ));
    let cluster = format!("bench-security-{}", uuid::Uuid::new_v4().simple());
    let env = Env::create(
        &ctx.artifacts.zato,
        &ctx.work.join("security"),
        &EnvOptions::one_server(&cluster),
    )?;
    let mut proc = env.start(0, ctx.server_cpu(), &ctx.logs)?;
    wait_for(
        &format!("{}/zato/ping", env.base(0)),
        &mut proc,
        Duration::from_secs(60),
    )
    .await?;
    let mut targets = targets();
    let measured = async {
        let hello = std::fs::read(&ctx.artifacts.hello)
            .with_context(|| format!("cannot read `{}`", ctx.artifacts.hello.display()))?;
        let admin = env.admin(0);
        admin.deploy(hello, "hello.wasm").await?;
        admin
            .security(&SecurityDef {
                name: "bench-basic".into(),
                settings: SecuritySettings::BasicAuth(BasicAuthSettings {
                    username: USERNAME.into(),
                    realm: "bench".into(),
                }),
                secret: Some(PASSWORD.into()),
            })
            .await?;
        admin
            .security(&SecurityDef {
                name: "bench-key".into(),
                settings: SecuritySettings::Apikey(ApikeySettings {
                    header: "X-API-Key".into(),
                }),
                secret: Some(KEY.into()),
            })
            .await?;
        admin
            .security(&SecurityDef {
                name: "bench-jwt".into(),
                settings: SecuritySettings::Jwt(JwtSettings {
                    algorithm: JwtAlgorithm::HS256,
                    issuer: "bench".into(),
                    audience: "bench".into(),
                    ttl_s: 3600,
                    login: "bench-basic".into(),
                    public_key: None,
                }),
                secret: Some(JWT_KEY.into()),
            })
            .await?;
        let issued: JwtToken = crate::zato::client()
            .post(format!("{}/zato/jwt/log-in", env.base(0)))
            .json(&serde_json::json!({"username": USERNAME, "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()
            .context("the JWT log-in was refused")?
            .json()
            .await?;
        targets[3].2 = Some(("Authorization", format!("Bearer {}", issued.token)));
        let guards = [
            None,
            Some("bench-basic"),
            Some("bench-key"),
            Some("bench-jwt"),
            None,
            None,
        ];
        let mut files = Vec::new();
        for (((_, path, _), guard), lua) in targets.iter().zip(guards).zip(scripts(&targets)) {
            let name = path.trim_start_matches('/').replace('/', "-");
            admin
                .guarded_channel(&name, path, "demo.hello", guard)
                .await?;
            let file = ctx.work.join(format!("{name}.lua"));
            std::fs::write(&file, lua)
                .with_context(|| format!("cannot write `{}`", file.display()))?;
            files.push(file);
        }
        admin
            .rate_limit(
                "bench-counted",
                &["* = 1000000000/d"],
                false,
                "counted-hello",
            )
            .await?;
        admin
            .rate_limit("bench-exact", &["* = 1000000000/d"], true, "exact-hello")
            .await?;
        let rounds = plan.rounds.max(2) as usize;
        let mut runs: Vec<Vec<wrk::Outcome>> = vec![Vec::new(); targets.len()];
        for round in 0..rounds {
            for k in 0..targets.len() {
                let t = (round + k) % targets.len();
                let (label, path, _) = &targets[t];
                eprintln!("[bench] security: round {}/{rounds}: {label}", round + 1);
                let url = format!("{}{path}?name=bench", env.base(0));
                let load = |duration| Load {
                    url: &url,
                    connections: crate::scenario::CONNECTIONS,
                    duration,
                    script: Some(&files[t]),
                    cpu: ctx.load_cpu(),
                    cores: plan.cores,
                };
                if !plan.warmup.is_zero() {
                    wrk::run(wrk, &load(plan.warmup)).await?;
                }
                let outcome = wrk::run(wrk, &load(plan.duration)).await?;
                // A refused request is a non-2xx answer: every one must have passed.
                outcome.require_clean(label)?;
                runs[t].push(outcome);
            }
        }
        anyhow::Ok(runs)
    }
    .await;
    stop_all(vec![proc]);
    let runs = measured?;

    let labels: Vec<&str> = targets.iter().map(|(label, _, _)| *label).collect();
    section
        .rows
        .extend(crate::scenario::ratio_rows("security", &labels, &runs));
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_sends_requests_of_the_same_size() {
        let mut targets = targets();
        targets[3].2 = Some(("Authorization", format!("Bearer {}", "t".repeat(180))));
        let sizes: Vec<usize> = scripts(&targets)
            .iter()
            .map(|lua| {
                lua.lines()
                    .map(|line| {
                        let (name, value) = line
                            .strip_prefix("wrk.headers[\"")
                            .and_then(|l| l.split_once("\"] = \""))
                            .unwrap();
                        header_bytes(name, value.strip_suffix('"').unwrap())
                    })
                    .sum()
            })
            .collect();
        assert!(sizes.iter().all(|s| *s == sizes[0]), "{sizes:?}");
        assert!(sizes[0] > 180, "{sizes:?}");
    }
}
