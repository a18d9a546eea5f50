//! Scenario 17: from `zato new` to a deployed service answering, in each language.
//!
//! What a new user does, as the README says, timed step by step on one server on the
//! embedded defaults: `zato new LANGUAGE greeter-LANGUAGE`; in the project, what its
//! README asks first (`npm install` for JavaScript, nothing for Rust or Python); `zato
//! build` (which prints the component's path last); `zato deploy COMPONENT --env DIR`;
//! and the first invoke, whose answer is checked. Each project is new, with a target
//! directory of its own: a Rust build compiles the SDK and its dependencies from the
//! crates already in cargo's cache, as a new user's first build does once the crates
//! are downloaded. Python needs componentize-py (`pip install componentize-py==0.25.0`,
//! as the README says), JavaScript Node.js and npm.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Ctx;
use crate::process;
use crate::report::{Row, Section};
use crate::zato::{Env, EnvOptions, wait_for};

/// The languages, and what each project's README asks for before `zato build`.
const LANGUAGES: [(&str, &[&[&str]]); 3] = [
    ("rust", &[]),
    ("python", &[]),
    (
        "js",
        &[&[
            "npm",
            "install",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
        ]],
    ),
];

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs `program args` in `dir` for a step of `language`; its stdout.
fn step(language: &str, dir: &Path, program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = process::command(program, None);
    cmd.args(args)
        .current_dir(dir)
        // A project's own target directory: nothing built by the suite is reused.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    process::run(
        &format!("{language}: {} {}", program.display(), args.join(" ")),
        &mut cmd,
    )
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<Section> {
    let mut section = Section::new(
        "17. From `zato new` to a deployed service answering",
        vec![
            "language",
            "zato new",
            "install",
            "zato build",
            "zato deploy",
            "first answer",
            "total",
        ],
    );
    section.notes.push(
        "Each step as a new user runs it, on one server (embedded defaults): `zato new LANGUAGE greeter-LANGUAGE`; the project's README's install step (`npm install` for JavaScript); `zato build`; `zato deploy COMPONENT --env DIR`; the first invoke through the admin API, its answer checked ({\"message\": \"Hello, Ada!\"}). A project's build has a target directory of its own (a Rust build compiles the SDK and its dependencies, from cargo's cache of downloaded crates). The issue's bar: under 5 minutes each.".into(),
    );
    let zato = &ctx.artifacts.zato;
    let cluster = format!("bench-new-{}", uuid::Uuid::new_v4().simple());
    let env = Env::create(
        zato,
        &ctx.work.join("new-env"),
        &EnvOptions::one_server(&cluster),
    )?;
    let mut proc = env.start(0, None, &ctx.logs)?;
    wait_for(
        &format!("{}/zato/ping", env.base(0)),
        &mut proc,
        Duration::from_secs(60),
    )
    .await?;
    let admin = zato_api::AdminClient::with_client(
        crate::zato::client(),
        env.base(0),
        env.credentials().0,
        env.credentials().1,
    );
    let env_dir = env.dir.to_str().context("a work directory in UTF-8")?;
    for (language, install) in LANGUAGES {
        let work = ctx.work.join(format!("new-{language}"));
        std::fs::create_dir_all(&work)?;
        let name = format!("greeter-{language}");
        eprintln!("[bench] new project: {language}");
        let started = Instant::now();
        step(language, &work, zato, &["new", language, &name])?;
        let created = started.elapsed();
        let project = work.join(&name);
        let before_install = Instant::now();
        for command in install {
            let program = process::which(command[0])
                .with_context(|| format!("{language}: `{}` is not on the PATH", command[0]))?;
            step(language, &project, &program, &command[1..])?;
        }
        let installed = before_install.elapsed();
        let before_build = Instant::now();
        let built = step(language, &project, zato, &["build"])?;
        let built_in = before_build.elapsed();
        let component = built
            .lines()
            .last()
            .map(str::to_owned)
            .with_context(|| format!("{language}: `zato build` printed nothing"))?;
        let before_deploy = Instant::now();
        step(
            language,
            &project,
            zato,
            &["deploy", &component, "--env", env_dir],
        )?;
        let deployed = before_deploy.elapsed();
        let before_answer = Instant::now();
        let answer = admin
            .invoke(
                &name,
                r#"{"name": "Ada"}"#.as_bytes().to_vec(),
                zato_api::DataFormat::Json,
                None,
            )
            .await?;
        let answered = before_answer.elapsed();
        let total = started.elapsed();
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if !answer.status.is_success() || body != serde_json::json!({"message": "Hello, Ada!"}) {
            bail!(
                "{language}: {name} answered {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        section.rows.push(
            Row::new("new-project", language)
                .extra("new_s", created.as_secs_f64())
                .extra("install_s", installed.as_secs_f64())
                .extra("build_s", built_in.as_secs_f64())
                .extra("deploy_s", deployed.as_secs_f64())
                .extra("first_answer_s", answered.as_secs_f64())
                .extra("total_s", total.as_secs_f64())
                .cells(vec![
                    language.to_owned(),
                    secs(created),
                    if install.is_empty() {
                        "-".into()
                    } else {
                        secs(installed)
                    },
                    secs(built_in),
                    secs(deployed),
                    format!("{:.0} ms", answered.as_secs_f64() * 1000.0),
                    secs(total),
                ]),
        );
    }
    proc.stop();
    Ok(section)
}
