//! `roster audit`: print the audit trail.

use clap::Args;
use serde_json::{json, Value};

use crate::accounts::{parse_rfc3339, rfc3339, AUDIT_PAGE_MAX};
use crate::app::{open_accounts, Lifetimes, Opening};
use crate::config::{DatabaseArgs, PepperArgs};
use crate::domain::AuditRecord;

/// Options of `roster audit`.
#[derive(Args, Debug)]
pub struct AuditOpts {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    pepper: PepperArgs,
    /// Only records written under this user name (any case; a deleted account's too).
    #[arg(long)]
    user: Option<String>,
    /// Only records at or after this time (RFC 3339, e.g. 2026-11-26T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// At most this many records (newest first).
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// Print a JSON array of records (the fields of `getAudit`) instead of lines.
    #[arg(long)]
    json: bool,
}

/// Prints one line per record: time, actor, dialect, address, action, user, changes.
pub async fn run(opts: AuditOpts) -> Result<(), String> {
    let since = match &opts.since {
        Some(raw) => Some(
            parse_rfc3339(raw).ok_or_else(|| format!("--since {raw:?} is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    if !(1..=AUDIT_PAGE_MAX).contains(&opts.limit) {
        return Err(format!("--limit must be between 1 and {AUDIT_PAGE_MAX}"));
    }
    let accounts = open_accounts(
        &opts.database.store(),
        &opts.pepper.rules()?,
        Lifetimes::default(),
        None,
        Opening::Admin,
    )
    .await?;
    let records = accounts
        .audit(
            &accounts.operator(),
            opts.user.as_deref(),
            since,
            opts.limit,
        )
        .await
        .map_err(|e| match e {
            crate::accounts::Error::NotFound => format!(
                "no user and no audit record named '{}'",
                opts.user.as_deref().unwrap_or_default()
            ),
            other => other.to_string(),
        })?;
    if opts.json {
        let all: Vec<Value> = records.iter().map(record_json).collect();
        println!("{:#}", Value::Array(all));
        return Ok(());
    }
    for r in records {
        let changes: Vec<String> = r
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{}: {} -> {}",
                    c.field,
                    c.old.as_deref().unwrap_or("null"),
                    c.new.as_deref().unwrap_or("null")
                )
            })
            .collect();
        println!(
            "{}  {}  {}  {}  {}  {}  {}",
            rfc3339(r.at),
            r.actor.name.as_deref().unwrap_or("-"),
            r.actor.dialect.as_str(),
            r.actor.address.as_deref().unwrap_or("-"),
            r.action.as_str(),
            r.username.as_deref().unwrap_or("-"),
            changes.join(", ")
        );
    }
    Ok(())
}

/// One record as JSON, with the fields and spellings of a `getAudit` record.
fn record_json(r: &AuditRecord) -> Value {
    let changes: Vec<Value> = r
        .changes
        .iter()
        .map(|c| json!({"field": c.field, "old": c.old, "new": c.new}))
        .collect();
    json!({
        "time": rfc3339(r.at),
        "actor": r.actor.name,
        "dialect": r.actor.dialect.as_str(),
        "address": r.actor.address,
        "action": r.action.as_str(),
        "username": r.username,
        "changes": changes,
    })
}
