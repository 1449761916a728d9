//! `Email`: a login address, syntactically checked, unique case-insensitively.

use std::fmt;

/// A valid email address of at most [`Email::MAX_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why a string is not an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidEmail;

const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl Email {
    /// RFC 5321's limit on a forward path.
    pub const MAX_LEN: usize = 254;

    /// Accepts `local@domain` where the domain may be dotless (`admin@localhost`).
    pub fn parse(s: &str) -> Result<Email, InvalidEmail> {
        if s.chars().count() > Self::MAX_LEN {
            return Err(InvalidEmail);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(InvalidEmail)?;
        if valid_local(local) && valid_domain(domain) {
            Ok(Email(s.to_owned()))
        } else {
            Err(InvalidEmail)
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and log on: lower case.
    pub fn key(&self) -> String {
        key_of(&self.0)
    }
}

/// The uniqueness key of any string claimed to be an email address.
pub fn key_of(s: &str) -> String {
    s.to_lowercase()
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || LOCAL_SPECIALS.contains(c)
                || (!c.is_ascii() && c.is_alphanumeric())
        })
}

fn valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_dotless_addresses_are_valid() {
        for ok in [
            "yi@jeplus.org",
            "admin@localhost",
            "a.b+c@sub.example.co.uk",
            "x@a-b.c",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "", "plain", "@x.org", "a@", "a@@b", "a b@c.d", "a@b..c", ".a@b", "a.@b", "a@-b.c",
            "a@b.", "a\u{0}@b",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
    }

    #[test]
    fn addresses_longer_than_254_characters_are_refused() {
        let long = format!("{}@{}.org", "a".repeat(64), "b".repeat(200));
        assert!(long.len() > 254);
        assert_eq!(Email::parse(&long), Err(InvalidEmail));
    }

    #[test]
    fn the_key_ignores_case() {
        assert_eq!(
            Email::parse("Yi@JePlus.org").unwrap().key(),
            "yi@jeplus.org"
        );
    }
}
