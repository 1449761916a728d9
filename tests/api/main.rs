//! Integration tests: the real server over real HTTP, and the CLI binary. The whole suite
//! runs twice, on SQLite and on PostgreSQL (a throwaway cluster this process starts).
// Test fixtures are built the most direct way: LDIF and SMTP text with `format!`, fixed
// byte arrays for file contents, and short names for the replies of one call and the next.
#![allow(
    clippy::format_push_string,
    clippy::large_stack_arrays,
    clippy::similar_names
)]
// Helpers take values where that reads best at the call site; scenario tests read top to
// bottom in one function.
#![allow(clippy::needless_pass_by_value, clippy::too_many_lines)]

mod binary;
mod browser;
mod faults;
mod files_at_rest;
mod files_client;
mod files_multi;
mod helpers;
mod ldap;
mod limits;
mod multi_instance;
mod observability;
mod operations;
mod pages;
mod pg;
mod pg_tls;
mod slapd;
mod smtp;
mod startup;
mod store_conformance;
mod tls;
mod transport;

/// Includes the suite's files inside a module that fixes the backend (`super::BACKEND`).
macro_rules! suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            /// The store every test of this copy of the suite runs on.
            pub const BACKEND: crate::helpers::Backend = $backend;

            mod brute_force {
                include!("brute_force.rs");
            }
            mod cli {
                include!("cli.rs");
            }
            mod csrf {
                include!("csrf.rs");
            }
            mod crash {
                include!("crash.rs");
            }
            mod concurrency {
                include!("concurrency.rs");
            }
            mod ensims_extensions {
                include!("ensims_extensions.rs");
            }
            mod ensims_sessions {
                include!("ensims_sessions.rs");
            }
            mod files {
                include!("files.rs");
            }
            mod hardening {
                include!("hardening.rs");
            }
            mod import {
                include!("import.rs");
            }
            mod pepper {
                include!("pepper.rs");
            }
            mod mail {
                include!("mail.rs");
            }
            mod permissions {
                include!("permissions.rs");
            }
            mod ensims_user {
                include!("ensims_user.rs");
            }
            mod tokens {
                include!("tokens.rs");
            }
            mod userapi_actions {
                include!("userapi_actions.rs");
            }
            mod userapi_auth {
                include!("userapi_auth.rs");
            }
            mod web_console {
                include!("web_console.rs");
            }
        }
    };
}

suite!(sqlite, crate::helpers::Backend::Sqlite);
suite!(postgres, crate::helpers::Backend::Postgres);
