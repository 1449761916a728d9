//! `Username`: the account's unique handle, compared case-insensitively.

use std::fmt;

/// 1–20 characters, none of `< > [ ] " : &`, no white space or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// Why a string is not a user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUsername;

const FORBIDDEN: &str = "<>[]\":&";

impl Username {
    /// The published limit on a user name's length.
    pub const MAX_LEN: usize = 20;

    /// Checks the published character and length rules.
    pub fn parse(s: &str) -> Result<Username, InvalidUsername> {
        let len = s.chars().count();
        let clean = s
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !FORBIDDEN.contains(c));
        if (1..=Self::MAX_LEN).contains(&len) && clean {
            Ok(Username(s.to_owned()))
        } else {
            Err(InvalidUsername)
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: lower case.
    pub fn key(&self) -> String {
        key_of(&self.0)
    }

    /// A user name made from an email's local part: forbidden characters dropped, shortened
    /// to leave room for `suffix`, which keeps it unique.
    pub fn from_email_local(local: &str, suffix: Option<u32>) -> Username {
        let tail = suffix.map(|n| n.to_string()).unwrap_or_default();
        let room = Self::MAX_LEN - tail.len();
        let mut base: String = local
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && !FORBIDDEN.contains(*c))
            .take(room)
            .collect();
        if base.is_empty() {
            base.push_str("user");
        }
        Username(base + &tail)
    }
}

/// The uniqueness key of any string claimed to be a user name.
pub fn key_of(s: &str) -> String {
    s.to_lowercase()
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_one_to_twenty_plain_characters_are_valid() {
        for ok in ["a", "john.s", "admin", "x".repeat(20).as_str(), "名前"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn forbidden_characters_and_lengths_are_refused() {
        let long = "x".repeat(21);
        for bad in [
            "",
            "a b",
            "a<b",
            "a>b",
            "a[b",
            "a]b",
            "a\"b",
            "a:b",
            "a&b",
            "a\tb",
            "a\u{7f}",
            long.as_str(),
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad:?}");
        }
    }

    #[test]
    fn names_from_email_fit_the_rules() {
        let u = Username::from_email_local("a.very.long:local<part>with stuff", Some(12));
        assert!(Username::parse(u.as_str()).is_ok());
        assert!(u.as_str().ends_with("12"));
        assert_eq!(Username::from_email_local("<>", None).as_str(), "user");
    }
}
