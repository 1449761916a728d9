-- Each user's files (the ENSIMS files API). The bytes live in the database, in chunks of at
-- most 1 MiB, so that every instance sharing a database sees every file. A blob's chunks are
-- written first, each in its own short transaction; the `files` row that publishes the blob
-- comes last, in one transaction: a blob that no row names is an unfinished upload, never
-- shown, and purged after a day. Deleting an account deletes its blobs, chunks and rows.
CREATE TABLE file_blobs (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    size       BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL
);
CREATE INDEX file_blobs_by_account ON file_blobs (account_id);

CREATE TABLE file_chunks (
    blob_id BIGINT  NOT NULL REFERENCES file_blobs (id) ON DELETE CASCADE,
    seq     BIGINT  NOT NULL,
    data    BYTEA   NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

-- One row per file (blob_id set) or folder (blob_id NULL); `path` is normalised, relative to
-- the account's area, `/`-separated, without a leading or trailing `/`.
CREATE TABLE files (
    account_id BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    path       TEXT    NOT NULL,
    blob_id    BIGINT  REFERENCES file_blobs (id) ON DELETE CASCADE,
    size       BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (account_id, path)
);
CREATE INDEX files_by_blob ON files (blob_id);
