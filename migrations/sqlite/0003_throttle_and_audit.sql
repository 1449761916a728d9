-- Failed-credential counters shared by every instance, and the audit trail.
CREATE TABLE throttle (
    key          TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor_id   INTEGER,
    actor      TEXT,
    dialect    TEXT    NOT NULL,
    address    TEXT,
    action     TEXT    NOT NULL,
    account_id INTEGER,
    username   TEXT,
    changes    TEXT    NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_username ON audit (username, at);
