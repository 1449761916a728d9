//! Extracting an uploaded zip, streamed from its staged blob into new staged blobs, with the
//! limits that keep a zip bomb or a zip-slip archive from doing harm.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use tokio::runtime::Handle;

use super::path::{join, normalise};
use super::{ChunkWriter, FileError};
use crate::store::files::CHUNK_SIZE;
use crate::store::{FileStore, NewFile};

/// The most entries (files and folders) one zip may hold.
pub const MAX_ENTRIES: usize = 10_000;

/// What a zip expanded to, all staged, nothing published.
#[derive(Debug, Default)]
pub(super) struct Extracted {
    pub files: Vec<NewFile>,
    pub folders: Vec<String>,
    /// The one folder every entry sits under, if there is one.
    pub top: Option<String>,
    /// Bytes written.
    pub bytes: i64,
}

/// Where the extraction runs: the staged zip, the target folder, the bytes it may expand to.
pub(super) struct Job {
    pub store: Arc<dyn FileStore>,
    pub account_id: i64,
    pub zip_blob: i64,
    pub zip_size: i64,
    pub folder: String,
    pub allowance: i64,
    pub now: i64,
}

/// Extracts on a blocking thread (the zip reader is synchronous); every blob it created is
/// pushed to `created` as soon as it exists, so that a refusal can delete them all.
pub(super) async fn extract(job: Job) -> (Vec<i64>, Result<Extracted, FileError>) {
    let handle = Handle::current();
    let run = tokio::task::spawn_blocking(move || {
        let mut created = Vec::new();
        let result = extract_blocking(&handle, &job, &mut created);
        (created, result)
    });
    match run.await {
        Ok(done) => done,
        Err(e) => (Vec::new(), Err(FileError::task(e))),
    }
}

fn extract_blocking(
    handle: &Handle,
    job: &Job,
    created: &mut Vec<i64>,
) -> Result<Extracted, FileError> {
    let reader = BlobReader {
        store: job.store.clone(),
        handle: handle.clone(),
        blob: job.zip_blob,
        size: job.zip_size as u64,
        pos: 0,
        cached: None,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(bad_zip)?;
    let names = check_entries(&mut archive, job)?;
    let mut out = Extracted {
        top: top_folder(&names),
        ..Extracted::default()
    };
    let mut buf = vec![0; 64 * 1024];
    for (index, (_, path, is_dir)) in names.into_iter().enumerate() {
        if is_dir {
            out.folders.push(path);
            continue;
        }
        let mut entry = archive.by_index(index).map_err(bad_zip)?;
        let blob = handle.block_on(job.store.new_blob(job.account_id, job.now))?;
        created.push(blob);
        let mut writer = ChunkWriter::new(blob);
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad_zip(e.into()))?;
            if n == 0 {
                break;
            }
            // Counted as it expands: the sizes an archive declares may lie.
            out.bytes += n as i64;
            if out.bytes > job.allowance {
                return Err(FileError::OverQuota);
            }
            handle.block_on(writer.write(job.store.as_ref(), &buf[..n]))?;
        }
        let size = handle.block_on(writer.finish(job.store.as_ref()))?;
        out.files.push(NewFile { path, blob, size });
    }
    Ok(out)
}

/// The normalised target path of every entry (and whether it is a folder), after checking
/// the whole archive before anything is written: the entry count, names that would leave the
/// area, links, encryption, and the sizes it declares against the allowance.
fn check_entries<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    job: &Job,
) -> Result<Vec<Entry>, FileError> {
    if archive.len() > MAX_ENTRIES {
        return Err(FileError::BadZip(format!(
            "The zip holds more than {MAX_ENTRIES} entries."
        )));
    }
    let mut declared: u64 = 0;
    let mut names = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(bad_zip)?;
        let raw = entry.name().to_owned();
        let refused = |why: &str| FileError::BadZip(format!("Zip entry refused ({why}): {raw}"));
        if entry.is_symlink() {
            return Err(refused("a link"));
        }
        if entry.encrypted() {
            return Err(refused("encrypted"));
        }
        let relative = normalise(&raw).map_err(|_| refused("unsafe name"))?;
        if relative.is_empty() {
            return Err(refused("unsafe name"));
        }
        declared = declared.saturating_add(entry.size());
        let path = join(&job.folder, &relative)?;
        names.push((relative, path, entry.is_dir()));
    }
    if declared > job.allowance.max(0) as u64 {
        return Err(FileError::OverQuota);
    }
    Ok(names)
}

/// An entry: its path relative to the target folder, its full path, whether a folder.
type Entry = (String, String, bool);

/// The one folder, relative to the target, under which every entry sits.
fn top_folder(names: &[Entry]) -> Option<String> {
    let (first, _, _) = names.first()?;
    let top = first.split('/').next()?;
    let inside = |(relative, _, is_dir): &Entry| match relative.split_once('/') {
        Some((head, _)) => head == top,
        None => *is_dir && relative == top,
    };
    names.iter().all(inside).then(|| top.to_owned())
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(bad_zip)`
fn bad_zip(e: zip::result::ZipError) -> FileError {
    FileError::BadZip(format!("The zip cannot be read: {e}"))
}

/// A staged blob read back as a seekable stream, one chunk in memory at a time.
struct BlobReader {
    store: Arc<dyn FileStore>,
    handle: Handle,
    blob: i64,
    size: u64,
    pos: u64,
    cached: Option<(u64, Vec<u8>)>,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let seq = self.pos / CHUNK_SIZE as u64;
        if self.cached.as_ref().map(|(s, _)| *s) != Some(seq) {
            let data = self
                .handle
                .block_on(self.store.chunk(self.blob, seq as i64))
                .map_err(std::io::Error::other)?;
            self.cached = Some((seq, data));
        }
        let chunk = &self.cached.as_ref().expect("just cached").1;
        let offset = (self.pos % CHUNK_SIZE as u64) as usize;
        let available = chunk.get(offset..).unwrap_or_default();
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}
