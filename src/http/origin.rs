//! Web origins (`scheme://host[:port]`): parsing the configured ones and the `Origin` header,
//! and the cross-site verdict of the CSRF rule (`security.md`, *Sessions*).

use std::fmt;

use axum::http::header::{HOST, ORIGIN};
use axum::http::HeaderMap;

/// A normalised origin: lower-case scheme and host, the port only when it is not the
/// scheme's default (so `https://a.example:443` equals `https://a.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: &'static str,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// An origin as a browser sends it: `http(s)://host[:port]`, nothing after.
    pub fn parse(value: &str) -> Result<Origin, String> {
        let (origin, rest) = Origin::prefix(value)?;
        if !rest.is_empty() {
            return Err(format!(
                "'{value}' is not an origin: write scheme://host[:port] without a path"
            ));
        }
        Ok(origin)
    }

    /// The origin of a URL (`--public-url` may carry a path).
    pub fn of_url(url: &str) -> Result<Origin, String> {
        let (origin, rest) = Origin::prefix(url)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return Err(format!("'{url}' is not an http(s) URL"));
        }
        Ok(origin)
    }

    /// The origin at the start of `value`, and what follows its authority.
    fn prefix(value: &str) -> Result<(Origin, &str), String> {
        let bad = || format!("'{value}' is not an http(s) origin (scheme://host[:port])");
        let (scheme, rest) = value.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return Err(bad()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        let (host, port) = split_authority(authority).ok_or_else(bad)?;
        let default = if scheme == "https" { 443 } else { 80 };
        let origin = Origin {
            scheme,
            host,
            port: port.filter(|p| *p != default),
        };
        Ok((origin, rest))
    }

    /// The host, for logs (never the whole header: it is the client's text).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this origin names the host and port of a `Host` header, whatever the scheme
    /// (behind a TLS proxy the server itself speaks plain HTTP).
    fn addresses(&self, host_header: &str) -> bool {
        let Some((host, port)) = split_authority(host_header) else {
            return false;
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        host == self.host && port.filter(|p| *p != default) == self.port
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

/// `host[:port]` with a plausible host name, IPv4 or bracketed IPv6 address.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
        Some(_) => return None,
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let ipv6 = host.starts_with('[')
        && host.ends_with(']')
        && host[1..host.len() - 1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'));
    if host.is_empty() || !(ipv6 || host.chars().all(plain)) {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Which origins the CSRF rule treats as the server's own or as trusted web apps.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// The public URL's origin (besides it, the request's own `Host` is always accepted).
    pub own: Option<Origin>,
    /// `--allowed-origins`.
    pub allowed: Vec<Origin>,
}

/// What a request's browser signals say about where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// No signal, or the server's own origin: a script, a published client, our own page.
    Own,
    /// An origin listed in `--allowed-origins`: accepted, with CORS headers.
    Listed(Origin),
    /// Another site; the text is the origin's host (or `null`) for the log.
    CrossSite(String),
}

impl OriginPolicy {
    /// Judges the `Origin` and `Sec-Fetch-Site` headers of a request.
    pub fn judge(&self, headers: &HeaderMap) -> Provenance {
        let mut origins = headers.get_all(ORIGIN).iter();
        let origin = match (origins.next(), origins.next()) {
            (None, _) => None,
            (Some(value), None) => {
                let text = value.to_str().unwrap_or_default().trim();
                match Origin::parse(text) {
                    Ok(origin) => Some(origin),
                    // `null` (sandboxed frames, redirects, file:) and garbage alike.
                    Err(_) if text.eq_ignore_ascii_case("null") => {
                        return Provenance::CrossSite("null".into())
                    }
                    Err(_) => return Provenance::CrossSite("invalid".into()),
                }
            }
            (Some(_), Some(_)) => return Provenance::CrossSite("several".into()),
        };
        if let Some(origin) = &origin {
            if self.allowed.contains(origin) {
                return Provenance::Listed(origin.clone());
            }
            let host = headers.get(HOST).and_then(|v| v.to_str().ok());
            if self.own.as_ref() != Some(origin) && !host.is_some_and(|h| origin.addresses(h)) {
                return Provenance::CrossSite(origin.host().to_owned());
            }
        }
        // `same-site` is a sibling host (another subdomain): not trusted unless listed.
        let fetch_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        match fetch_site.as_deref() {
            Some("cross-site" | "same-site") => {
                Provenance::CrossSite(origin.map_or_else(|| "-".into(), |o| o.host().to_owned()))
            }
            _ => Provenance::Own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn policy() -> OriginPolicy {
        OriginPolicy {
            own: Some(Origin::of_url("https://roster.example/base").unwrap()),
            allowed: vec![Origin::parse("https://app.example:8443").unwrap()],
        }
    }

    #[test]
    fn origins_are_normalised() {
        let o = Origin::parse("HTTPS://Roster.Example:443").unwrap();
        assert_eq!(o.to_string(), "https://roster.example");
        assert_eq!(
            Origin::parse("http://[::1]:8080").unwrap().to_string(),
            "http://[::1]:8080"
        );
    }

    #[test]
    fn an_origin_with_a_path_or_another_scheme_is_refused() {
        for bad in [
            "https://a.example/",
            "https://a.example/x",
            "ftp://a.example",
            "a.example",
            "https://",
            "https://a.example:0",
            "https://a.example:99999",
            "https://a b",
            "*",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
        assert!(Origin::of_url("https://a.example/roster").is_ok());
    }

    #[test]
    fn no_signal_and_own_origins_are_accepted() {
        let p = policy();
        assert_eq!(p.judge(&headers(&[])), Provenance::Own);
        let own = headers(&[("origin", "https://roster.example")]);
        assert_eq!(p.judge(&own), Provenance::Own);
        let by_host = headers(&[
            ("origin", "http://10.0.0.1:8080"),
            ("host", "10.0.0.1:8080"),
        ]);
        assert_eq!(p.judge(&by_host), Provenance::Own);
        let fetch = headers(&[("sec-fetch-site", "same-origin")]);
        assert_eq!(p.judge(&fetch), Provenance::Own);
    }

    #[test]
    fn other_sites_null_and_sibling_hosts_are_cross_site() {
        let p = policy();
        for pairs in [
            &[("origin", "https://evil.example")][..],
            &[("origin", "null")],
            &[("origin", "https://roster.example:8443")],
            &[("sec-fetch-site", "cross-site")],
            &[("sec-fetch-site", "same-site")],
            &[
                ("origin", "https://a.example"),
                ("origin", "https://a.example"),
            ],
        ] {
            assert!(
                matches!(p.judge(&headers(pairs)), Provenance::CrossSite(_)),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_listed_origin_is_accepted_even_from_another_site() {
        let h = headers(&[
            ("origin", "https://app.example:8443"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(matches!(policy().judge(&h), Provenance::Listed(_)));
    }
}
