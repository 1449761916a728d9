//! `roster user add|list|show|set-password|delete|unlock`: the same `accounts` rules as the
//! APIs, run with the operator's rights.

use std::io::BufRead;

use clap::{Args, Subcommand, ValueEnum};

use crate::accounts::{Accounts, Error, NewUser};
use crate::app::{open_accounts, Lifetimes, Opening};
use crate::config::{RulesArgs, StoreArgs};
use crate::domain::{Account, Actor, Dialect, ProfileInput, Role, TextField};

/// The user subcommands.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a local account (password from stdin when --password is absent).
    Add(AddOpts),
    /// List accounts.
    List(Common),
    /// Show one account.
    Show(NamedOpts),
    /// Set a new password, read from stdin; every session of the account ends.
    SetPassword(NamedOpts),
    /// Delete an account and its sessions.
    Delete(NamedOpts),
    /// Clear an account's failed-log-on counter (ends a throttling back-off).
    Unlock(NamedOpts),
}

/// Options every user subcommand takes.
#[derive(Args, Debug)]
pub struct Common {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    rules: RulesArgs,
}

/// Options of `roster user add`.
#[derive(Args, Debug)]
pub struct AddOpts {
    #[command(flatten)]
    common: Common,
    /// Unique user name (1–20 characters).
    #[arg(long)]
    username: String,
    /// Unique login email.
    #[arg(long)]
    email: String,
    /// Password (read from stdin when absent).
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
        UserCommand::List(common) => list(&open(&common).await?).await,
        UserCommand::Show(opts) => {
            let account = open(&opts.common)
                .await?
                .account_by_username(&opts.username)
                .await
                .map_err(|e| explain(e, &opts.username))?;
            print_account(&account);
            Ok(())
        }
        UserCommand::SetPassword(opts) => {
            let accounts = open(&opts.common).await?;
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

/// The accounts of the configured store, with the operator's rights.
pub(super) async fn open(common: &Common) -> Result<Accounts, String> {
    open_accounts(
        &common.store,
        &common.rules,
        Lifetimes::default(),
        None,
        Opening::Admin,
    )
    .await
}

async fn add(opts: AddOpts) -> Result<(), String> {
    let accounts = open(&opts.common).await?;
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

async fn list(accounts: &Accounts) -> Result<(), String> {
    let mut offset = 0;
    println!(
        "{:<20}  {:<6}  {:<5}  {:<6}  email",
        "username", "role", "type", "locale"
    );
    loop {
        let (page, total) = accounts
            .list_users(&accounts.operator(), offset, 500)
            .await
            .map_err(|e| e.to_string())?;
        for a in &page {
            println!(
                "{:<20}  {:<6}  {:<5}  {:<6}  {}",
                a.username,
                a.role.as_str(),
                a.kind.as_str(),
                a.locale,
                a.email
            );
        }
        offset += page.len() as i64;
        if page.is_empty() || offset >= total {
            return Ok(());
        }
    }
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

/// The first line of stdin, without its line ending.
fn read_password() -> Result<String, String> {
    eprintln!("Password (one line on stdin):");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password given on stdin".into());
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
