//! The common-password check, on the password list the `zxcvbn` crate carries.

use zxcvbn::matching::patterns::MatchPattern;

/// True when the whole password is an entry of zxcvbn's common-password list, in any case,
/// reversed or with l33t substitutions (`P@ssw0rd`).
pub fn contains(password: &str) -> bool {
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
