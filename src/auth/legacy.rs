//! Password hashes made by other servers, accepted by `roster import` so that users can move
//! here without a password reset: Argon2 PHC strings, bcrypt (`$2a$`, `$2b$`, `$2y$`) and
//! Django's PBKDF2-SHA256 (`pbkdf2_sha256$iterations$salt$hash`).
//!
//! None of them carries this server's pepper. They are stored so that the scheme shows in
//! the stored string itself: bcrypt and PBKDF2 by their own prefixes, an imported Argon2 hash
//! behind [`FOREIGN_ARGON2`] (a hash of this server's own always starts with `$argon2id$`;
//! the one exception, a hash of exactly the server's parameters on a server without a
//! pepper, is decided by [`Hasher::is_own_form`](super::Hasher::is_own_form)). A log-on
//! that verifies against one of them replaces it with an Argon2id hash made here.

use std::num::NonZeroU32;

use argon2::password_hash::PasswordHash;
use argon2::Params;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The prefix before an imported Argon2 PHC string: verified without the pepper.
pub const FOREIGN_ARGON2: &str = "foreign:";

/// Django's PBKDF2-SHA256 algorithm name, the first field of its hashes.
const PBKDF2_PREFIX: &str = "pbkdf2_sha256$";

/// The costs an imported hash may ask for: a log-on must not take minutes or gigabytes.
const MAX_ARGON2_KIB: u32 = 256 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 64;
const MAX_BCRYPT_COST: u32 = 16;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// How a stored hash is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Made here: Argon2id with the pepper, if one is configured.
    Native,
    /// An imported Argon2 (`id`, `i` or `d`) PHC string, without a pepper.
    Argon2,
    /// bcrypt.
    Bcrypt,
    /// Django's PBKDF2-SHA256.
    Pbkdf2Sha256,
}

/// The scheme of a stored hash.
pub fn scheme(stored: &str) -> Scheme {
    if stored.starts_with(FOREIGN_ARGON2) {
        Scheme::Argon2
    } else if is_bcrypt_prefix(stored) {
        Scheme::Bcrypt
    } else if stored.starts_with(PBKDF2_PREFIX) {
        Scheme::Pbkdf2Sha256
    } else {
        Scheme::Native
    }
}

fn is_bcrypt_prefix(s: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p))
}

/// Checks an imported hash and returns the string to store; the error says what is wrong
/// with it without repeating it.
pub fn import(hash: &str) -> Result<String, &'static str> {
    if hash.starts_with("$argon2") {
        check_argon2(hash)?;
        Ok(format!("{FOREIGN_ARGON2}{hash}"))
    } else if is_bcrypt_prefix(hash) {
        check_bcrypt(hash)?;
        Ok(hash.to_owned())
    } else if hash.starts_with(PBKDF2_PREFIX) {
        Pbkdf2::parse(hash)?;
        Ok(hash.to_owned())
    } else {
        Err("password_hash is not an Argon2, bcrypt ($2a$/$2b$/$2y$) or pbkdf2_sha256 hash")
    }
}

fn check_argon2(hash: &str) -> Result<(), &'static str> {
    let bad = "password_hash is not a valid Argon2 PHC string";
    let parsed = PasswordHash::new(hash).map_err(|_| bad)?;
    argon2::Algorithm::try_from(parsed.algorithm).map_err(|_| bad)?;
    argon2::Version::try_from(parsed.version.unwrap_or(0x13)).map_err(|_| bad)?;
    let params = Params::try_from(&parsed).map_err(|_| bad)?;
    let (Some(salt), Some(out)) = (parsed.salt, parsed.hash) else {
        return Err(bad);
    };
    let mut buf = [0u8; 64];
    salt.decode_b64(&mut buf).map_err(|_| bad)?;
    if out.len() < 16 {
        return Err(bad);
    }
    if params.m_cost() > MAX_ARGON2_KIB || params.t_cost() > MAX_ARGON2_ITERATIONS {
        return Err("password_hash asks for more Argon2 memory or iterations than allowed");
    }
    Ok(())
}

fn check_bcrypt(hash: &str) -> Result<(), &'static str> {
    let bad = "password_hash is not a valid bcrypt hash";
    // `$2b$` + two-digit cost + `$` + 22 characters of salt + 31 of hash.
    let rest = hash.get(4..).ok_or(bad)?;
    let (cost, tail) = rest.split_once('$').ok_or(bad)?;
    let cost: u32 = match cost.as_bytes() {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => cost.parse().map_err(|_| bad)?,
        _ => return Err(bad),
    };
    let alphabet = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'/';
    if tail.len() != 53 || !tail.bytes().all(alphabet) {
        return Err(bad);
    }
    if !(4..=31).contains(&cost) {
        return Err(bad);
    }
    if cost > MAX_BCRYPT_COST {
        return Err("password_hash asks for a higher bcrypt cost than allowed");
    }
    Ok(())
}

/// A Django PBKDF2-SHA256 hash, parsed.
struct Pbkdf2<'a> {
    iterations: NonZeroU32,
    salt: &'a str,
    digest: Vec<u8>,
}

impl<'a> Pbkdf2<'a> {
    fn parse(hash: &'a str) -> Result<Pbkdf2<'a>, &'static str> {
        let bad = "password_hash is not a valid pbkdf2_sha256 hash";
        let rest = hash.strip_prefix(PBKDF2_PREFIX).ok_or(bad)?;
        let mut parts = rest.split('$');
        let (Some(iterations), Some(salt), Some(digest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad);
        };
        let iterations: u32 = iterations.parse().map_err(|_| bad)?;
        let iterations = NonZeroU32::new(iterations).ok_or(bad)?;
        if iterations.get() > MAX_PBKDF2_ITERATIONS {
            return Err("password_hash asks for more PBKDF2 iterations than allowed");
        }
        let digest = STANDARD.decode(digest).map_err(|_| bad)?;
        if salt.is_empty() || digest.len() != 32 {
            return Err(bad);
        }
        Ok(Pbkdf2 {
            iterations,
            salt,
            digest,
        })
    }
}

/// Whether `password` matches a stored bcrypt or PBKDF2 hash (constant-time comparison);
/// `false` for a hash that does not parse.
pub fn verify_bcrypt_or_pbkdf2(password: &str, stored: &str) -> bool {
    match scheme(stored) {
        Scheme::Bcrypt => bcrypt::verify(password, stored).unwrap_or(false),
        Scheme::Pbkdf2Sha256 => Pbkdf2::parse(stored).is_ok_and(|p| {
            ring::pbkdf2::verify(
                ring::pbkdf2::PBKDF2_HMAC_SHA256,
                p.iterations,
                p.salt.as_bytes(),
                password.as_bytes(),
                &p.digest,
            )
            .is_ok()
        }),
        Scheme::Native | Scheme::Argon2 => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbkdf2_of(password: &str, salt: &str, iterations: u32) -> String {
        let mut out = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).unwrap(),
            salt.as_bytes(),
            password.as_bytes(),
            &mut out,
        );
        format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(out))
    }

    #[test]
    fn independently_computed_pbkdf2_hashes_verify() {
        // RFC 7914's PBKDF2-HMAC-SHA256 vector (P="passwd", S="salt", c=1), first 32 bytes,
        // and one made by Python's hashlib in Django's layout.
        let rfc = "pbkdf2_sha256$1$salt$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=";
        assert!(verify_bcrypt_or_pbkdf2("passwd", rfc));
        assert!(!verify_bcrypt_or_pbkdf2("passwe", rfc));
        let django = "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        assert!(verify_bcrypt_or_pbkdf2("l\u{e8}tmein", django));
        assert!(!verify_bcrypt_or_pbkdf2("letmein", django));
    }

    #[test]
    fn a_published_bcrypt_vector_verifies() {
        // From the OpenBSD/Openwall bcrypt test vectors.
        let h = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
        assert!(import(h).is_ok());
        assert!(verify_bcrypt_or_pbkdf2("U*U", h));
        assert!(!verify_bcrypt_or_pbkdf2("U*V", h));
    }

    #[test]
    fn pbkdf2_round_trip_and_wrong_password() {
        let hash = pbkdf2_of("S3cret!pw", "abcdefgh", 1000);
        assert_eq!(import(&hash).unwrap(), hash);
        assert!(verify_bcrypt_or_pbkdf2("S3cret!pw", &hash));
        assert!(!verify_bcrypt_or_pbkdf2("S3cret!px", &hash));
    }

    #[test]
    fn bcrypt_variants_verify() {
        let hash = bcrypt::hash_with_result("S3cret!pw", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let h = format!("{prefix}{}", &hash[4..]);
            assert_eq!(import(&h).unwrap(), h);
            assert_eq!(scheme(&h), Scheme::Bcrypt);
            assert!(verify_bcrypt_or_pbkdf2("S3cret!pw", &h), "{prefix}");
            assert!(!verify_bcrypt_or_pbkdf2("S3cret!px", &h), "{prefix}");
        }
    }

    #[test]
    fn argon2_is_stored_behind_the_foreign_prefix() {
        let h = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                 2p9Ytq4t9lbKFeX2uQmB0C0D8Nj8Q2r6Ujn3rQk1vNk";
        let stored = import(h).unwrap();
        assert_eq!(stored, format!("{FOREIGN_ARGON2}{h}"));
        assert_eq!(scheme(&stored), Scheme::Argon2);
        assert_eq!(scheme(h), Scheme::Native);
    }

    #[test]
    fn malformed_and_costly_hashes_are_refused_without_echo() {
        for bad in [
            "",
            "plain",
            "$2b$10$short",
            "$2b$99$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz12345",
            "$2b$31$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz12345",
            "pbkdf2_sha256$0$salt$AAAA",
            "pbkdf2_sha256$1000$salt$not base64",
            "pbkdf2_sha256$1000$salt",
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
             2p9Ytq4t9lbKFeX2uQmB0C0D8Nj8Q2r6Ujn3rQk1vNk",
            "$argon2id$garbage",
            "md5$abc$def",
        ] {
            let err = import(bad).unwrap_err();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }
}
