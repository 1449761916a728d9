//! Session tokens: HS256 JWTs with the algorithm pinned, naming a server-side session.

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::Session;

const ISSUER: &str = "roster";
const AUDIENCE: &str = "roster-ensims";

/// The claims of a session token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer: always `roster`.
    pub iss: String,
    /// Audience: the ENSIMS dialect.
    pub aud: String,
    /// Subject: the account id, as a string.
    pub sub: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expires (unix seconds).
    pub exp: i64,
    /// The session id.
    pub jti: String,
    /// The account id.
    pub uid: i64,
    /// This token's own random id: two tokens of one session (a check-in in the same
    /// second) never coincide. Absent from tokens issued before it existed.
    #[serde(default)]
    pub tid: String,
}

/// Signs and verifies session tokens with one HMAC key shared by every instance.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens already found well-signed, with their claims: a client sends the same token
    /// with each request, and decoding it (two JSON documents, the HMAC) cost more than all
    /// the rest of reading an account. Only the time checks are repeated on a hit.
    verified: Mutex<HashMap<String, Claims>>,
}

/// Tokens remembered as well-signed; past this the memo starts afresh (a flood of distinct
/// valid tokens costs only the decoding the memo would have saved).
const VERIFIED_MAX: usize = 10_000;
/// Seconds of clock difference tolerated for `nbf` and `exp` (several instances).
const LEEWAY: i64 = 5;

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> TokenKeys {
        // Pinned: a token whose header names another algorithm (or `none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY as u64;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Mutex::default(),
        }
    }

    /// A token for `session`, valid from `now` until `exp`.
    pub fn issue(&self, session: &Session, now: i64, exp: i64) -> String {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: session.account_id.to_string(),
            iat: now,
            nbf: now,
            exp,
            jti: session.id.clone(),
            uid: session.account_id,
            tid: crate::auth::random_token(9),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The claims of a well-signed, current token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        // Tokens are small; refuse absurd ones before any parsing work.
        if token.len() > 4096 {
            return None;
        }
        let now = crate::accounts::now();
        let current = |claims: &Claims| claims.nbf <= now + LEEWAY && now - LEEWAY <= claims.exp;
        if let Some(claims) = self.memo().get(token) {
            return current(claims).then(|| claims.clone());
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        if claims.sub != claims.uid.to_string() {
            return None;
        }
        let mut memo = self.memo();
        if memo.len() >= VERIFIED_MAX {
            memo.clear();
        }
        memo.insert(token.to_owned(), claims.clone());
        Some(claims)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claims>> {
        // The map holds no invariant a panicking holder could break.
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: "sid".into(),
            account_id: 7,
            login_at: 0,
            expires_at: i64::MAX,
        }
    }

    fn now() -> i64 {
        crate::accounts::now()
    }

    #[test]
    fn an_issued_token_verifies_with_the_same_key_only() {
        let keys = TokenKeys::new(&[1; 32]);
        let token = keys.issue(&session(), now(), now() + 60);
        assert_eq!(keys.verify(&token).unwrap().jti, "sid");
        assert!(TokenKeys::new(&[2; 32]).verify(&token).is_none());
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let keys = TokenKeys::new(&[1; 32]);
        let token = keys.issue(&session(), now(), now() + 60);
        let claims = keys.verify(&token).expect("a fresh token verifies");
        assert_eq!(keys.verify(&token), Some(claims.clone()), "and again");
        // The same token, remembered, as it will be once its time has passed.
        let expired = Claims {
            exp: now() - 10,
            ..claims.clone()
        };
        keys.memo().insert(token.clone(), expired);
        assert!(keys.verify(&token).is_none());
        let early = Claims {
            nbf: now() + 10,
            ..claims
        };
        keys.memo().insert(token.clone(), early);
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn a_remembered_token_does_not_vouch_for_a_tampered_copy() {
        let keys = TokenKeys::new(&[1; 32]);
        let token = keys.issue(&session(), now(), now() + 60);
        assert!(keys.verify(&token).is_some());
        // One character of the signature changed (not the last, whose low bits are padding).
        let at = token.len() - 5;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        assert!(keys.verify(&tampered).is_none());
    }

    #[test]
    fn expired_and_future_tokens_are_refused() {
        let keys = TokenKeys::new(&[1; 32]);
        assert!(keys
            .verify(&keys.issue(&session(), now() - 100, now() - 50))
            .is_none());
        assert!(keys
            .verify(&keys.issue(&session(), now() + 100, now() + 200))
            .is_none());
    }

    #[test]
    fn a_token_without_signature_is_refused() {
        let keys = TokenKeys::new(&[1; 32]);
        let token = keys.issue(&session(), now(), now() + 60);
        let unsigned = token.rsplit_once('.').unwrap().0.to_owned() + ".";
        assert!(keys.verify(&unsigned).is_none());
    }
}
