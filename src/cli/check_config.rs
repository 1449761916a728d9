//! `roster check-config`: validates the settings and prints the effective configuration as
//! TOML (usable as a `--config` file), each value with where it came from, secrets masked.

use std::fmt::Write;

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};

use crate::config::Config;
use crate::config_file::{deepest, Loaded};

/// Validates `config`, then prints every setting of `roster serve` as `loaded` gave it.
pub fn run(config: &Config, loaded: &Loaded) -> Result<(), String> {
    config.validate()?;
    print!("{}", render(loaded));
    Ok(())
}

/// The effective configuration, one `key = value  # source` line per setting.
pub fn render(loaded: &Loaded) -> String {
    let mut cli = crate::cli::Cli::command();
    cli.build();
    let matches = cli.clone().get_matches_from(&loaded.args);
    let (command, matches) = deepest(&cli, &matches);
    let mut out = match &loaded.path {
        Some(path) => format!("# configuration file: {}\n", path.display()),
        None => "# no configuration file\n".to_owned(),
    };
    for arg in command.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        if matches!(key, "help" | "version" | "config") {
            continue;
        }
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            _ if loaded.from_file.contains(key) => "file",
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::DefaultValue) => "default",
            _ => {
                let _ = writeln!(out, "# {key} is not set");
                continue;
            }
        };
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|v| mask(key, &v.to_string_lossy()))
            .collect();
        let value = toml_value(
            &values,
            arg.get_action(),
            arg.get_value_delimiter().is_some(),
        );
        let _ = writeln!(out, "{key} = {value}  # {source}");
    }
    for name in ["ROSTER_ADMIN_PASSWORD", "ROSTER_PASSWORD_PEPPER"] {
        let set = std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let state = if set { "set (***)" } else { "not set" };
        let _ = writeln!(out, "# {name}: {state}");
    }
    out
}

/// A secret shown as `***`, a URL without its password, anything else as it is.
fn mask(key: &str, value: &str) -> String {
    let secret = key == "admin-key" || (key.contains("password") && !key.ends_with("-file"));
    if secret {
        "***".into()
    } else if key.ends_with("-url") {
        crate::telemetry::mask_url(value)
    } else {
        value.to_owned()
    }
}

fn toml_value(values: &[String], action: &ArgAction, list: bool) -> String {
    let quote = |v: &String| {
        let plain =
            matches!(action, ArgAction::SetTrue | ArgAction::SetFalse) || v.parse::<i64>().is_ok();
        if plain {
            v.clone()
        } else {
            format!("{v:?}")
        }
    };
    if list {
        let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        format!("[{}]", items.join(", "))
    } else {
        values.first().map_or_else(|| "\"\"".into(), quote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_urls_lose_their_password() {
        assert_eq!(mask("admin-key", "k3y-k3y-k3y-k3y-k3y"), "***");
        assert_eq!(mask("ldap-bind-password", "pw"), "***");
        assert_eq!(mask("password-pepper-file", "/etc/pepper"), "/etc/pepper");
        assert_eq!(
            mask("database-url", "postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(mask("listen", "127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
