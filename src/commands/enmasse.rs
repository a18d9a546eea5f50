//! `zato enmasse export|import FILE`: every definition of an environment as one YAML or
//! JSON file, and back (`zato_api::enmasse` does the work; this reads and writes the
//! files and speaks to people).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use zato_api::enmasse::{self, Action, Enmasse, Plan, PlanError, Sources, Step};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Configuration as code: every definition of an environment (services with their
/// components, channels, jobs and calendars, outgoing connections, security
/// definitions, rate limits, the data dictionary) in one YAML or JSON file, and back.
///
/// `export` writes FILE and, in `services/` next to it, each service's component; the
/// file names each by its sha256. Secrets are not exported: an object with one is
/// written with a reference to an environment variable (`${ZATO_SECRET_...}`), which
/// `import` reads when it creates the object. A secret may also be written in the file
/// as it is.
///
/// `import` checks the whole file against the environment first and changes nothing
/// when something is wrong (a name used twice, a reference to something neither the
/// file nor the environment has, a component that does not match its sha256, a secret
/// an object to create needs and does not get), naming every problem. It then creates
/// and updates objects in the order of their dependencies; what is already as the file
/// says is left alone, so importing twice changes nothing. It never deletes what the
/// file does not name. --dry-run prints the plan alone.
///
/// Examples:
///     zato enmasse export env.yaml --env ./env
///     ZATO_SECRET_SECURITY_PARTNER=... zato enmasse import env.yaml --env ./other --dry-run
///     zato enmasse import env.yaml --env ./other
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct EnmasseCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write every definition to FILE, and each service's component to `services/`
    /// next to it.
    Export {
        /// The file to write (replaced if it exists).
        file: PathBuf,
        /// yaml or json (by default from FILE's extension: .json is JSON, anything
        /// else YAML).
        #[arg(long, value_enum)]
        format: Option<Format>,
        #[command(flatten)]
        target: Target,
    },
    /// Create and update what FILE defines, after checking all of it.
    Import {
        /// The file an export wrote (or a person).
        file: PathBuf,
        /// yaml or json (by default from FILE's extension).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Print what the import would do, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also send the secrets of objects that exist already (otherwise a secret
        /// is sent only to create an object: a stored one cannot be compared).
        #[arg(long)]
        update_secrets: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

fn format_of(file: &Path, given: Option<Format>) -> Format {
    given.unwrap_or_else(|| match file.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
        _ => Format::Yaml,
    })
}

fn failed(message: String) -> CliError {
    CliError::new(ExitCode::Failed, message)
}

/// The directory FILE's relative paths start from.
fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult {
    let dir = base_dir(path);
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("zato")
    ));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| failed(format!("cannot write `{}`: {e}", path.display())))
}

#[derive(Serialize)]
struct Exported<'a> {
    file: String,
    format: &'static str,
    services: Vec<&'a str>,
    counts: Counts,
}

#[derive(Serialize)]
struct Counts {
    rate_limits: usize,
    security: usize,
    outconns: usize,
    services: usize,
    calendars: usize,
    http_channels: usize,
    soap_channels: usize,
    msg_channels: usize,
    jobs: usize,
    rate_limit_uses: usize,
    dictionary_entries: usize,
    dictionary_translations: usize,
}

impl Counts {
    fn of(doc: &Enmasse) -> Self {
        Counts {
            rate_limits: doc.rate_limits.len(),
            security: doc.security.len(),
            outconns: doc.outconns.len(),
            services: doc.services.len(),
            calendars: doc.calendars.len(),
            http_channels: doc.http_channels.len(),
            soap_channels: doc.soap_channels.len(),
            msg_channels: doc.msg_channels.len(),
            jobs: doc.jobs.len(),
            rate_limit_uses: doc.rate_limit_uses.len(),
            dictionary_entries: doc.dictionary.entries.len(),
            dictionary_translations: doc.dictionary.translations.len(),
        }
    }

    fn human(&self) -> String {
        let parts = [
            (self.services, "services"),
            (self.http_channels, "HTTP channels"),
            (self.soap_channels, "SOAP channels"),
            (self.msg_channels, "messaging channels"),
            (self.jobs, "jobs"),
            (self.calendars, "calendars"),
            (self.outconns, "outgoing connections"),
            (self.security, "security definitions"),
            (self.rate_limits, "rate limits"),
            (self.rate_limit_uses, "rate-limit attachments"),
            (self.dictionary_entries, "dictionary entries"),
        ];
        parts
            .iter()
            .map(|(n, what)| format!("{n} {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Serialize)]
struct Imported<'a> {
    file: String,
    dry_run: bool,
    created: usize,
    updated: usize,
    unchanged: usize,
    steps: &'a [Step],
}

fn action_text(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Unchanged => "unchanged",
    }
}

fn plan_table(plan: &Plan) -> String {
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|s| {
            vec![
                action_text(s.action).to_owned(),
                s.kind.to_owned(),
                s.name.clone(),
                s.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ACTION", "KIND", "NAME", "DETAIL"], &rows)
}

impl EnmasseCommand {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Export {
                file,
                format,
                target,
            } => export(out, &file, format_of(&file, format), &target).await,
            Command::Import {
                file,
                format,
                dry_run,
                update_secrets,
                target,
            } => {
                import(
                    out,
                    &file,
                    format_of(&file, format),
                    dry_run,
                    update_secrets,
                    &target,
                )
                .await
            }
        }
    }
}

async fn export(out: &Output, file: &Path, format: Format, target: &Target) -> CliResult {
    let client = target.connect()?;
    let spinner = out.spinner(format!("reading the environment into {}", file.display()));
    let exported = enmasse::export(&client, true).await?;
    let dir = base_dir(file);
    let services_dir = dir.join(enmasse::SERVICES_DIR);
    if !exported.files.is_empty() {
        std::fs::create_dir_all(&services_dir)
            .map_err(|e| failed(format!("cannot create `{}`: {e}", services_dir.display())))?;
    }
    for (path, bytes) in &exported.files {
        write_atomically(&dir.join(path), bytes)?;
    }
    let text = match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&exported.doc).expect("serialises");
            text.push('\n');
            text
        }
        Format::Yaml => serde_yaml_ng::to_string(&exported.doc)
            .map_err(|e| failed(format!("cannot write the document as YAML: {e}")))?,
    };
    write_atomically(file, text.as_bytes())?;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let counts = Counts::of(&exported.doc);
    let answer = Exported {
        file: file.display().to_string(),
        format: match format {
            Format::Yaml => "yaml",
            Format::Json => "json",
        },
        services: exported.files.iter().map(|(p, _)| p.as_str()).collect(),
        counts,
    };
    out.print(&answer, || {
        format!(
            "exported {} to {} (components in {})",
            answer.counts.human(),
            file.display(),
            services_dir.display()
        )
    });
    Ok(())
}

fn read_doc(file: &Path, format: Format) -> CliResult<Enmasse> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| failed(format!("cannot read `{}`: {e}", file.display())))?;
    let doc = match format {
        Format::Json => serde_json::from_str(&text).map_err(|e| e.to_string()),
        Format::Yaml => serde_yaml_ng::from_str(&text).map_err(|e| e.to_string()),
    };
    doc.map_err(|e| {
        failed(format!(
            "`{}` is not an enmasse file: {e}; nothing was changed",
            file.display()
        ))
    })
}

async fn import(
    out: &Output,
    file: &Path,
    format: Format,
    dry_run: bool,
    update_secrets: bool,
    target: &Target,
) -> CliResult {
    let doc = read_doc(file, format)?;
    let client = target.connect()?;
    let dir = base_dir(file);
    let read_file = |path: &str| std::fs::read(dir.join(path)).map_err(|e| e.to_string());
    let variable = |name: &str| std::env::var(name).ok();
    let sources = Sources {
        file: &read_file,
        variable: &variable,
        update_secrets,
    };
    let plan = match enmasse::plan(&client, &doc, &sources).await {
        Ok(plan) => plan,
        Err(PlanError::Client(e)) => return Err(e.into()),
        Err(PlanError::Refused(problems)) => {
            let mut details = serde_json::Map::new();
            details.insert("problems".into(), problems.clone().into());
            let list = problems
                .iter()
                .map(|p| format!("\n  - {p}"))
                .collect::<String>();
            return Err(failed(format!(
                "`{}` is refused, and nothing was changed: {} problem{}:{list}",
                file.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ))
            .with_details(details));
        }
    };
    let summary = |dry_run: bool| Imported {
        file: file.display().to_string(),
        dry_run,
        created: plan.count(Action::Create),
        updated: plan.count(Action::Update),
        unchanged: plan.count(Action::Unchanged),
        steps: &plan.steps,
    };
    if dry_run {
        let answer = summary(true);
        out.print(&answer, || {
            format!(
                "{}\n\nwould create {}, update {}, leave {} unchanged (dry run: nothing changed)",
                plan_table(&plan),
                answer.created,
                answer.updated,
                answer.unchanged
            )
        });
        return Ok(());
    }
    let total = plan.count(Action::Create) + plan.count(Action::Update);
    let mut done = 0;
    let progress = !out.json;
    let result = enmasse::apply(&client, &plan, |step| {
        done += 1;
        if progress {
            eprintln!(
                "[{done}/{total}] {} {} {}",
                action_text(step.action),
                step.kind,
                step.name
            );
        }
    })
    .await;
    if let Err(e) = result {
        let step = &plan.steps[e.step];
        let applied = plan.steps[..e.step]
            .iter()
            .filter(|s| s.action != Action::Unchanged)
            .count();
        let mut error = CliError::from(e.error);
        error.message = format!(
            "cannot {} {} `{}`: {}; the {applied} change{} before it {} made (importing the \
             file again once this is fixed leaves them as they are)",
            action_text(step.action),
            step.kind,
            step.name,
            error.message,
            if applied == 1 { "" } else { "s" },
            if applied == 1 { "was" } else { "were" },
        );
        let mut details = serde_json::Map::new();
        details.insert("applied".into(), applied.into());
        return Err(error.with_details(details));
    }
    let answer = summary(false);
    out.print(&answer, || {
        format!(
            "imported {}: created {}, updated {}, left {} unchanged",
            file.display(),
            answer.created,
            answer.updated,
            answer.unchanged
        )
    });
    Ok(())
}
