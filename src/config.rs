//! Server configuration: every setting is a `roster serve` flag and a `ROSTER_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::domain::PasswordPolicy;
use crate::http::origin::{Origin, OriginPolicy};

/// Where the account store lives; shared by every subcommand.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Database URL: `sqlite://PATH` (embedded, the default) or `postgres://…`.
    #[arg(
        long,
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db"
    )]
    pub database_url: String,

    /// Seconds to keep trying a PostgreSQL server that cannot be reached yet at start
    /// (orchestrated starts); each failed try is logged with host, port and cause.
    #[arg(long, env = "ROSTER_DATABASE_WAIT", default_value_t = 10)]
    pub database_wait: u64,
}

/// The database alone: what the admin commands name (they never wait for a server).
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded, the default) or `postgres://…`.
    #[arg(
        long,
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db"
    )]
    pub database_url: String,
}

impl DatabaseArgs {
    /// As [`StoreArgs`], with no waiting for an unreachable server.
    pub fn store(&self) -> StoreArgs {
        StoreArgs {
            database_url: self.database_url.clone(),
            database_wait: 0,
        }
    }
}

/// The pepper alone: what the admin commands that hash no password need, to check it
/// against the database's.
#[derive(Args, Debug, Clone)]
pub struct PepperArgs {
    /// File holding an Argon2 secret (pepper) kept outside the database.
    #[arg(long, value_name = "PATH")]
    pub password_pepper_file: Option<PathBuf>,
}

impl PepperArgs {
    /// The account rules of the environment (else the defaults) with this pepper.
    pub fn rules(&self) -> Result<RulesArgs, String> {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            rules: RulesArgs,
        }
        let mut rules = Wrap::try_parse_from(["roster"])
            .map_err(|e| e.to_string())?
            .rules;
        rules
            .password_pepper_file
            .clone_from(&self.password_pepper_file);
        Ok(rules)
    }
}

/// Account rules (passwords, locales); shared by the server and the admin CLI.
#[derive(Args, Debug, Clone)]
pub struct RulesArgs {
    /// Password policy: `compat` (the published rules) or `strict`.
    #[arg(
        long,
        env = "ROSTER_PASSWORD_POLICY",
        value_enum,
        default_value = "compat"
    )]
    pub password_policy: PolicyName,

    /// File holding an Argon2 secret (pepper) kept outside the database.
    #[arg(long, value_name = "PATH")]
    pub password_pepper_file: Option<PathBuf>,

    /// Argon2id memory cost in KiB (OWASP minimum: 19456).
    #[arg(long, env = "ROSTER_ARGON2_MEMORY_KIB", default_value_t = 19456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations (OWASP minimum at 19 MiB: 2).
    #[arg(long, env = "ROSTER_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Argon2id lanes.
    #[arg(long, env = "ROSTER_ARGON2_LANES", default_value_t = 1)]
    pub argon2_lanes: u32,

    /// How many password hashes may be computed at once (default: number of cores).
    #[arg(long, env = "ROSTER_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Locales accepted for accounts (comma separated); the first is the default.
    #[arg(
        long,
        env = "ROSTER_LOCALES",
        value_delimiter = ',',
        default_value = "en-us,ja-jp"
    )]
    pub locales: Vec<String>,
}

/// The password policy presets of `userapi.md`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyName {
    /// The published composition and history rules.
    Compat,
    /// OWASP ASVS style: length only.
    Strict,
}

impl From<PolicyName> for PasswordPolicy {
    fn from(name: PolicyName) -> Self {
        match name {
            PolicyName::Compat => PasswordPolicy::Compat,
            PolicyName::Strict => PasswordPolicy::Strict,
        }
    }
}

/// Everything `roster serve` needs.
#[derive(Args, Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Where the accounts are stored.
    #[command(flatten)]
    pub store: StoreArgs,

    /// The rules in force.
    #[command(flatten)]
    pub rules: RulesArgs,

    #[command(flatten)]
    /// The directory that `type: ad` accounts log on against.
    pub directory: DirectoryArgs,

    /// Password of the default administrator at first start (`ROSTER_ADMIN_PASSWORD` only:
    /// never a flag, so it does not show in process lists).
    #[arg(skip)]
    pub admin_password: Option<String>,

    /// Login email of the default administrator `admin`.
    #[arg(long, env = "ROSTER_ADMIN_EMAIL", default_value = "admin@localhost")]
    pub admin_email: String,

    /// License authentication key accepted in `x-authorization` (none: header refused).
    #[arg(long, env = "ROSTER_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,

    /// Allow self-registration through `POST /users/api/register`.
    #[arg(long, env = "ROSTER_ALLOW_REGISTRATION")]
    pub allow_registration: bool,

    /// Lifetime of one session token in seconds.
    #[arg(long, env = "ROSTER_TOKEN_TTL", default_value_t = 28800)]
    pub token_ttl: u64,

    /// Absolute session lifetime from log on in seconds; check-in cannot extend it.
    #[arg(long, env = "ROSTER_SESSION_MAX_AGE", default_value_t = 43200)]
    pub session_max_age: u64,

    /// Mark the session cookie `Secure` even on plain HTTP (behind a TLS proxy).
    #[arg(long, env = "ROSTER_SECURE_COOKIE")]
    pub secure_cookie: bool,

    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it).
    #[arg(long, env = "ROSTER_TRUST_PROXY")]
    pub trust_proxy: bool,

    /// Days audit records are kept before they are purged (at least 1).
    #[arg(long, env = "ROSTER_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ROSTER_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// PEM certificate chain for HTTPS.
    #[arg(long, env = "ROSTER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS.
    #[arg(long, env = "ROSTER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The URL users reach the server at (default `http://<listen>`); its origin is the
    /// server's own in the cross-site check.
    #[arg(long, env = "ROSTER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Origins (`scheme://host[:port]`, comma separated) of web apps that may call the APIs
    /// from a browser: they pass the cross-site check and get CORS headers with credentials.
    #[arg(
        long,
        env = "ROSTER_ALLOWED_ORIGINS",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// SMTP server for mail: `smtp://host:25`, `smtp://user:pass@host:587?tls=starttls`,
    /// `smtps://host:465` (`tls_ca=PATH` trusts that CA only; `timeout=SECONDS`). None: mail off.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender address of Roster's mail; default `roster@<host of the public URL>`.
    #[arg(long, env = "ROSTER_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Accepted for the published configuration names; unused: files are kept in the
    /// database (docs/decisions.md), so every instance sharing it sees them.
    #[arg(long, env = "ROSTER_FILES_DIR", value_name = "PATH")]
    pub files_dir: Option<PathBuf>,

    /// Bytes each user's files may take in all.
    #[arg(long, env = "ROSTER_FILES_QUOTA", value_name = "BYTES", default_value_t = 1 << 30)]
    pub files_quota: u64,

    /// Bytes one upload request may carry (the general body limit stays for other calls).
    #[arg(long, env = "ROSTER_UPLOAD_LIMIT", value_name = "BYTES", default_value_t = 256 << 20)]
    pub upload_limit: u64,
}

impl Config {
    /// A configuration with every default, listening on `listen`, storing in `database_url`.
    pub fn for_tests(listen: SocketAddr, database_url: &str) -> Config {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Wrap::parse_from(["roster"]).config;
        config.listen = listen;
        database_url.clone_into(&mut config.store.database_url);
        config
    }

    /// Checks the settings that clap cannot check alone.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_ttl == 0 {
            return Err("--token-ttl must be at least 1 second".into());
        }
        if self.session_max_age == 0 {
            return Err("--session-max-age must be at least 1 second".into());
        }
        if matches!(&self.admin_key, Some(k) if k.len() < 16) {
            return Err("--admin-key must be at least 16 characters long".into());
        }
        self.public_origin()?;
        self.listed_origins()?;
        if crate::domain::Email::parse(&self.admin_email).is_err() {
            return Err(format!(
                "--admin-email {:?} is not a valid email address",
                self.admin_email
            ));
        }
        if self.audit_retention_days == 0 {
            // 0 would make the hourly purge delete the whole audit trail.
            return Err(
                "--audit-retention-days must be at least 1 (days audit records are \
                        kept; 0 would delete every record at each hourly purge); to keep \
                        them practically for ever, give a large number such as 36500"
                    .into(),
            );
        }
        self.rules.validate()
    }

    /// The origins of the cross-site check: the public URL's (default `http://<bound>`) and
    /// the allowed ones.
    pub fn origin_policy(&self, bound: SocketAddr) -> Result<OriginPolicy, String> {
        let own = match self.public_origin()? {
            Some(origin) => origin,
            None => Origin::of_url(&format!("http://{bound}"))?,
        };
        Ok(OriginPolicy {
            own: Some(own),
            allowed: self.listed_origins()?,
        })
    }

    fn public_origin(&self) -> Result<Option<Origin>, String> {
        self.public_url
            .as_deref()
            .map(|url| Origin::of_url(url.trim()).map_err(|e| format!("--public-url: {e}")))
            .transpose()
    }

    fn listed_origins(&self) -> Result<Vec<Origin>, String> {
        self.allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
            .map(|o| Origin::parse(o).map_err(|e| format!("--allowed-origins: {e}")))
            .collect()
    }
}

impl RulesArgs {
    /// Refuses Argon2 parameters below OWASP's minimum.
    pub fn validate(&self) -> Result<(), String> {
        if self.argon2_memory_kib < 19456 || self.argon2_iterations < 2 || self.argon2_lanes < 1 {
            return Err(
                "Argon2 parameters below the OWASP minimum (19456 KiB, 2 iterations, 1 lane)"
                    .into(),
            );
        }
        if self.locales.is_empty() || self.locales.iter().any(|l| l.trim().is_empty()) {
            return Err("--locales needs at least one non-empty locale".into());
        }
        if self.hash_concurrency == Some(0) {
            return Err("--hash-concurrency must be at least 1".into());
        }
        // A pepper file that cannot be read is a bad setting, refused before anything opens.
        self.pepper().map(|_| ())
    }

    /// The pepper: the file's content, else `ROSTER_PASSWORD_PEPPER`, else none.
    pub fn pepper(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(path) = &self.password_pepper_file {
            let bytes = std::fs::read(path).map_err(|e| {
                format!("cannot read --password-pepper-file {}: {e}", path.display())
            })?;
            let trimmed = bytes.trim_ascii_end().to_vec();
            if trimmed.is_empty() {
                return Err("--password-pepper-file is empty".into());
            }
            return Ok(Some(trimmed));
        }
        match std::env::var("ROSTER_PASSWORD_PEPPER") {
            Ok(v) if !v.is_empty() => Ok(Some(v.into_bytes())),
            _ => Ok(None),
        }
    }
}

/// Directory log-on for `type: ad` accounts; off without `--ldap-url`.
#[derive(Args, Debug, Clone)]
pub struct DirectoryArgs {
    /// Directory URL: `ldap://host:389` (`?starttls` for `StartTLS`) or `ldaps://host:636`.
    #[arg(long, env = "ROSTER_LDAP_URL")]
    pub ldap_url: Option<String>,

    /// DN of the service account that searches (none: anonymous search).
    #[arg(long, env = "ROSTER_LDAP_BIND_DN")]
    pub ldap_bind_dn: Option<String>,

    /// File holding the service account's password (else `ROSTER_LDAP_BIND_PASSWORD`).
    #[arg(long, value_name = "PATH")]
    pub ldap_bind_password_file: Option<PathBuf>,

    /// Where the user search starts (required with `--ldap-url`).
    #[arg(long, env = "ROSTER_LDAP_BASE_DN")]
    pub ldap_base_dn: Option<String>,

    /// Search filter; `{username}` is replaced by the escaped user name (RFC 4515).
    #[arg(
        long,
        env = "ROSTER_LDAP_USER_FILTER",
        default_value = "(&(objectClass=person)(uid={username}))"
    )]
    pub ldap_user_filter: String,

    /// PEM file of the CA certificates trusted for the directory (default: the system's).
    #[arg(long, env = "ROSTER_LDAP_CA_FILE", value_name = "PATH")]
    pub ldap_ca_file: Option<PathBuf>,

    /// Seconds allowed for connecting, and for one whole directory password check.
    #[arg(long, env = "ROSTER_LDAP_TIMEOUT", default_value_t = 5)]
    pub ldap_timeout: u64,
}
