//! `zato dictionary ...`: the data dictionary services translate values with: list its
//! translations and entries, import a CSV or JSON file (all or nothing), export it,
//! set, remove and try translations, delete entries.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zato_api::dictionary::CSV_COLUMNS;
use zato_api::{DictEntry, DictFormat, DictImport, DictTranslation};

use crate::client::Target;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Data dictionaries: values of keys in systems, and translations between them, which
/// services read with `translate` (cached on every server, changed on all at once).
///
/// A CSV file has a header line naming the columns system1,key1,value1,system2,key2,
/// value2 (in any order), then one translation a line; a line whose last three fields
/// are empty is an entry without a translation. A JSON file is what `export --format
/// json` writes: {"entries": [...], "translations": [...]}.
///
/// Examples:
///     zato dictionary import currencies.csv
///     zato dictionary set crm currency USD accounting currency 840
///     zato dictionary translate crm currency USD accounting currency
///     zato dictionary list --system crm
///     zato dictionary export --format json --output dictionary.json
///     zato dictionary delete --system crm --key currency --value USD
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct Dictionary {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the translations (of a system, of its key).
    List {
        #[command(flatten)]
        filter: Filter,
        #[command(flatten)]
        target: Target,
    },
    /// List the entries (of a system, of its key).
    Entries {
        #[command(flatten)]
        filter: Filter,
        #[command(flatten)]
        target: Target,
    },
    /// Import a CSV or JSON file on every server (`-` reads stdin): every line is
    /// checked first, and one bad line imports nothing. Its entries are added and its
    /// translations replace those they conflict with; --replace makes the dictionary
    /// exactly the file's.
    Import {
        /// The file; `-` for stdin.
        file: PathBuf,
        /// csv or json (by default from the file's extension: .json is JSON, anything
        /// else CSV).
        #[arg(long, value_parser = parse_format)]
        format: Option<DictFormat>,
        /// Replace the whole dictionary with the file's.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Export the whole dictionary as CSV or JSON, to stdout or a file.
    Export {
        /// csv (the default) or json.
        #[arg(long, value_parser = parse_format, default_value = "csv")]
        format: DictFormat,
        /// Write it to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        target: Target,
    },
    /// Set a translation on every server (usable both ways), replacing what either
    /// value translated to in the other's system and key.
    Set {
        system1: String,
        key1: String,
        value1: String,
        system2: String,
        key2: String,
        value2: String,
        #[command(flatten)]
        target: Target,
    },
    /// Remove the translation of VALUE1 into SYSTEM2's KEY2 on every server (the
    /// entries stay).
    Unset {
        system1: String,
        key1: String,
        value1: String,
        system2: String,
        key2: String,
        #[command(flatten)]
        target: Target,
    },
    /// Translate a value as a service on the server would (exit 1 when there is no
    /// translation).
    Translate {
        system1: String,
        key1: String,
        value1: String,
        system2: String,
        key2: String,
        #[command(flatten)]
        target: Target,
    },
    /// Delete the entries of a system (of one of its keys; one value) and their
    /// translations on every server.
    Delete {
        /// The system whose entries go.
        #[arg(long)]
        system: String,
        /// Only the entries of this key.
        #[arg(long)]
        key: Option<String>,
        /// Only the entry of this value (needs --key).
        #[arg(long, requires = "key")]
        value: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

/// Which part of the dictionary to list.
#[derive(Debug, Args)]
struct Filter {
    /// Only this system's.
    #[arg(long)]
    system: Option<String>,
    /// Only this key's.
    #[arg(long)]
    key: Option<String>,
}

fn parse_format(s: &str) -> Result<DictFormat, String> {
    s.parse()
}

fn failed(message: String) -> CliError {
    CliError::new(ExitCode::Failed, message)
}

/// The format of `file` when none is given: .json is JSON, anything else CSV.
fn format_of(file: &Path) -> DictFormat {
    match file.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("json") => DictFormat::Json,
        _ => DictFormat::Csv,
    }
}

fn read(file: &Path) -> CliResult<String> {
    let mut data = String::new();
    if file == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut data)
            .map_err(|e| failed(format!("cannot read stdin: {e}")))?;
    } else {
        data = std::fs::read_to_string(file)
            .map_err(|e| failed(format!("cannot read `{}`: {e}", file.display())))?;
    }
    Ok(data)
}

fn entry(system: String, key: String, value: String) -> DictEntry {
    DictEntry { system, key, value }
}

impl Dictionary {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::List { filter, target } => {
                let dict = target
                    .connect()?
                    .dictionary(filter.system.as_deref(), filter.key.as_deref())
                    .await?;
                out.print(&dict.translations, || {
                    if dict.translations.is_empty() {
                        return "no translations".into();
                    }
                    let rows: Vec<Vec<String>> = dict
                        .translations
                        .iter()
                        .map(|t| {
                            vec![
                                t.system1.clone(),
                                t.key1.clone(),
                                t.value1.clone(),
                                t.system2.clone(),
                                t.key2.clone(),
                                t.value2.clone(),
                            ]
                        })
                        .collect();
                    let header: Vec<String> =
                        CSV_COLUMNS.iter().map(|c| c.to_uppercase()).collect();
                    let header: Vec<&str> = header.iter().map(String::as_str).collect();
                    table(&header, &rows)
                });
                Ok(())
            }
            Command::Entries { filter, target } => {
                let dict = target
                    .connect()?
                    .dictionary(filter.system.as_deref(), filter.key.as_deref())
                    .await?;
                out.print(&dict.entries, || {
                    if dict.entries.is_empty() {
                        return "no entries".into();
                    }
                    let rows: Vec<Vec<String>> = dict
                        .entries
                        .iter()
                        .map(|e| vec![e.system.clone(), e.key.clone(), e.value.clone()])
                        .collect();
                    table(&["SYSTEM", "KEY", "VALUE"], &rows)
                });
                Ok(())
            }
            Command::Import {
                file,
                format,
                replace,
                target,
            } => {
                let format = format.unwrap_or_else(|| format_of(&file));
                let data = read(&file)?;
                let client = target.connect()?;
                let imported = client
                    .import_dictionary(&DictImport {
                        format,
                        data,
                        replace,
                    })
                    .await
                    .map_err(|e| {
                        let mut e = CliError::from(e);
                        e.message = format!("cannot import `{}`: {}", file.display(), e.message);
                        e
                    })?;
                out.print(&imported, || {
                    format!(
                        "imported {} translations and {} entries from {}{}",
                        imported.translations,
                        imported.entries,
                        file.display(),
                        if imported.replaced {
                            " (the dictionary replaced)"
                        } else {
                            ""
                        }
                    )
                });
                Ok(())
            }
            Command::Export {
                format,
                output,
                target,
            } => {
                let export = target.connect()?.export_dictionary(format).await?;
                let Some(path) = output else {
                    if out.json {
                        out.print(&export, String::new);
                    } else {
                        print!("{}", export.data);
                    }
                    return Ok(());
                };
                std::fs::write(&path, &export.data).map_err(|e| {
                    failed(format!(
                        "cannot write the dictionary to `{}`: {e}",
                        path.display()
                    ))
                })?;
                out.print(
                    &serde_json::json!({
                        "output": path,
                        "format": export.format,
                        "entries": export.entries,
                        "translations": export.translations,
                    }),
                    || {
                        format!(
                            "wrote {} translations and {} entries as {} to {}",
                            export.translations,
                            export.entries,
                            export.format,
                            path.display()
                        )
                    },
                );
                Ok(())
            }
            Command::Set {
                system1,
                key1,
                value1,
                system2,
                key2,
                value2,
                target,
            } => {
                let translation = DictTranslation {
                    system1,
                    key1,
                    value1,
                    system2,
                    key2,
                    value2,
                };
                let set = target.connect()?.set_translation(&translation).await?;
                out.print(&set, || format!("{} <-> {}", set.first(), set.second()));
                Ok(())
            }
            Command::Unset {
                system1,
                key1,
                value1,
                system2,
                key2,
                target,
            } => {
                let from = entry(system1, key1, value1);
                let deleted = target
                    .connect()?
                    .delete_translation(&from, &system2, &key2)
                    .await?;
                out.print(&deleted, || {
                    format!("removed the translation of {from} into {system2}/{key2}")
                });
                Ok(())
            }
            Command::Translate {
                system1,
                key1,
                value1,
                system2,
                key2,
                target,
            } => {
                let from = entry(system1, key1, value1);
                let value = target.connect()?.translate(&from, &system2, &key2).await?;
                let Some(value) = value else {
                    return Err(failed(format!(
                        "no translation of {from} into {system2}/{key2}"
                    )));
                };
                out.print(&serde_json::json!({ "value": value }), || value.clone());
                Ok(())
            }
            Command::Delete {
                system,
                key,
                value,
                target,
            } => {
                let deleted = target
                    .connect()?
                    .delete_entries(&system, key.as_deref(), value.as_deref())
                    .await?;
                out.print(&deleted, || {
                    format!(
                        "deleted {} entries and {} translations",
                        deleted.entries, deleted.translations
                    )
                });
                Ok(())
            }
        }
    }
}
