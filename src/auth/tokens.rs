//! Session tokens: HS256 JWTs with the algorithm pinned, naming a server-side session.

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
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8]) -> TokenKeys {
        // Pinned: a token whose header names another algorithm (or `none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.sub == data.claims.uid.to_string()).then_some(data.claims)
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
