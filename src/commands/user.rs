//! `zato user ...`: admin API users: create, list, change the password of, delete. A
//! password is write-only: sent once, kept by the servers as an argon2id hash.

use std::io::Read as _;

use clap::{Args, Subcommand};
use zato_api::users::{NewAdminUser, UserSource, check_password, check_username};

use super::security::SecTarget;
use crate::exit::{CliError, CliResult, ExitCode};
use crate::output::{Output, table};

/// Admin API users: who may use the admin API (this CLI, scripts) besides the admin of
/// the servers' server.toml. Every server knows a new user, a changed password or a
/// deletion at once. A user whose password is wrong too many times in a window
/// (server.toml's [admin.login]) is locked out until the window ends, and told so.
///
/// A password on the command line is seen by `ps`: prefer --password-env or
/// --password-stdin. The admin's own password is `--admin-password` here.
///
/// Examples:
///     zato user create --name ops --password-stdin < ops-password.txt
///     zato user list
///     zato user change-password ops --password-env NEW_PASSWORD
///     zato user delete ops
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UserCommand {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a user.
    Create {
        /// What the user logs in as.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        target: SecTarget,
    },
    /// List the users (never their passwords).
    List {
        #[command(flatten)]
        target: SecTarget,
    },
    /// Change a user's password.
    ChangePassword {
        /// The user.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        target: SecTarget,
    },
    /// Delete a user.
    Delete {
        /// The user.
        name: String,
        #[command(flatten)]
        target: SecTarget,
    },
}

/// The user's password: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct PasswordArgs {
    /// The password itself (seen by `ps`).
    #[arg(long)]
    password: Option<String>,
    /// Read it from this environment variable.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Read it from stdin (its first line).
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArgs {
    fn read(self) -> CliResult<String> {
        let password = if let Some(var) = self.password_env {
            std::env::var(&var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| usage(format!("--password-env: `{var}` is not set or empty")))?
        } else if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| usage(format!("--password-stdin: cannot read stdin: {e}")))?;
            text.lines().next().unwrap_or_default().to_owned()
        } else {
            self.password.unwrap_or_default()
        };
        check_password(&password).map_err(usage)?;
        Ok(password)
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::Usage, message)
}

impl UserCommand {
    pub async fn run(self, out: &Output) -> CliResult {
        match self.command {
            Command::Create {
                name,
                password,
                target,
            } => {
                check_username(&name).map_err(usage)?;
                let password = password.read()?;
                let user = NewAdminUser {
                    username: name,
                    password,
                };
                let info = target.connect()?.create_admin_user(&user).await?;
                out.print(&info, || format!("created admin user `{}`", info.username));
            }
            Command::List { target } => {
                let users = target.connect()?.admin_users().await?;
                out.print(&users, || {
                    let rows: Vec<Vec<String>> = users
                        .iter()
                        .map(|u| {
                            vec![
                                u.username.clone(),
                                match u.source {
                                    UserSource::Config => "server.toml".into(),
                                    UserSource::Odb => "admin API".into(),
                                },
                            ]
                        })
                        .collect();
                    table(&["USER", "DEFINED IN"], &rows)
                });
            }
            Command::ChangePassword {
                name,
                password,
                target,
            } => {
                let password = password.read()?;
                let info = target
                    .connect()?
                    .change_admin_password(&name, &password)
                    .await?;
                out.print(&info, || {
                    format!("changed the password of admin user `{}`", info.username)
                });
            }
            Command::Delete { name, target } => {
                let deleted = target.connect()?.delete_admin_user(&name).await?;
                out.print(&deleted, || {
                    format!("deleted admin user `{}`", deleted.username)
                });
            }
        }
        Ok(())
    }
}
