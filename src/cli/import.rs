//! `roster import FILE`: accounts in bulk from a JSON-lines file, in batches of one
//! transaction each, with progress on stderr.
//!
//! Each line is one object: `username`, `email`, `password` or `password_hash`, and
//! optionally `role`, `locale` and the profile fields. A line that cannot be imported is
//! reported on stderr with its number and the reason (never a password or hash) and
//! skipped; with `--strict` every line is checked first and nothing is written if one fails.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use futures_util::stream::{self, StreamExt};
use serde_json::{Map, Value};

use super::user::Rules;
use crate::accounts::{Accounts, Admin, Error, ImportUser, NewUser};
use crate::domain::{AccountKind, Actor, Dialect, NewAccount, ProfileInput, Role, TextField};
use crate::store::{Imported, OnConflict};

/// Options of `roster import`.
#[derive(Args, Debug)]
pub struct ImportOpts {
    #[command(flatten)]
    common: Rules,
    /// JSON-lines file of accounts (`-`: standard input, not with `--strict`).
    file: PathBuf,
    /// What to do with an account whose user name exists: leave it or overwrite it.
    #[arg(long, value_enum, default_value = "skip")]
    on_conflict: ConflictArg,
    /// Check every line first and import nothing if one is invalid.
    #[arg(long)]
    strict: bool,
    /// Lines per transaction.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum ConflictArg {
    Skip,
    Update,
}

/// The fields a line may hold besides the profile's text fields.
const FIELDS: [&str; 6] = [
    "username",
    "email",
    "password",
    "password_hash",
    "role",
    "locale",
];

/// What the run did, line by line.
#[derive(Debug, Default)]
struct Tally {
    lines: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
}

/// Runs `roster import`.
pub async fn run(opts: ImportOpts) -> Result<(), String> {
    let stdin = opts.file.as_os_str() == "-";
    if stdin && opts.strict {
        return Err("--strict reads the file twice: give a file, not standard input".into());
    }
    let accounts = open(&opts.common).await?;
    let admin = accounts.operator();
    let on_conflict = match opts.on_conflict {
        ConflictArg::Skip => OnConflict::Skip,
        ConflictArg::Update => OnConflict::Update,
    };
    let batch = opts.batch_size as usize;
    let mut input = Input::open(&opts.file)?;
    if opts.strict {
        let bad = check_all(&accounts, &admin, &mut input, batch).await?;
        if bad > 0 {
            return Err(format!(
                "{bad} invalid line(s); --strict: nothing was imported"
            ));
        }
        input.rewind()?;
    }
    let tally = import_all(&accounts, &admin, &mut input, batch, on_conflict).await?;
    eprintln!(
        "import: {} lines: {} created, {} updated, {} skipped (user name exists), {} failed",
        tally.lines, tally.created, tally.updated, tally.skipped, tally.failed
    );
    if tally.failed > 0 {
        return Err(format!(
            "{} line(s) could not be imported (reported above); the others were",
            tally.failed
        ));
    }
    Ok(())
}

async fn open(rules: &Rules) -> Result<Accounts, String> {
    super::user::open_rules(rules).await
}

/// The file (or stdin) read line by line, with what is needed for progress.
struct Input {
    reader: Box<dyn BufRead>,
    file: Option<std::fs::File>,
    total_bytes: Option<u64>,
    read_bytes: u64,
    line_no: u64,
    buf: String,
}

impl Input {
    fn open(path: &PathBuf) -> Result<Input, String> {
        if path.as_os_str() == "-" {
            return Ok(Input {
                reader: Box::new(BufReader::new(std::io::stdin())),
                file: None,
                total_bytes: None,
                read_bytes: 0,
                line_no: 0,
                buf: String::new(),
            });
        }
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let total = file.metadata().ok().map(|m| m.len());
        let reader = file
            .try_clone()
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(Input {
            reader: Box::new(BufReader::with_capacity(1 << 16, reader)),
            file: Some(file),
            total_bytes: total,
            read_bytes: 0,
            line_no: 0,
            buf: String::new(),
        })
    }

    fn rewind(&mut self) -> Result<(), String> {
        let file = self
            .file
            .as_mut()
            .ok_or("cannot read standard input twice")?;
        file.rewind()
            .map_err(|e| format!("cannot re-read the file: {e}"))?;
        let again = file
            .try_clone()
            .map_err(|e| format!("cannot re-read the file: {e}"))?;
        self.reader = Box::new(BufReader::with_capacity(1 << 16, again));
        self.read_bytes = 0;
        self.line_no = 0;
        Ok(())
    }

    /// The next line with its number; `None` at the end. A line that is not UTF-8 comes
    /// back as an error for that line.
    fn next_line(&mut self) -> Result<Option<Line<'_>>, String> {
        self.buf.clear();
        let mut raw = Vec::new();
        let n = self
            .reader
            .as_mut()
            .take(16 * 1024 * 1024)
            .read_until(b'\n', &mut raw)
            .map_err(|e| format!("cannot read line {}: {e}", self.line_no + 1))?;
        if n == 0 {
            return Ok(None);
        }
        self.read_bytes += n as u64;
        self.line_no += 1;
        match String::from_utf8(raw) {
            Ok(s) => {
                self.buf = s;
                Ok(Some((
                    self.line_no,
                    Ok(self.buf.trim_end_matches(['\r', '\n'])),
                )))
            }
            Err(_) => Ok(Some((self.line_no, Err("not UTF-8 text".to_owned())))),
        }
    }
}

/// A line's number and text, or why it is not text.
type Line<'a> = (u64, Result<&'a str, String>);

/// A line read and parsed, or why it cannot be.
type Parsed = (u64, Result<ImportUser, String>);

/// Reads up to `n` non-blank lines; an empty vector at the end of the input.
fn read_batch(input: &mut Input, n: usize) -> Result<Vec<Parsed>, String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let Some((no, line)) = input.next_line()? else {
            break;
        };
        match line {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => out.push((no, parse_line(l))),
            Err(e) => out.push((no, Err(e))),
        }
    }
    Ok(out)
}

/// One line as an account to check. The reasons name fields, never their values.
fn parse_line(line: &str) -> Result<ImportUser, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| {
        // serde_json's syntax errors say where, not what: they cannot echo a password.
        format!("not a JSON object ({})", position_of(&e))
    })?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    for key in map.keys() {
        if !FIELDS.contains(&key.as_str()) && text_field(key).is_none() {
            return Err(format!("unknown field '{}'", printable(key)));
        }
    }
    let username = string(&map, "username")?.ok_or("field 'username' is required")?;
    let email = string(&map, "email")?.ok_or("field 'email' is required")?;
    let role = match string(&map, "role")?.as_deref() {
        None => Role::Normal,
        Some(r) => Role::parse(r).ok_or("field 'role' must be \"admin\" or \"normal\"")?,
    };
    let mut texts = Vec::new();
    for (key, _) in &map {
        if let Some(field) = text_field(key) {
            if let Some(v) = string(&map, key)? {
                texts.push((field, v));
            }
        }
    }
    Ok(ImportUser {
        user: NewUser {
            username,
            email,
            password: string(&map, "password")?,
            kind: AccountKind::Local,
            role,
            locale: string(&map, "locale")?,
            profile: ProfileInput {
                texts,
                ..ProfileInput::default()
            },
        },
        password_hash: string(&map, "password_hash")?,
    })
}

fn position_of(e: &serde_json::Error) -> String {
    format!("column {}", e.column())
}

/// A field name fit to print: at most 40 characters, controls replaced.
fn printable(key: &str) -> String {
    key.chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The profile field `key` names; `lastname` is the ENSIMS `surname`.
fn text_field(key: &str) -> Option<TextField> {
    let key = if key == "lastname" { "surname" } else { key };
    TextField::ALL.into_iter().find(|f| f.name() == key)
}

/// A string field: absent and `null` are `None`; another type is an error.
fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("field '{key}' must be a string")),
    }
}

/// Why a use-case refused a line, without the values.
fn reason(e: &Error) -> String {
    match e {
        Error::Invalid(field) => field.to_string(),
        Error::Missing(field) => format!("field '{field}' is required"),
        Error::Policy(v) => format!("the password does not satisfy the password policy: {v}"),
        other => other.to_string(),
    }
}

/// Checks every parsed line of a batch by the account rules, concurrently (plain passwords
/// are hashed on the hashing threads); the results in line order.
async fn prepare(
    accounts: &Accounts,
    admin: &Admin,
    lines: Vec<Parsed>,
) -> Result<Vec<(u64, Result<NewAccount, String>)>, String> {
    let width = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let checked: Vec<_> = stream::iter(lines)
        .map(|(no, parsed)| async move {
            let result = match parsed {
                Err(e) => Err(e),
                Ok(user) => match accounts.prepare_import(admin, &user).await {
                    Ok(new) => Ok(new),
                    Err(e @ (Error::Unavailable(_) | Error::Internal(_))) => {
                        return Err(e.to_string())
                    }
                    Err(e) => Err(reason(&e)),
                },
            };
            Ok((no, result))
        })
        .buffered(width)
        .collect()
        .await;
    checked.into_iter().collect()
}

/// The `--strict` first pass: every line checked, duplicate user names and emails in the
/// file and emails held by another stored account found; returns how many lines are bad.
async fn check_all(
    accounts: &Accounts,
    admin: &Admin,
    input: &mut Input,
    batch: usize,
) -> Result<u64, String> {
    // 64-bit fingerprints of the keys: a million users take some 40 MB, not the keys' size.
    let seed = RandomState::new();
    let (mut usernames, mut emails) = (HashSet::new(), HashSet::new());
    let mut progress = Progress::new("check");
    let mut bad = 0;
    loop {
        let lines = read_batch(input, batch)?;
        if lines.is_empty() {
            break;
        }
        let checked = prepare(accounts, admin, lines).await?;
        let mut good = Vec::new();
        for (no, result) in checked {
            progress.lines += 1;
            let problem = match result {
                Err(e) => Some(e),
                Ok(new) => {
                    let (u, e) = (new.username.key(), new.email.key());
                    if !usernames.insert(seed.hash_one(&u)) {
                        Some("user name repeated from an earlier line".into())
                    } else if !emails.insert(seed.hash_one(&e)) {
                        Some("email repeated from an earlier line".into())
                    } else {
                        good.push((no, u, e));
                        None
                    }
                }
            };
            if let Some(p) = problem {
                bad += 1;
                eprintln!("line {no}: {p}");
            }
        }
        let keys: Vec<String> = good.iter().map(|(_, _, e)| e.clone()).collect();
        let owners: std::collections::HashMap<String, String> = accounts
            .email_owners(admin, &keys)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect();
        for (no, username, email) in good {
            if owners.get(&email).is_some_and(|owner| *owner != username) {
                bad += 1;
                eprintln!("line {no}: email already in use by another account");
            }
        }
        progress.tick(input);
    }
    Ok(bad)
}

/// The import proper: batch after batch, each in one transaction.
async fn import_all(
    accounts: &Accounts,
    admin: &Admin,
    input: &mut Input,
    batch: usize,
    on_conflict: OnConflict,
) -> Result<Tally, String> {
    let actor = Actor::anonymous(Dialect::Cli, None);
    let mut tally = Tally::default();
    let mut progress = Progress::new("import");
    loop {
        let lines = read_batch(input, batch)?;
        if lines.is_empty() {
            break;
        }
        let checked = prepare(accounts, admin, lines).await?;
        let mut numbers = Vec::with_capacity(checked.len());
        let mut news = Vec::with_capacity(checked.len());
        for (no, result) in checked {
            tally.lines += 1;
            match result {
                Ok(new) => {
                    numbers.push(no);
                    news.push(new);
                }
                Err(e) => {
                    tally.failed += 1;
                    eprintln!("line {no}: {e}");
                }
            }
        }
        let outcomes = accounts
            .import_batch(admin, &news, on_conflict, &actor)
            .await
            .map_err(|e| {
                format!(
                    "the batch from line {} failed and was not stored: {e}",
                    numbers.first().copied().unwrap_or(input.line_no)
                )
            })?;
        for (no, outcome) in numbers.into_iter().zip(outcomes) {
            match outcome {
                Imported::Created => tally.created += 1,
                Imported::Updated => tally.updated += 1,
                Imported::Skipped | Imported::Unchanged => tally.skipped += 1,
                Imported::EmailTaken => {
                    tally.failed += 1;
                    eprintln!("line {no}: email already in use by another account");
                }
            }
        }
        progress.lines = tally.lines;
        progress.tick(input);
    }
    progress.finish();
    Ok(tally)
}

/// A progress line on stderr at most once a second: lines, rate, ETA (from the bytes read
/// of a file's size).
struct Progress {
    what: &'static str,
    start: Instant,
    last: Instant,
    lines: u64,
}

impl Progress {
    fn new(what: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            what,
            start: now,
            last: now,
            lines: 0,
        }
    }

    fn tick(&mut self, input: &Input) {
        if self.last.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let secs = self.start.elapsed().as_secs_f64();
        let rate = self.lines as f64 / secs.max(1e-3);
        let eta = match input.total_bytes {
            Some(total) if input.read_bytes > 0 => {
                let left = total.saturating_sub(input.read_bytes) as f64;
                format!(", ETA {:.0} s", left * secs / input.read_bytes as f64)
            }
            _ => String::new(),
        };
        eprintln!(
            "{}: {} lines, {rate:.0} lines/s{eta}",
            self.what, self.lines
        );
    }

    fn finish(&self) {
        let secs = self.start.elapsed().as_secs_f64();
        eprintln!(
            "{}: {} lines in {secs:.1} s ({:.0} lines/s)",
            self.what,
            self.lines,
            self.lines as f64 / secs.max(1e-3)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_never_repeat_the_values() {
        let secret = "Hunter2!secret";
        for line in [
            format!("{{\"username\":\"a\",\"email\":\"a@x.org\",\"password\":{secret:?},"),
            format!("{{\"username\":\"a\",\"password\":{secret:?}}}"),
            format!("{{\"username\":\"a\",\"email\":1,\"password\":{secret:?}}}"),
            format!("[{secret:?}]"),
        ] {
            let err = parse_line(&line).unwrap_err();
            assert!(!err.contains(secret), "{err}");
        }
    }

    #[test]
    fn a_line_names_its_fields() {
        let u = parse_line(
            r#"{"username":"ann","email":"ann@x.org","password_hash":"h","role":"admin",
                "locale":"en","firstname":"Ann","lastname":"Lee","tel":null}"#,
        )
        .unwrap();
        assert_eq!(u.user.username, "ann");
        assert_eq!(u.user.role, Role::Admin);
        assert_eq!(u.password_hash.as_deref(), Some("h"));
        assert!(u.user.password.is_none());
        assert_eq!(u.user.profile.texts.len(), 2);
        assert!(parse_line(r#"{"username":"a","email":"b","pasword":"x"}"#)
            .unwrap_err()
            .contains("unknown field 'pasword'"));
        assert!(parse_line(r#"{"username":"a","email":"b","role":"root"}"#).is_err());
    }
}
