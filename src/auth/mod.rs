//! Credentials: Argon2id hashing on a bounded pool, session tokens (JWT), secret sealing.

pub mod hasher;
pub mod legacy;
pub mod pepper;
pub mod sealer;
pub mod tokens;

pub use hasher::{HashStats, Hasher, Verified};
pub use sealer::Sealer;
pub use tokens::{Claims, TokenKeys};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

/// `n` random bytes from the OS, base64url without padding.
pub fn random_token(n: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(n))
}

/// `n` random bytes from the OS.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}
