//! `Session`: the server-side record behind one ENSIMS session token.

/// One live session; deleting it revokes every token that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The token's `jti`: random, unguessable.
    pub id: String,
    /// Whose session it is.
    pub account_id: i64,
    /// When the user logged on (unix seconds); check-in keeps it.
    pub login_at: i64,
    /// The absolute end of the session (unix seconds); no token outlives it.
    pub expires_at: i64,
}
