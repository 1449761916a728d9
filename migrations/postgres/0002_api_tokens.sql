-- userapi.do authentication tokens: only a SHA-256 of each random secret is kept.
CREATE TABLE api_tokens (
    secret_hash TEXT    PRIMARY KEY,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX api_tokens_by_account ON api_tokens (account_id);
