-- Password reset by email: only a SHA-256 of each random token is kept; one live token per
-- account (a newer request or a password change deletes the older ones).
CREATE TABLE reset_tokens (
    token_hash TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE INDEX reset_tokens_by_account ON reset_tokens (account_id);
