//! The pepper's fingerprint, kept in the store: a server or CLI started with a missing or
//! different pepper refuses to start instead of silently failing every password check.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// The fingerprint recorded when no pepper is configured.
pub const NONE: &str = "none";

/// How the configured pepper differs from the one the store's hashes were made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The store expects a pepper and none is configured.
    Missing,
    /// The store's hashes were made without a pepper and one is configured.
    Unexpected,
    /// Both have a pepper, and they differ.
    Different,
}

/// A new fingerprint of `pepper`: `none`, or an Argon2id PHC string of the pepper (random
/// salt, OWASP parameters). Argon2 rather than a plain hash or an HMAC: someone holding a
/// backup must pay one password hash per guess of a weak pepper, as for a password.
pub fn fingerprint(pepper: Option<&[u8]>) -> String {
    match pepper {
        None => NONE.to_owned(),
        Some(pepper) => Argon2::default()
            .hash_password(pepper, &SaltString::generate(&mut OsRng))
            .map_or_else(|_| NONE.to_owned(), |hash| hash.to_string()),
    }
}

/// Whether `pepper` is the one the stored fingerprint was made of.
pub fn check(stored: &str, pepper: Option<&[u8]>) -> Result<(), Mismatch> {
    match (stored == NONE, pepper) {
        (true, None) => Ok(()),
        (true, Some(_)) => Err(Mismatch::Unexpected),
        (false, None) => Err(Mismatch::Missing),
        (false, Some(pepper)) => {
            let hash = PasswordHash::new(stored).map_err(|_| Mismatch::Different)?;
            Argon2::default()
                .verify_password(pepper, &hash)
                .map_err(|_| Mismatch::Different)
        }
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = "--password-pepper-file PATH or ROSTER_PASSWORD_PEPPER";
        match self {
            Mismatch::Missing => write!(
                f,
                "this database's passwords were hashed with a pepper, and none is configured: \
                 supply the same pepper with {how}"
            ),
            Mismatch::Unexpected => write!(
                f,
                "this database's passwords were hashed without a pepper, and one is configured: \
                 remove {how}"
            ),
            Mismatch::Different => write!(
                f,
                "the configured pepper differs from the one this database's passwords were \
                 hashed with: supply the original pepper with {how}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_matches_its_own_pepper_only() {
        let print = fingerprint(Some(b"pepper A"));
        assert!(!print.contains("pepper A"));
        assert_eq!(check(&print, Some(b"pepper A")), Ok(()));
        assert_eq!(check(&print, Some(b"pepper B")), Err(Mismatch::Different));
        assert_eq!(check(&print, None), Err(Mismatch::Missing));
        assert_eq!(check(&fingerprint(None), None), Ok(()));
        assert_eq!(check(NONE, Some(b"x")), Err(Mismatch::Unexpected));
    }
}
