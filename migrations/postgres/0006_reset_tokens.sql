-- Password reset by email: only a SHA-256 of each random token is kept; one live token per
-- account (a newer request or a password change deletes the older ones).
CREATE TABLE reset_tokens (
    token_hash TEXT    PRIMARY KEY,
    account_id BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX reset_tokens_by_account ON reset_tokens (account_id);
