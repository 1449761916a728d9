//! The directory settings, checked: URL and TLS mode, service account, search, time limit.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use url::Url;

use crate::config::DirectoryArgs;

/// The placeholder in `--ldap-user-filter` that the escaped user name replaces.
pub const USERNAME: &str = "{username}";

/// How Roster reaches and searches the directory. No `Debug`: it holds the service password.
#[derive(Clone)]
pub struct DirectorySettings {
    /// `ldap://host:port` or `ldaps://host:port`, without the `?starttls` query.
    pub url: Url,
    /// `StartTLS` on an `ldap://` connection before anything else is sent.
    pub starttls: bool,
    /// The service account's DN and password; `None` searches anonymously.
    pub service: Option<(String, String)>,
    /// Where the search starts.
    pub base_dn: String,
    /// The search filter, with [`USERNAME`] where the escaped user name goes.
    pub user_filter: String,
    /// The limit for connecting, and for one whole password check.
    pub timeout: Duration,
    /// TLS for `ldaps://` and `StartTLS`: the system's roots, or `--ldap-ca-file`'s.
    pub tls: Arc<ClientConfig>,
}

impl DirectorySettings {
    /// The checked settings; `None` when no `--ldap-url` is given (directory log-on off).
    pub fn from_args(args: &DirectoryArgs) -> Result<Option<DirectorySettings>, String> {
        let Some(raw) = args.ldap_url.as_deref() else {
            return Ok(None);
        };
        let (url, starttls) = parse_url(raw)?;
        let base_dn = match args.ldap_base_dn.as_deref().map(str::trim) {
            Some(dn) if !dn.is_empty() => dn.to_owned(),
            _ => return Err("--ldap-base-dn is required with --ldap-url".into()),
        };
        let filter = args.ldap_user_filter.trim();
        if !(filter.starts_with('(') && filter.ends_with(')') && filter.contains(USERNAME)) {
            return Err(format!(
                "--ldap-user-filter must be a parenthesised LDAP filter containing {USERNAME}"
            ));
        }
        if args.ldap_timeout == 0 {
            return Err("--ldap-timeout must be at least 1 second".into());
        }
        Ok(Some(DirectorySettings {
            url,
            starttls,
            service: service_account(args)?,
            base_dn,
            user_filter: filter.to_owned(),
            timeout: Duration::from_secs(args.ldap_timeout),
            tls: tls_config(args.ldap_ca_file.as_deref())?,
        }))
    }
}

/// `ldap://` (optionally `?starttls`) or `ldaps://`; anything else is refused.
fn parse_url(raw: &str) -> Result<(Url, bool), String> {
    let mut url = Url::parse(raw).map_err(|e| format!("--ldap-url: {e}"))?;
    if !url.host_str().is_some_and(|h| !h.is_empty()) {
        return Err("--ldap-url needs a host".into());
    }
    let starttls = match url.query() {
        None => false,
        Some("starttls") if url.scheme() == "ldap" => true,
        Some(_) => {
            return Err("--ldap-url accepts only the query `?starttls`, on ldap://".into());
        }
    };
    if !matches!(url.scheme(), "ldap" | "ldaps") {
        return Err("--ldap-url must start with ldap:// or ldaps://".into());
    }
    url.set_query(None);
    Ok((url, starttls))
}

/// The service DN and its password (file, else `ROSTER_LDAP_BIND_PASSWORD`); both or neither.
fn service_account(args: &DirectoryArgs) -> Result<Option<(String, String)>, String> {
    let password = match &args.ldap_bind_password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read --ldap-bind-password-file {}: {e}",
                    path.display()
                )
            })?;
            Some(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        None => std::env::var("ROSTER_LDAP_BIND_PASSWORD").ok(),
    };
    let password = password.filter(|p| !p.is_empty());
    match (args.ldap_bind_dn.as_deref().map(str::trim), password) {
        (None | Some(""), None) => Ok(None),
        (Some(dn), Some(password)) if !dn.is_empty() => Ok(Some((dn.to_owned(), password))),
        (Some(_), None) => Err(
            "--ldap-bind-dn needs --ldap-bind-password-file or ROSTER_LDAP_BIND_PASSWORD".into(),
        ),
        (_, Some(_)) => Err("a directory bind password is set without --ldap-bind-dn".into()),
    }
}

/// A rustls client (ring) trusting `ca_file`'s certificates, else the system's roots.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(std::iter::Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| format!("cannot read --ldap-ca-file {}: {e}", path.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "--ldap-ca-file {} holds no usable certificate",
                path.display()
            ));
        }
    } else {
        let found = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(found.certs);
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("directory TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn starttls_is_a_query_of_ldap_urls_only() {
        assert!(parse_url("ldap://h:389?starttls").unwrap().1);
        assert!(!parse_url("ldap://h:389").unwrap().1);
        assert!(parse_url("ldaps://h:636?starttls").is_err());
        assert!(parse_url("ldap://h:389?tls=yes").is_err());
        assert!(parse_url("http://h").is_err());
        assert_eq!(
            parse_url("ldap://h:389?starttls").unwrap().0.as_str(),
            "ldap://h:389"
        );
    }
}
