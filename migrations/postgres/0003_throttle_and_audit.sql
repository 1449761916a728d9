-- Failed-credential counters shared by every instance, and the audit trail.
CREATE TABLE throttle (
    key          TEXT    PRIMARY KEY,
    failures     BIGINT  NOT NULL,
    locked_until BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE audit (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT  NOT NULL,
    actor_id   BIGINT ,
    actor      TEXT,
    dialect    TEXT    NOT NULL,
    address    TEXT,
    action     TEXT    NOT NULL,
    account_id BIGINT ,
    username   TEXT,
    changes    TEXT    NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_username ON audit (username, at);
