//! The common-password check, on the password list the `zxcvbn` crate carries, and the
//! strength estimate of the `strict` policy.

use zxcvbn::matching::patterns::MatchPattern;
use zxcvbn::Score;

/// The shortest word left after stripping that is still looked up: shorter cores (`ab` in
/// `12ab34!!`) are too likely to be in the list by chance.
const MIN_CORE: usize = 3;

/// True when the password, or the word it is made of once the digits and symbols around it
/// are stripped (`Password1!`, `Passw0rd!2024`, `password123456`), is on the list, in any
/// case, reversed or with l33t substitutions (`P@ssw0rd`). A password without a letter is
/// looked up by its digits alone (`!123456!`).
pub fn contains(password: &str) -> bool {
    if on_list(password) {
        return true;
    }
    let core = password.trim_matches(|c: char| !c.is_alphabetic());
    let core = if core.is_empty() {
        password.chars().filter(char::is_ascii_digit).collect()
    } else {
        core.to_owned()
    };
    core != password && core.chars().count() >= MIN_CORE && on_list(&core)
}

/// True for a password made of white space, or of at most two distinct characters besides
/// white space (`            `, `aaaaaaaaaaaa`, `abababababab`).
pub fn is_blankish(password: &str) -> bool {
    let mut seen: Vec<char> = password.chars().filter(|c| !c.is_whitespace()).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len() <= 2
}

/// Whether zxcvbn rates the password at least "safely unguessable" (score 3 of 4), with
/// the user name as a known input.
pub fn is_strong(password: &str, username: &str) -> bool {
    zxcvbn::zxcvbn(password, &[username]).score() >= Score::Three
}

/// True when the whole string is an entry of the list.
fn on_list(password: &str) -> bool {
    if password.is_empty() {
        return false;
    }
    let last = password.chars().count() - 1;
    let estimate = zxcvbn::zxcvbn(password, &[]);
    estimate.sequence().iter().any(|m| {
        m.i == 0
            && m.j == last
            && matches!(&m.pattern, MatchPattern::Dictionary(d)
                // The dictionary type is not exported by name; its Debug form is stable.
                if format!("{:?}", d.dictionary_name) == "Passwords")
    })
}
