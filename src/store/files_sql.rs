// The SQL of `FileStore`, written once and compiled per backend (`Db` is set by the module
// that includes this file): `$N` placeholders and standard SQL that SQLite and PostgreSQL
// both accept.

use async_trait::async_trait;
use sqlx::{Pool, Transaction};

use super::super::{StoreError, StoreResult};
use super::{FileRow, FileStore, NewFile, Published};
use crate::domain::AuditRecord;

/// The file store of one backend.
pub struct Files {
    pub writer: Pool<Db>,
    pub reader: Pool<Db>,
}

/// Rows at `path` or under it: `$2` the path, `$3` its length in characters + 1, `$4` the
/// path and `/` (no `LIKE`: `%` and `_` are ordinary characters in a file name).
const UNDER: &str = "account_id = $1 AND (path = $2 OR substr(path, 1, $3) = $4)";

fn prefix_len(path: &str) -> i32 {
    path.chars().count() as i32 + 1
}

/// Takes the account's row lock first (a write, so a SQLite transaction is a writer from
/// its start and concurrent publishes of one account on PostgreSQL queue up for the quota
/// check); `false` when the account is gone.
async fn lock_account(tx: &mut Transaction<'_, Db>, account_id: i64) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE accounts SET id = id WHERE id = $1")
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The blob at `path` (`Some(None)` for a folder), if anything is there.
async fn at(
    tx: &mut Transaction<'_, Db>,
    account_id: i64,
    path: &str,
) -> StoreResult<Option<Option<i64>>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT blob_id FROM files WHERE account_id = $1 AND path = $2")
            .bind(account_id)
            .bind(path)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(blob,)| blob))
}

/// Creates the folders and publishes the files; `Some(path)` names a conflict.
async fn place(
    tx: &mut Transaction<'_, Db>,
    account_id: i64,
    folders: &[String],
    files: &[NewFile],
    now: i64,
) -> StoreResult<Option<String>> {
    for folder in folders {
        match at(tx, account_id, folder).await? {
            Some(Some(_)) => return Ok(Some(folder.clone())),
            Some(None) => continue,
            None => {}
        }
        sqlx::query(
            "INSERT INTO files (account_id, path, blob_id, size, updated_at) \
             VALUES ($1, $2, NULL, 0, $3)",
        )
        .bind(account_id)
        .bind(folder)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for file in files {
        match at(tx, account_id, &file.path).await? {
            Some(None) => return Ok(Some(file.path.clone())),
            // Deleting the replaced blob deletes its row and chunks (ON DELETE CASCADE).
            Some(Some(old)) => {
                sqlx::query("DELETE FROM file_blobs WHERE id = $1")
                    .bind(old)
                    .execute(&mut **tx)
                    .await?;
            }
            None => {}
        }
        sqlx::query("UPDATE file_blobs SET size = $2 WHERE id = $1")
            .bind(file.blob)
            .bind(file.size)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO files (account_id, path, blob_id, size, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account_id)
        .bind(&file.path)
        .bind(file.blob)
        .bind(file.size)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(None)
}

async fn used_in(tx: &mut Transaction<'_, Db>, account_id: i64) -> StoreResult<i64> {
    let (used,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(used)
}

#[async_trait]
impl FileStore for Files {
    async fn new_blob(&self, account_id: i64, now: i64) -> StoreResult<i64> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO file_blobs (account_id, size, created_at) VALUES ($1, 0, $2) RETURNING id",
        )
        .bind(account_id)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(StoreError::from)?;
        Ok(id)
    }

    async fn put_chunk(&self, blob: i64, seq: i64, data: &[u8]) -> StoreResult<()> {
        sqlx::query("INSERT INTO file_chunks (blob_id, seq, data) VALUES ($1, $2, $3)")
            .bind(blob)
            .bind(seq)
            .bind(data)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn chunk(&self, blob: i64, seq: i64) -> StoreResult<Vec<u8>> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT data FROM file_chunks WHERE blob_id = $1 AND seq = $2")
                .bind(blob)
                .bind(seq)
                .fetch_optional(&self.reader)
                .await?;
        row.map(|(data,)| data).ok_or(StoreError::NotFound)
    }

    async fn drop_blobs(&self, blobs: &[i64]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        for blob in blobs {
            sqlx::query("DELETE FROM file_blobs WHERE id = $1")
                .bind(blob)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn publish(
        &self,
        account_id: i64,
        folders: &[String],
        files: &[NewFile],
        quota: i64,
        audit: &[AuditRecord],
        now: i64,
    ) -> StoreResult<Published> {
        let mut tx = self.writer.begin().await?;
        if !lock_account(&mut tx, account_id).await? {
            return Err(StoreError::NotFound);
        }
        if let Some(path) = place(&mut tx, account_id, folders, files, now).await? {
            return Ok(Published::Conflict(path));
        }
        if used_in(&mut tx, account_id).await? > quota {
            return Ok(Published::OverQuota);
        }
        for record in audit {
            insert_audit(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(Published::Done)
    }

    async fn used(&self, account_id: i64) -> StoreResult<i64> {
        let mut tx = self.reader.begin().await?;
        let used = used_in(&mut tx, account_id).await?;
        tx.commit().await?;
        Ok(used)
    }

    async fn entries(&self, account_id: i64, path: &str) -> StoreResult<Vec<FileRow>> {
        let rows: Vec<(String, Option<i64>, i64)> = if path.is_empty() {
            sqlx::query_as(
                "SELECT path, blob_id, size FROM files WHERE account_id = $1 ORDER BY path",
            )
            .bind(account_id)
            .fetch_all(&self.reader)
            .await?
        } else {
            let sql = format!("SELECT path, blob_id, size FROM files WHERE {UNDER} ORDER BY path");
            sqlx::query_as(&sql)
                .bind(account_id)
                .bind(path)
                .bind(prefix_len(path))
                .bind(format!("{path}/"))
                .fetch_all(&self.reader)
                .await?
        };
        Ok(rows
            .into_iter()
            .map(|(path, blob, size)| FileRow { path, blob, size })
            .collect())
    }

    async fn delete(&self, account_id: i64, path: &str, audit: &AuditRecord) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        if !lock_account(&mut tx, account_id).await? {
            return Ok(false);
        }
        let blobs = format!("DELETE FROM file_blobs WHERE id IN (SELECT blob_id FROM files WHERE {UNDER})");
        let rows = format!("DELETE FROM files WHERE {UNDER}");
        let size = format!("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM files WHERE {UNDER}");
        let (freed,): (i64,) = sqlx::query_as(&size)
            .bind(account_id)
            .bind(path)
            .bind(prefix_len(path))
            .bind(format!("{path}/"))
            .fetch_one(&mut *tx)
            .await?;
        let mut gone = 0;
        for sql in [blobs, rows] {
            gone += sqlx::query(&sql)
                .bind(account_id)
                .bind(path)
                .bind(prefix_len(path))
                .bind(format!("{path}/"))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if gone == 0 {
            return Ok(false);
        }
        let mut record = audit.clone();
        record.changes.push(crate::domain::Change::new(
            "size",
            Some(&freed.to_string()),
            None,
        ));
        insert_audit(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_unpublished(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM file_blobs WHERE created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM files WHERE files.blob_id = file_blobs.id)",
        )
        .bind(before)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
