//! The password policy presets (`compat`, `strict`) and the rule that refuses a password.

use std::fmt;

use super::common_passwords;

/// Which set of rules a new password must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPolicy {
    /// The published rules: 6+ characters, mixed composition, no user name, history of six.
    Compat,
    /// OWASP ASVS style: 12+ characters, no composition or history rules.
    Strict,
}

/// The specials the published composition rule counts.
pub const SPECIALS: &str = "!~`@#$%^&*()-_+=";

/// How many previous passwords the `compat` history rule remembers.
pub const HISTORY_DEPTH: usize = 6;

/// The longest password accepted by either policy, in characters.
pub const MAX_LEN: usize = 128;

/// The rule a refused password broke; `Display` gives the rule in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Shorter than the policy's minimum.
    TooShort(usize),
    /// Longer than 128 characters.
    TooLong,
    /// No uppercase letter.
    NoUppercase,
    /// No lowercase letter.
    NoLowercase,
    /// No digit.
    NoDigit,
    /// None of the published specials.
    NoSpecial,
    /// Contains the user name.
    ContainsUsername,
    /// Found in the common-password list (also once normalised).
    Common,
    /// White space, or one or two characters repeated.
    Blank,
    /// `strict`: too easy to guess (a zxcvbn score below 3).
    Weak,
    /// Equals one of the previous six passwords.
    Reused,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyViolation::TooShort(n) => write!(f, "it must be at least {n} characters long"),
            PolicyViolation::TooLong => write!(f, "it must be at most {MAX_LEN} characters long"),
            PolicyViolation::NoUppercase => f.write_str("it must contain an uppercase letter"),
            PolicyViolation::NoLowercase => f.write_str("it must contain a lowercase letter"),
            PolicyViolation::NoDigit => f.write_str("it must contain a digit"),
            PolicyViolation::NoSpecial => {
                write!(
                    f,
                    "it must contain one of the special characters {SPECIALS}"
                )
            }
            PolicyViolation::ContainsUsername => f.write_str("it must not contain the user name"),
            PolicyViolation::Common => f.write_str("it is a commonly used password"),
            PolicyViolation::Blank => {
                f.write_str("it must not be blank or one or two characters repeated")
            }
            PolicyViolation::Weak => f.write_str("it is too easy to guess"),
            PolicyViolation::Reused => {
                f.write_str("it must not equal any of the previous six passwords")
            }
        }
    }
}

impl PasswordPolicy {
    /// The minimum length of this policy.
    pub fn min_len(self) -> usize {
        match self {
            PasswordPolicy::Compat => 6,
            PasswordPolicy::Strict => 12,
        }
    }

    /// The policy's configuration name (`--password-policy`).
    pub fn name(self) -> &'static str {
        match self {
            PasswordPolicy::Compat => "compat",
            PasswordPolicy::Strict => "strict",
        }
    }

    /// The rules in words, for a form to show before a password is submitted.
    pub fn rules(self) -> Vec<String> {
        let mut rules = vec![format!("{} to {MAX_LEN} characters", self.min_len())];
        if self == PasswordPolicy::Compat {
            rules.extend([
                "an uppercase letter, a lowercase letter and a digit".to_owned(),
                format!("one of the special characters {SPECIALS}"),
                "not containing the user name".to_owned(),
                format!("none of the previous {HISTORY_DEPTH} passwords"),
            ]);
        } else {
            rules.push("hard to guess (no common words or patterns)".to_owned());
        }
        rules.push("not a commonly used password".to_owned());
        rules
    }

    /// Whether the history rule applies.
    pub fn keeps_history(self) -> bool {
        self == PasswordPolicy::Compat
    }

    /// Checks every rule that needs no stored state (the history rule is checked by the caller).
    pub fn check(self, password: &str, username: &str) -> Result<(), PolicyViolation> {
        let len = password.chars().count();
        if len < self.min_len() {
            return Err(PolicyViolation::TooShort(self.min_len()));
        }
        if len > MAX_LEN {
            return Err(PolicyViolation::TooLong);
        }
        if common_passwords::is_blankish(password) {
            return Err(PolicyViolation::Blank);
        }
        if self == PasswordPolicy::Compat {
            check_composition(password, username)?;
        }
        if common_passwords::contains(password) {
            return Err(PolicyViolation::Common);
        }
        if self == PasswordPolicy::Strict && !common_passwords::is_strong(password, username) {
            return Err(PolicyViolation::Weak);
        }
        Ok(())
    }
}

fn check_composition(password: &str, username: &str) -> Result<(), PolicyViolation> {
    let has = |pred: fn(char) -> bool| password.chars().any(pred);
    if !has(char::is_uppercase) {
        return Err(PolicyViolation::NoUppercase);
    }
    if !has(char::is_lowercase) {
        return Err(PolicyViolation::NoLowercase);
    }
    if !has(|c| c.is_ascii_digit()) {
        return Err(PolicyViolation::NoDigit);
    }
    if !has(|c| SPECIALS.contains(c)) {
        return Err(PolicyViolation::NoSpecial);
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PolicyViolation::ContainsUsername);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PasswordPolicy::{Compat, Strict};
    use super::PolicyViolation::*;

    #[test]
    fn each_policy_lists_its_minimum_length_first() {
        assert!(Compat.rules()[0].starts_with("6 to 128"));
        assert!(Strict.rules()[0].starts_with("12 to 128"));
        assert!(Compat.rules().iter().any(|r| r.contains(super::SPECIALS)));
        assert!(!Strict.rules().iter().any(|r| r.contains(super::SPECIALS)));
    }

    #[test]
    fn compat_accepts_a_password_meeting_every_published_rule() {
        assert_eq!(Compat.check("Tr1cky!x", "john.s"), Ok(()));
    }

    #[test]
    fn compat_names_each_broken_rule() {
        assert_eq!(Compat.check("Ab1!x", "u"), Err(TooShort(6)));
        assert_eq!(Compat.check("abcd1!xy", "u"), Err(NoUppercase));
        assert_eq!(Compat.check("ABCD1!XY", "u"), Err(NoLowercase));
        assert_eq!(Compat.check("Abcde!xy", "u"), Err(NoDigit));
        assert_eq!(Compat.check("Abcde1xy", "u"), Err(NoSpecial));
        assert_eq!(Compat.check("xJohn.S1!", "john.s"), Err(ContainsUsername));
        assert_eq!(
            Compat.check(&format!("Ab1!{}", "x".repeat(125)), "u"),
            Err(TooLong)
        );
    }

    #[test]
    fn strict_wants_length_only() {
        assert_eq!(Strict.check("short pass", "u"), Err(TooShort(12)));
        assert_eq!(Strict.check("correct horse battery", "u"), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_by_both_policies() {
        assert_eq!(Strict.check("password1234", "u"), Err(Common));
        assert_eq!(Compat.check("P@ssw0rd", "u"), Err(Common));
    }

    #[test]
    fn common_words_with_digits_and_symbols_around_them_are_refused() {
        for p in ["Password1!", "Passw0rd!2024", "Qwerty123!", "!!Dragon99"] {
            assert_eq!(Compat.check(p, "u"), Err(Common), "{p}");
        }
        for p in ["password123456", "1234567890!!", "Password2024!"] {
            assert_eq!(Strict.check(p, "u"), Err(Common), "{p}");
        }
    }

    #[test]
    fn blank_and_repeated_passwords_are_refused() {
        assert_eq!(Strict.check(&" ".repeat(12), "u"), Err(Blank));
        assert_eq!(Strict.check("aaaaaaaaaaaa", "u"), Err(Blank));
        assert_eq!(Strict.check("ab ab ab ab ab", "u"), Err(Blank));
    }

    #[test]
    fn strict_wants_a_password_that_is_hard_to_guess() {
        assert_eq!(Strict.check("abcdefghijkl", "u"), Err(Weak));
        assert_eq!(Strict.check("abcdabcdabcd", "u"), Err(Weak));
        assert_eq!(Strict.check("zxcvbnmasdfg", "u"), Err(Weak));
        assert_eq!(Strict.check("plain lower words here", "u"), Ok(()));
    }

    #[test]
    fn the_published_example_passwords_pass_compat() {
        // The README's, the spec's and the test suite's examples.
        for p in [
            "Jo1!hnpass",
            "N3w!password",
            "S3cure!pass",
            "Adm1n!pass-word",
            "R4ce!pass",
            "Tr1cky!x",
        ] {
            assert_eq!(Compat.check(p, "john.s"), Ok(()), "{p}");
        }
    }

    #[test]
    fn the_rule_is_said_in_words() {
        assert_eq!(
            TooShort(6).to_string(),
            "it must be at least 6 characters long"
        );
    }
}
