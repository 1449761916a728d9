//! The optional TOML configuration file (`--config PATH`, `ROSTER_CONFIG`), keys = flag names
//! without `--`. Its values fill the settings given neither as a flag nor as an environment
//! variable: precedence is flag, then environment, then file, then default.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command, CommandFactory};

/// Variables read directly rather than through a flag.
const ENV_ONLY: [&str; 4] = [
    "ROSTER_ADMIN_PASSWORD",
    "ROSTER_PASSWORD_PEPPER",
    "ROSTER_LOG",
    "ROSTER_CONFIG",
];

/// The command line with the file's values added, and what to report about it.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// The arguments to parse: the process's, plus `--key=value` for each file value used.
    pub args: Vec<OsString>,
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Keys (flag names) whose value came from the file.
    pub from_file: BTreeSet<String>,
    /// Unknown `ROSTER_*` variables, to log once logging is up.
    pub warnings: Vec<String>,
}

/// Reads the file `args` (or `ROSTER_CONFIG`) names, if any, and adds its values to `args`.
/// An unreadable file, a bad value or an unknown key is an error.
pub fn load(args: Vec<OsString>) -> Result<Loaded, String> {
    let mut cli = crate::cli::Cli::command();
    cli.build();
    let mut loaded = Loaded {
        warnings: unknown_variables(&cli),
        ..Loaded::default()
    };
    // Help, version and malformed command lines are left for the real parse to report.
    let Ok(matches) = cli.clone().try_get_matches_from(&args) else {
        loaded.args = args;
        return Ok(loaded);
    };
    let (command, matches) = deepest(&cli, &matches);
    let Some(path) = matches.get_one::<PathBuf>("config").cloned() else {
        loaded.args = args;
        return Ok(loaded);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read --config {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("--config {}: {e}", path.display()))?;
    let serve = cli.find_subcommand("serve").expect("a serve command");
    loaded.args = args;
    for (key, value) in &table {
        let known = |c: &Command| {
            c.get_arguments()
                .find(|a| a.get_long() == Some(key))
                .cloned()
        };
        if key == "config" || known(serve).is_none() {
            return Err(format!(
                "--config {}: unknown key `{key}` (keys are the flags of `roster serve` \
                 without `--`)",
                path.display()
            ));
        }
        // A setting the running command does not have (e.g. `listen` for `user list`).
        let Some(arg) = known(command) else { continue };
        if matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let flag = as_flag(key, value, arg.get_action())
            .map_err(|e| format!("--config {}: `{key}`: {e}", path.display()))?;
        loaded.args.extend(flag.map(OsString::from));
        loaded.from_file.insert(key.clone());
    }
    loaded.path = Some(path);
    Ok(loaded)
}

/// The innermost subcommand given, and its matches.
pub fn deepest<'a>(
    mut command: &'a Command,
    mut matches: &'a ArgMatches,
) -> (&'a Command, &'a ArgMatches) {
    while let Some((name, sub)) = matches.subcommand() {
        command = command
            .find_subcommand(name)
            .expect("a parsed subcommand exists");
        matches = sub;
    }
    (command, matches)
}

/// `--key=value` for a file value; a switch is given only when true.
fn as_flag(key: &str, value: &toml::Value, action: &ArgAction) -> Result<Option<String>, String> {
    use toml::Value as V;
    let text = match value {
        V::Boolean(on) if matches!(action, ArgAction::SetTrue) => {
            return Ok(on.then(|| format!("--{key}")));
        }
        V::String(s) => s.clone(),
        V::Integer(n) => n.to_string(),
        V::Float(x) => x.to_string(),
        V::Boolean(b) => b.to_string(),
        V::Array(items) => items
            .iter()
            .map(|item| match item {
                V::String(s) => Ok(s.clone()),
                V::Integer(n) => Ok(n.to_string()),
                _ => Err("a list holds strings or numbers".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => return Err("expected a string, number, boolean or list".into()),
    };
    Ok(Some(format!("--{key}={text}")))
}

/// Every `ROSTER_*` name some command reads.
fn known_variables(command: &Command, names: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            names.insert(env.to_string_lossy().into_owned());
        }
    }
    for sub in command.get_subcommands() {
        known_variables(sub, names);
    }
}

/// Warnings for the `ROSTER_*` variables of the environment that no command reads (a typo
/// would otherwise be silently ignored). Values are never shown: they may be secrets.
fn unknown_variables(cli: &Command) -> Vec<String> {
    let mut known: BTreeSet<String> = ENV_ONLY.iter().map(|s| (*s).to_string()).collect();
    known_variables(cli, &mut known);
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("ROSTER_") && !known.contains(name))
        .map(|name| format!("unknown environment variable {name} ignored"))
        .collect()
}
