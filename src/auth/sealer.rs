//! Authenticated encryption (ChaCha20-Poly1305) for secrets kept at rest, like JESS passwords.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

/// Seals and opens small secrets with a 32-byte key.
pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// A sealer for a 32-byte key.
    pub fn new(key: &[u8]) -> Option<Sealer> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, key).ok()?;
        Some(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// `base64(nonce ‖ ciphertext ‖ tag)` with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] =
            super::random_bytes(NONCE_LEN).try_into().expect("length");
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::empty(),
                &mut buf,
            )
            .expect("sealing a small buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        STANDARD_NO_PAD.encode(out)
    }

    /// The plaintext of a sealed value, if it is authentic.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = STANDARD_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_to_itself_and_hides_it() {
        let s = Sealer::new(&[9; 32]).unwrap();
        let sealed = s.seal("jess-password");
        assert!(!sealed.contains("jess-password"));
        assert_eq!(s.open(&sealed).as_deref(), Some("jess-password"));
        assert!(Sealer::new(&[8; 32]).unwrap().open(&sealed).is_none());
    }
}
