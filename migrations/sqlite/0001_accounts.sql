-- Accounts, their sessions, password history and server-wide secrets.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT,
    kind          TEXT    NOT NULL CHECK (kind IN ('local', 'ad')),
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'normal')),
    locale        TEXT    NOT NULL,
    title         TEXT,
    firstname     TEXT,
    middlename    TEXT,
    surname       TEXT,
    nickname      TEXT,
    position      TEXT,
    company       TEXT,
    tel           TEXT,
    address       TEXT,
    postcode      TEXT,
    country       TEXT,
    website       TEXT,
    twitter       TEXT,
    linkedin      TEXT,
    use_jess      INTEGER NOT NULL DEFAULT 0,
    jess_user     TEXT,
    jess_secret   TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    login_at   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

CREATE TABLE password_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX password_history_by_account ON password_history (account_id, id);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
