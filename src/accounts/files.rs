//! The files API's use-cases: each user's storage area, its path rules, the quota, uploads
//! (streamed, zips extracted) that are published whole or not at all, downloads, deletion.

pub mod path;
mod unzip;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::stream::{self, Stream};

use super::{now, Accounts, Error, SessionCtx};
use crate::domain::{Actor, AuditAction, AuditRecord, Change};
use crate::store::files::CHUNK_SIZE;
use crate::store::{FileRow, FileStore, StoreError};

pub use unzip::MAX_ENTRIES;

/// Seconds an unpublished blob is kept before it counts as an upload cut short.
const UNPUBLISHED_GRACE: i64 = 24 * 3600;

/// What the files API refuses, in terms the dialect translates.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A path that breaks the path rules (shown as sent, sanitised).
    #[error("Invalid path: {0}")]
    BadPath(String),
    /// Nothing at this path.
    #[error("{0} is not found")]
    NotFound(String),
    /// The upload would take the area past its quota (or a zip would expand past it).
    #[error("Storage quota exceeded.")]
    OverQuota,
    /// The upload is larger than one upload may be.
    #[error("Upload too large.")]
    TooLarge,
    /// A file where a folder is, or the reverse.
    #[error("{0} already exists as a file or folder of the other kind.")]
    Conflict(String),
    /// A zip refused: unreadable, too many entries, an unsafe entry.
    #[error("{0}")]
    BadZip(String),
    /// The request itself is malformed (not multipart, no `file` part).
    #[error("{0}")]
    BadRequest(String),
    /// Anything the account layer refuses (no session, the store unavailable...).
    #[error(transparent)]
    Account(#[from] Error),
}

impl From<StoreError> for FileError {
    fn from(e: StoreError) -> FileError {
        FileError::Account(e.into())
    }
}

impl FileError {
    fn task(e: tokio::task::JoinError) -> FileError {
        FileError::Account(Error::Internal(super::Fault::Task(std::sync::Arc::new(e))))
    }
}

/// Shorthand for files results.
pub type FileResult<T> = Result<T, FileError>;

/// The configured limits.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Bytes each account's files may take in all.
    pub quota: u64,
    /// Bytes one upload request may carry.
    pub upload_limit: u64,
}

/// The files service: the file store, the account service (sessions, audit names), limits.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn FileStore>,
    accounts: Accounts,
    limits: FileLimits,
}

/// One node of a listing: a file, or a folder with its entries sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The entry's own name (the listed folder's own node: its path).
    pub name: String,
    /// Bytes (0 for a folder).
    pub size: i64,
    /// Whether a folder.
    pub folder: bool,
    /// A folder's entries.
    pub children: Vec<Node>,
}

/// What a path names.
pub enum Found {
    /// A folder (the root included), listed recursively.
    Folder(Node),
    /// A file, to stream.
    File(Download),
}

/// A file on its way out: its name and size, and its bytes chunk by chunk.
pub struct Download {
    /// The file's own name.
    pub name: String,
    /// Bytes.
    pub size: i64,
    store: Arc<dyn FileStore>,
    blob: i64,
}

impl Download {
    /// The bytes, one chunk (at most [`CHUNK_SIZE`]) in memory at a time.
    pub fn chunks(self) -> impl Stream<Item = Result<Vec<u8>, StoreError>> + Send + 'static {
        let count = (self.size + CHUNK_SIZE as i64 - 1) / CHUNK_SIZE as i64;
        stream::unfold(0i64, move |seq| {
            let store = self.store.clone();
            let blob = self.blob;
            async move {
                if seq >= count {
                    return None;
                }
                Some((store.chunk(blob, seq).await, seq + 1))
            }
        })
    }
}

impl Files {
    /// The service over `store` with these limits.
    pub fn new(store: Arc<dyn FileStore>, accounts: Accounts, limits: FileLimits) -> Files {
        Files {
            store,
            accounts,
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> FileLimits {
        self.limits
    }

    /// The folder tree or the file at `raw` (a path as sent).
    pub async fn find(&self, ctx: &SessionCtx, raw: &str) -> FileResult<Found> {
        let path = path::normalise(raw)?;
        self.accounts.own_account(ctx).await?;
        let rows = self.store.entries(ctx.account_id(), &path).await?;
        if let [FileRow {
            path: found,
            blob: Some(blob),
            size,
        }] = rows.as_slice()
        {
            // The one entry found may be the path itself (a file), or the only file inside
            // the folder asked for (the root holding one file, say): a listing then.
            if found == &path {
                return Ok(Found::File(Download {
                    name: path.rsplit('/').next().unwrap_or_default().to_owned(),
                    size: *size,
                    store: self.store.clone(),
                    blob: *blob,
                }));
            }
        }
        if rows.is_empty() && !path.is_empty() {
            return Err(FileError::NotFound(raw.to_owned()));
        }
        Ok(Found::Folder(tree(&path, &rows)))
    }

    /// Deletes the file or folder at `raw`; `NotFound` when nothing is there.
    pub async fn delete(&self, ctx: &SessionCtx, raw: &str, actor: &Actor) -> FileResult<()> {
        let path = path::normalise(raw)?;
        if path.is_empty() {
            return Err(FileError::NotFound(raw.to_owned()));
        }
        let account = self.accounts.own_account(ctx).await?;
        let actor = actor.as_account(account.id, &account.username);
        let record = audit(
            &actor,
            AuditAction::FileDelete,
            vec![Change::new("path", Some(&path), None)],
        );
        if self.store.delete(account.id, &path, &record).await? {
            Ok(())
        } else {
            Err(FileError::NotFound(raw.to_owned()))
        }
    }

    /// Starts an upload into the folder `raw` (created if missing).
    pub async fn upload(&self, ctx: &SessionCtx, raw: &str, actor: &Actor) -> FileResult<Upload> {
        let folder = path::normalise(raw)?;
        let account = self.accounts.own_account(ctx).await?;
        let used = self.store.used(account.id).await?;
        Ok(Upload {
            files: self.clone(),
            account_id: account.id,
            actor: actor.as_account(account.id, &account.username),
            folder,
            used,
            received: 0,
            stored: 0,
            staged: Vec::new(),
            folders: BTreeSet::new(),
            blobs: Vec::new(),
            audit: Vec::new(),
            parts: 0,
            zip_top: None,
            done: false,
        })
    }

    /// Deletes the blobs of uploads cut short (a crash, a lost connection) a day ago or more.
    pub async fn purge_unpublished(&self) -> FileResult<u64> {
        Ok(self
            .store
            .purge_unpublished(now() - UNPUBLISHED_GRACE)
            .await?)
    }
}

fn audit(actor: &Actor, action: AuditAction, changes: Vec<Change>) -> AuditRecord {
    AuditRecord {
        at: now(),
        actor: actor.clone(),
        action,
        account_id: actor.id,
        username: actor.name.clone(),
        changes,
    }
}

/// The listing of `folder` from its rows (sorted by path, the folder's own row included).
fn tree(folder: &str, rows: &[FileRow]) -> Node {
    let mut root = Node {
        name: format!("/{folder}"),
        size: 0,
        folder: true,
        children: Vec::new(),
    };
    let skip = if folder.is_empty() {
        0
    } else {
        folder.len() + 1
    };
    for row in rows.iter().filter(|r| r.path.len() > skip) {
        let mut node = &mut root;
        let segments: Vec<&str> = row.path[skip..].split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let at = if let Some(at) = node.children.iter().position(|c| c.name == *segment) {
                at
            } else {
                node.children.push(Node {
                    name: (*segment).to_owned(),
                    size: if last { row.size } else { 0 },
                    folder: !last || row.blob.is_none(),
                    children: Vec::new(),
                });
                node.children.len() - 1
            };
            node = &mut node.children[at];
        }
    }
    sort(&mut root);
    root
}

fn sort(node: &mut Node) {
    node.children.sort_by(|a, b| a.name.cmp(&b.name));
    node.children.iter_mut().for_each(sort);
}

/// Writes a blob's chunks, each exactly [`CHUNK_SIZE`] but the last.
pub(crate) struct ChunkWriter {
    blob: i64,
    seq: i64,
    size: i64,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn new(blob: i64) -> ChunkWriter {
        ChunkWriter {
            blob,
            seq: 0,
            size: 0,
            buf: Vec::new(),
        }
    }

    async fn write(&mut self, store: &dyn FileStore, mut data: &[u8]) -> FileResult<()> {
        self.size += data.len() as i64;
        while !data.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(CHUNK_SIZE);
            }
            let take = (CHUNK_SIZE - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK_SIZE {
                self.flush(store).await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self, store: &dyn FileStore) -> FileResult<()> {
        store.put_chunk(self.blob, self.seq, &self.buf).await?;
        self.seq += 1;
        self.buf.clear();
        Ok(())
    }

    /// Writes what is left; the blob's size.
    async fn finish(mut self, store: &dyn FileStore) -> FileResult<i64> {
        if !self.buf.is_empty() {
            self.flush(store).await?;
        }
        Ok(self.size)
    }
}

mod upload;
pub use upload::{Part, Upload};
