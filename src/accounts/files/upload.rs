//! One upload request: its parts streamed into staged blobs, zips extracted, then all of it
//! published in one transaction, or none of it.

use std::collections::BTreeSet;

use super::unzip::{self, Job};
use super::{audit, now, path, ChunkWriter, FileError, FileResult, Files};
use crate::domain::{Actor, AuditAction, AuditRecord, Change};
use crate::store::{NewFile, Published};

/// An upload in progress. Dropped before [`Upload::commit`] (a refusal, a lost connection),
/// it deletes what it staged; a crash leaves only unpublished blobs, never shown and purged.
pub struct Upload {
    pub(super) files: Files,
    pub(super) account_id: i64,
    pub(super) actor: Actor,
    pub(super) folder: String,
    /// Bytes the account's files took when the upload started.
    pub(super) used: i64,
    /// Bytes received in parts so far (zips as sent).
    pub(super) received: i64,
    /// Bytes staged to be published (zips as extracted).
    pub(super) stored: i64,
    pub(super) staged: Vec<NewFile>,
    pub(super) folders: BTreeSet<String>,
    pub(super) blobs: Vec<i64>,
    pub(super) audit: Vec<AuditRecord>,
    pub(super) parts: usize,
    /// The top folder of the one zip uploaded, when every entry sits under one.
    pub(super) zip_top: Option<String>,
    pub(super) done: bool,
}

/// One part being received.
pub struct Part {
    name: String,
    writer: ChunkWriter,
    blob: i64,
    zip: bool,
}

impl Upload {
    /// Starts a part that the client named `file_name`; a `.zip` is extracted when done.
    pub async fn part(&mut self, file_name: &str) -> FileResult<Part> {
        let name = path::part_name(file_name)?;
        path::join(&self.folder, &name)?;
        let blob = self.files.store.new_blob(self.account_id, now()).await?;
        self.blobs.push(blob);
        self.parts += 1;
        Ok(Part {
            zip: name.to_ascii_lowercase().ends_with(".zip"),
            name,
            writer: ChunkWriter::new(blob),
            blob,
        })
    }

    /// Appends bytes to a part, within the upload limit and the quota.
    pub async fn write(&mut self, part: &mut Part, data: &[u8]) -> FileResult<()> {
        self.received += data.len() as i64;
        if self.received as u64 > self.files.limits.upload_limit {
            return Err(FileError::TooLarge);
        }
        // Exact once published; here only what can never fit (a replaced file frees room).
        let after = self.stored + part.writer.size + data.len() as i64;
        if !part.zip && after as u64 > self.files.limits.quota {
            return Err(FileError::OverQuota);
        }
        part.writer.write(self.files.store.as_ref(), data).await
    }

    /// Finishes a part: a file is staged; a zip is extracted and its own blob dropped.
    pub async fn finish(&mut self, part: Part) -> FileResult<()> {
        let store = self.files.store.clone();
        let size = part.writer.finish(store.as_ref()).await?;
        if !part.zip {
            let path = path::join(&self.folder, &part.name)?;
            self.stored += size;
            self.note(&path, size, vec![]);
            self.staged.push(NewFile {
                path,
                blob: part.blob,
                size,
            });
            return Ok(());
        }
        let quota = self.files.limits.quota as i64;
        let (created, result) = unzip::extract(Job {
            store: store.clone(),
            account_id: self.account_id,
            zip_blob: part.blob,
            zip_size: size,
            folder: self.folder.clone(),
            allowance: quota - self.used - self.stored,
            now: now(),
        })
        .await;
        self.blobs.extend(created);
        let out = result?;
        store.drop_blobs(&[part.blob]).await?;
        self.blobs.retain(|b| *b != part.blob);
        self.stored += out.bytes;
        let count = (out.files.len() + out.folders.len()).to_string();
        let zip_path = path::join(&self.folder, &part.name)?;
        let extra = vec![
            Change::new("extracted_to", None, Some(&self.folder)),
            Change::new("entries", None, Some(&count)),
        ];
        self.note(&zip_path, out.bytes, extra);
        self.zip_top = out.top;
        self.folders.extend(out.folders);
        self.staged.extend(out.files);
        Ok(())
    }

    fn note(&mut self, path: &str, size: i64, mut extra: Vec<Change>) {
        let mut changes = vec![
            Change::new("path", None, Some(path)),
            Change::new("size", None, Some(&size.to_string())),
        ];
        changes.append(&mut extra);
        self.audit
            .push(audit(&self.actor, AuditAction::FileUpload, changes));
    }

    /// Publishes everything staged at once; the `fileHandle`: the target folder, or the one
    /// top folder inside it of a single zip uploaded alone.
    pub async fn commit(mut self) -> FileResult<String> {
        if self.parts == 0 {
            return Err(FileError::BadRequest(
                "No part named 'file' was sent.".into(),
            ));
        }
        let mut folders: BTreeSet<String> = self.folders.clone();
        let all = self.staged.iter().map(|f| f.path.as_str());
        for path in all.chain(std::iter::once(self.folder.as_str())) {
            folders.extend(path::ancestors(path).map(str::to_owned));
        }
        if !self.folder.is_empty() {
            folders.insert(self.folder.clone());
        }
        // Outermost first, so that a conflict is named where it starts.
        let mut folders: Vec<String> = folders.into_iter().collect();
        folders.sort_by_key(|f| f.matches('/').count());
        let quota = self.files.limits.quota as i64;
        let published = self
            .files
            .store
            .publish(
                self.account_id,
                &folders,
                &self.staged,
                quota,
                &self.audit,
                now(),
            )
            .await?;
        match published {
            Published::Done => {}
            Published::OverQuota => return Err(FileError::OverQuota),
            Published::Conflict(path) => return Err(FileError::Conflict(path)),
        }
        self.done = true;
        Ok(match (&self.zip_top, self.parts) {
            (Some(top), 1) => path::join(&self.folder, top)?,
            _ => self.folder.clone(),
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.done || self.blobs.is_empty() {
            return;
        }
        let (store, blobs) = (self.files.store.clone(), std::mem::take(&mut self.blobs));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.drop_blobs(&blobs).await {
                    tracing::warn!(cause = %e, "an abandoned upload's blobs remain until the purge");
                }
            });
        }
    }
}
