//! The SMTP server a `--smtp-url` names: host, port, TLS mode, credentials, trusted CA and
//! time limit.

use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (`smtp://`, the default without `tls=`).
    None,
    /// `STARTTLS` required (`smtp://…?tls=starttls`): no mail goes out in the clear.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// A parsed `--smtp-url`.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Host name or address of the server.
    pub host: String,
    /// Port (default 25 for `smtp://`, 465 for `smtps://`).
    pub port: u16,
    /// TLS mode.
    pub security: Security,
    /// User name and password for `AUTH`, from the URL's user info.
    pub credentials: Option<(String, String)>,
    /// A PEM file of the CA to trust instead of the built-in roots (`tls_ca=PATH`).
    pub ca_file: Option<PathBuf>,
    /// Time limit of one SMTP exchange (`timeout=SECONDS`, default 10).
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    // The password never reaches a log or `check-config`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The default time limit of one exchange.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl SmtpSettings {
    /// Parses `smtp://[user:pass@]host[:port][?tls=none|starttls][&tls_ca=PATH][&timeout=S]`
    /// or `smtps://…`. Errors never quote the password.
    pub fn parse(raw: &str) -> Result<SmtpSettings, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("--smtp-url is not a URL: {e}"))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(format!("--smtp-url: unsupported scheme {other:?}")),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err("--smtp-url needs a host".into()),
        };
        let mut settings = SmtpSettings {
            port: url.port().unwrap_or(if implicit { 465 } else { 25 }),
            security: if implicit {
                Security::Implicit
            } else {
                Security::None
            },
            credentials: credentials(&url)?,
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
            host,
        };
        for (key, value) in url.query_pairs() {
            settings.apply(&key, &value, implicit)?;
        }
        if settings.credentials.is_some() && settings.security == Security::None {
            // AUTH would send the password in the clear.
            return Err("--smtp-url: credentials need tls=starttls or smtps://".into());
        }
        Ok(settings)
    }

    fn apply(&mut self, key: &str, value: &str, implicit: bool) -> Result<(), String> {
        match (key, value) {
            ("tls", "none") if !implicit => self.security = Security::None,
            ("tls", "starttls") if !implicit => self.security = Security::StartTls,
            ("tls_ca", path) if !path.is_empty() => self.ca_file = Some(PathBuf::from(path)),
            ("timeout", seconds) => {
                let seconds: u64 = seconds
                    .parse()
                    .ok()
                    .filter(|s| (1..=300).contains(s))
                    .ok_or("--smtp-url: timeout must be 1 to 300 seconds")?;
                self.timeout = Duration::from_secs(seconds);
            }
            _ => return Err(format!("--smtp-url: unsupported parameter {key}={value}")),
        }
        Ok(())
    }
}

fn credentials(url: &url::Url) -> Result<Option<(String, String)>, String> {
    if url.username().is_empty() {
        return Ok(None);
    }
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| "--smtp-url: user info is not valid UTF-8".to_owned())
    };
    let password = decode(url.password().unwrap_or_default())?;
    Ok(Some((decode(url.username())?, password)))
}

/// Decodes `%XX` escapes of the URL's user info.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_defaults_to_plain_port_25_and_smtps_to_465() {
        let plain = SmtpSettings::parse("smtp://mail.example").unwrap();
        assert_eq!((plain.port, plain.security), (25, Security::None));
        let tls = SmtpSettings::parse("smtps://mail.example").unwrap();
        assert_eq!((tls.port, tls.security), (465, Security::Implicit));
    }

    #[test]
    fn smtp_url_reads_credentials_starttls_ca_and_timeout() {
        let s = SmtpSettings::parse(
            "smtp://me%40x:p%3Ass@mail.example:587?tls=starttls&tls_ca=/etc/ca.pem&timeout=3",
        )
        .unwrap();
        assert_eq!(s.credentials, Some(("me@x".into(), "p:ss".into())));
        assert_eq!((s.port, s.security), (587, Security::StartTls));
        assert_eq!(s.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert!(!format!("{s:?}").contains("p:ss"));
    }

    #[test]
    fn smtp_url_refuses_credentials_in_the_clear_and_unknown_parameters() {
        let clear = SmtpSettings::parse("smtp://me:secret@mail.example").unwrap_err();
        assert!(!clear.contains("secret"), "{clear}");
        assert!(SmtpSettings::parse("smtp://mail.example?tls=maybe").is_err());
        assert!(SmtpSettings::parse("smtps://mail.example?tls=none").is_err());
        assert!(SmtpSettings::parse("http://mail.example").is_err());
        assert!(SmtpSettings::parse("smtp://mail.example?timeout=0").is_err());
    }
}
