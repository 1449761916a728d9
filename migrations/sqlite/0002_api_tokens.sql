-- userapi.do authentication tokens: only a SHA-256 of each random secret is kept.
CREATE TABLE api_tokens (
    secret_hash TEXT    PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX api_tokens_by_account ON api_tokens (account_id);
