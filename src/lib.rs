//! Roster: a self-hosted user-account server serving two published HTTP API dialects
//! (the ENSIMS Users API and the `userapi.do` admin API) over one account store.

pub mod accounts; // the use-cases both dialects and the CLI share
pub mod app; // building and serving the application
pub mod auth; // password hashing, session tokens, secret sealing
pub mod cli; // the `roster` subcommands
pub mod config; // settings: flags and ROSTER_* variables
pub mod config_file; // the optional TOML file under flags and variables
pub mod directory; // directory (LDAP) log-on for `type: ad` accounts
pub mod domain; // framework-free types and validation rules
pub mod http; // transport: routes, extractors, dialect wire formats
pub mod mail; // the SMTP client: settings from --smtp-url, sending off the request path
pub mod server; // the connection loop: HTTP/1.1, TLS, limits, graceful shutdown
pub mod store; // the storage trait and its SQL backends
pub mod telemetry; // per-request notes for the access log and metrics

/// The version and the commit it was built from, as `roster --version` prints them.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ROSTER_COMMIT"),
    ")"
);
