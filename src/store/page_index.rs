//! Deep pages of the account list without walking the index up to the offset: every
//! [`STRIDE`]-th user name key in order, so that a page at offset `o` becomes a seek to the
//! key at `o / STRIDE * STRIDE` and a skip of less than `STRIDE` rows.
//!
//! The marks hold for one set of accounts. User names never change, so the set is told by
//! its count and its largest id: ids only grow, so a set of the same size with another
//! member has a larger id. (On PostgreSQL two inserts may commit out of id order; the marks
//! also expire after [`MAX_AGE`] so that such a race cannot outlive it.) Memory: one key
//! per `STRIDE` accounts, some 40 kB at a million.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Accounts between two marks.
pub const STRIDE: i64 = 1000;

/// Offsets below this are served by a plain `OFFSET`: walking that much costs less than
/// reading the marks would.
pub const FROM_OFFSET: i64 = 20 * STRIDE;

/// How long marks are used at most, whatever the fingerprint says.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// The marks of one set of accounts.
#[derive(Debug)]
pub struct Marks {
    /// `COUNT(*)` of the set.
    pub count: i64,
    /// `MAX(id)` of the set.
    pub max_id: i64,
    /// The user name key at positions 0, `STRIDE`, 2·`STRIDE`, ...
    pub keys: Vec<String>,
    made: Instant,
}

impl Marks {
    /// Marks read from a set of accounts of this fingerprint.
    pub fn new(count: i64, max_id: i64, keys: Vec<String>) -> Marks {
        Marks {
            count,
            max_id,
            keys,
            made: Instant::now(),
        }
    }

    /// The key to seek to for `offset`, and the rows to skip after it; `None` past the end.
    pub fn seek(&self, offset: i64) -> Option<(&str, i64)> {
        let mark = usize::try_from(offset / STRIDE).ok()?;
        let key = self.keys.get(mark)?;
        Some((key, offset % STRIDE))
    }
}

/// The marks last read, if any.
#[derive(Default)]
pub struct PageIndex {
    marks: Mutex<Option<Arc<Marks>>>,
}

impl PageIndex {
    /// The marks of the set with this fingerprint, if they are known and young enough.
    pub fn get(&self, count: i64, max_id: i64) -> Option<Arc<Marks>> {
        let marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        marks
            .as_ref()
            .filter(|m| m.count == count && m.max_id == max_id && m.made.elapsed() < MAX_AGE)
            .cloned()
    }

    /// Remembers marks just read (replacing older ones).
    pub fn put(&self, marks: Arc<Marks>) {
        *self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(marks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_becomes_a_mark_and_a_short_skip() {
        let marks = Marks::new(2500, 2500, vec!["a".into(), "k".into(), "t".into()]);
        assert_eq!(marks.seek(0), Some(("a", 0)));
        assert_eq!(marks.seek(1999), Some(("k", 999)));
        assert_eq!(marks.seek(2000), Some(("t", 0)));
        assert_eq!(marks.seek(3000), None);
    }

    #[test]
    fn marks_hold_for_their_fingerprint_only() {
        let index = PageIndex::default();
        assert!(index.get(1, 1).is_none());
        index.put(Arc::new(Marks::new(10, 12, vec!["a".into()])));
        assert!(index.get(10, 12).is_some());
        assert!(index.get(10, 13).is_none());
        assert!(index.get(9, 12).is_none());
    }
}
