//! `roster user add|list|show|set-password|delete|unlock`: the same `accounts` rules as the
//! APIs, run with the operator's rights.

use std::io::{BufRead, IsTerminal};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use crate::accounts::{Accounts, Error, NewUser};
use crate::app::{open_accounts, Lifetimes, Opening};
use crate::config::{DatabaseArgs, PepperArgs, RulesArgs};
use crate::domain::{Account, Actor, Dialect, ProfileInput, Role, TextField};

/// The user subcommands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a local account (password prompted, or read from stdin, when --password is
    /// absent).
    Add(AddOpts),
    /// List accounts.
    List(ListOpts),
    /// Show one account.
    Show(ShowOpts),
    /// Set a new password (prompted, or read from stdin); every session of the account ends.
    SetPassword(HashingOpts),
    /// Delete an account and its sessions.
    Delete(NamedOpts),
    /// Clear an account's failed-log-on counter (ends a throttling back-off).
    Unlock(NamedOpts),
}

/// Options of the user subcommands that hash no password.
#[derive(Args, Debug)]
pub struct Common {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    pepper: PepperArgs,
}

/// Options of the user subcommands that hash a password: the server's rules.
#[derive(Args, Debug)]
pub struct Rules {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    rules: RulesArgs,
}

/// Options of `roster user list`.
#[derive(Args, Debug)]
pub struct ListOpts {
    #[command(flatten)]
    common: Common,
    /// Print a JSON array of accounts instead of a table.
    #[arg(long)]
    json: bool,
}

/// Options of `roster user show`.
#[derive(Args, Debug)]
pub struct ShowOpts {
    #[command(flatten)]
    named: NamedOpts,
    /// Print the account as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Options of `roster user set-password`.
#[derive(Args, Debug)]
pub struct HashingOpts {
    #[command(flatten)]
    rules: Rules,
    /// The user name.
    username: String,
}

/// Options of `roster user add`.
#[derive(Args, Debug)]
pub struct AddOpts {
    #[command(flatten)]
    rules: Rules,
    /// Unique user name (1–20 characters).
    #[arg(long)]
    username: String,
    /// Unique login email.
    #[arg(long)]
    email: String,
    /// Password (visible in process lists: prefer the prompt, or stdin, when it is absent).
    #[arg(long)]
    password: Option<String>,
    /// Role of the account.
    #[arg(long, value_enum, default_value = "normal")]
    role: RoleArg,
    /// First name.
    #[arg(long)]
    firstname: Option<String>,
    /// Last name (the ENSIMS `surname`).
    #[arg(long)]
    lastname: Option<String>,
}

/// Options of the commands that name one user.
#[derive(Args, Debug)]
pub struct NamedOpts {
    #[command(flatten)]
    common: Common,
    /// The user name.
    username: String,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum RoleArg {
    Admin,
    Normal,
}

/// Runs one user subcommand.
pub async fn run(cmd: UserCommand) -> Result<(), String> {
    match cmd {
        UserCommand::Add(opts) => add(opts).await,
        UserCommand::List(opts) => list(&open(&opts.common).await?, opts.json).await,
        UserCommand::Show(opts) => {
            let username = &opts.named.username;
            let account = open(&opts.named.common)
                .await?
                .account_by_username(username)
                .await
                .map_err(|e| explain(e, username))?;
            if opts.json {
                println!("{:#}", account_json(&account));
            } else {
                print_account(&account);
            }
            Ok(())
        }
        UserCommand::SetPassword(opts) => {
            let accounts = open_rules(&opts.rules).await?;
            let password = read_password()?;
            accounts
                .reset_password(
                    &accounts.operator(),
                    &opts.username,
                    &password,
                    &cli_actor(),
                )
                .await
                .map_err(|e| explain(e, &opts.username))?;
            println!(
                "Password of '{}' changed; its sessions have ended.",
                opts.username
            );
            Ok(())
        }
        UserCommand::Delete(opts) => {
            let accounts = open(&opts.common).await?;
            accounts
                .delete_user(&accounts.operator(), &opts.username, &cli_actor())
                .await
                .map_err(|e| explain(e, &opts.username))?;
            println!("Deleted '{}'.", opts.username);
            Ok(())
        }
        UserCommand::Unlock(opts) => {
            let accounts = open(&opts.common).await?;
            accounts
                .unlock(&accounts.operator(), &opts.username, &cli_actor())
                .await
                .map_err(|e| explain(e, &opts.username))?;
            println!("Unlocked '{}'.", opts.username);
            Ok(())
        }
    }
}

/// Opens the accounts for a command that hashes nothing: default rules, the given pepper.
async fn open(common: &Common) -> Result<Accounts, String> {
    open_accounts(
        &common.database.store(),
        &common.pepper.rules()?,
        Lifetimes::default(),
        None,
        Opening::Admin,
    )
    .await
}

/// Opens the accounts under the server's hashing rules.
pub(super) async fn open_rules(rules: &Rules) -> Result<Accounts, String> {
    open_accounts(
        &rules.database.store(),
        &rules.rules,
        Lifetimes::default(),
        None,
        Opening::Admin,
    )
    .await
}

async fn add(opts: AddOpts) -> Result<(), String> {
    let accounts = open_rules(&opts.rules).await?;
    let password = match opts.password {
        Some(p) => p,
        None => read_password()?,
    };
    let role = match opts.role {
        RoleArg::Admin => Role::Admin,
        RoleArg::Normal => Role::Normal,
    };
    let mut user = NewUser::local(&opts.username, &opts.email, &password, role);
    user.profile = ProfileInput {
        texts: [
            (TextField::Firstname, opts.firstname),
            (TextField::Surname, opts.lastname),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect(),
        ..ProfileInput::default()
    };
    let account = accounts
        .create_user(user, &cli_actor())
        .await
        .map_err(|e| explain(e, &opts.username))?;
    println!("Created '{}' (id {}).", account.username, account.id);
    Ok(())
}

async fn list(accounts: &Accounts, json: bool) -> Result<(), String> {
    let mut offset = 0;
    let mut all = Vec::new();
    if !json {
        println!(
            "{:<20}  {:<6}  {:<5}  {:<6}  email",
            "username", "role", "type", "locale"
        );
    }
    loop {
        let (page, total) = accounts
            .list_users(&accounts.operator(), offset, 500)
            .await
            .map_err(|e| e.to_string())?;
        for a in &page {
            if json {
                all.push(account_json(a));
            } else {
                println!(
                    "{:<20}  {:<6}  {:<5}  {:<6}  {}",
                    a.username,
                    a.role.as_str(),
                    a.kind.as_str(),
                    a.locale,
                    a.email
                );
            }
        }
        offset += page.len() as i64;
        if page.is_empty() || offset >= total {
            break;
        }
    }
    if json {
        println!("{:#}", Value::Array(all));
    }
    Ok(())
}

/// An account as JSON: what `show` prints, every profile field (null when empty), no secret.
fn account_json(a: &Account) -> Value {
    let mut object = json!({
        "id": a.id,
        "username": a.username,
        "email": a.email,
        "role": a.role.as_str(),
        "type": a.kind.as_str(),
        "locale": a.locale,
    });
    for field in TextField::ALL {
        object[field.name()] = json!(a.profile.get(field));
    }
    object["use_jess"] = json!(a.profile.use_jess);
    object["version"] = json!(a.version);
    object["created"] = json!(crate::accounts::rfc3339(a.created_at));
    object["updated"] = json!(crate::accounts::rfc3339(a.updated_at));
    object
}

/// Changes made here are audited as the command line's, from no address.
fn cli_actor() -> Actor {
    Actor::anonymous(Dialect::Cli, None)
}

fn print_account(a: &Account) {
    println!("username: {}", a.username);
    println!("email: {}", a.email);
    println!("role: {}", a.role.as_str());
    println!("type: {}", a.kind.as_str());
    println!("locale: {}", a.locale);
    for field in TextField::ALL {
        if let Some(value) = a.profile.get(field) {
            println!("{}: {value}", field.name());
        }
    }
    println!("use_jess: {}", a.profile.use_jess);
    println!("version: {}", a.version);
}

/// The new password: prompted without echo (twice, to catch a typo) when stdin is a
/// terminal, else the first line of stdin without its line ending.
fn read_password() -> Result<String, String> {
    let failed = |e: std::io::Error| format!("cannot read the password: {e}");
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(failed)?;
        if !first.is_empty() {
            let again = rpassword::prompt_password("Password again: ").map_err(failed)?;
            if again != first {
                return Err("the two passwords differ; nothing was changed".into());
            }
        }
        first
    } else {
        eprintln!("Password (one line on stdin):");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(failed)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        return Err("no password given".into());
    }
    Ok(password)
}

fn explain(e: Error, username: &str) -> String {
    match e {
        Error::NotFound => format!("no user named '{username}'"),
        Error::Taken(field) => {
            format!("{field:?} already in use by another account").to_lowercase()
        }
        Error::DefaultAdmin => "the default administrator 'admin' cannot be deleted".into(),
        Error::NotLocal => {
            format!("'{username}' is a directory (ad) account without a local password")
        }
        other => other.to_string(),
    }
}
