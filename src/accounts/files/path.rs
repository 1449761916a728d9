//! The path rules of the files API: every path a request or a zip entry names is normalised
//! here, and anything that could leave the caller's area is refused.

use super::FileError;

/// The longest path accepted, bytes (as sent, before normalisation).
pub const MAX_PATH: usize = 1024;

/// The normalised form of a path relative to the caller's area: `/`-separated (a `\` is a
/// separator too), no empty or `.` segments, no leading or trailing `/`; `""` is the area's
/// root. Refused: over [`MAX_PATH`] bytes, a NUL or control character, an absolute path
/// (leading separator or a drive letter), a `..` segment.
pub fn normalise(raw: &str) -> Result<String, FileError> {
    let refuse = || Err(FileError::BadPath(shown(raw)));
    if raw.len() > MAX_PATH || raw.chars().any(char::is_control) {
        return refuse();
    }
    let unified = raw.replace('\\', "/");
    let bytes = unified.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if unified.starts_with('/') || drive {
        return refuse();
    }
    let mut segments = Vec::new();
    for segment in unified.split('/') {
        match segment {
            "" | "." => {}
            ".." => return refuse(),
            _ => segments.push(segment),
        }
    }
    Ok(segments.join("/"))
}

/// The file name an upload part is stored under: the last segment of the name the client
/// sent (old browsers send a whole Windows path), which must be a plain name.
pub fn part_name(raw: &str) -> Result<String, FileError> {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." || name.len() > 255 {
        return Err(FileError::BadPath(shown(raw)));
    }
    normalise(name)
}

/// `folder` and `name` joined, within the length limit.
pub fn join(folder: &str, name: &str) -> Result<String, FileError> {
    let path = match folder {
        "" => name.to_owned(),
        _ => format!("{folder}/{name}"),
    };
    if path.len() > MAX_PATH {
        Err(FileError::BadPath(shown(&path)))
    } else {
        Ok(path)
    }
}

/// Every folder above `path` (not `path` itself), outermost first.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// A refused path as a reply names it: control characters shown as `?`, at most 100
/// characters.
fn shown(raw: &str) -> String {
    let mut shown: String = raw
        .chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if raw.chars().count() > 100 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_of_both_kinds_and_dot_segments_are_normalised() {
        assert_eq!(normalise("test/0").unwrap(), "test/0");
        assert_eq!(normalise("test\\0\\").unwrap(), "test/0");
        assert_eq!(normalise("./a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(normalise("").unwrap(), "");
        assert_eq!(normalise("a..b/..c").unwrap(), "a..b/..c");
    }

    #[test]
    fn paths_that_could_leave_the_area_are_refused() {
        let long = "a/".repeat(MAX_PATH / 2 + 1);
        for bad in [
            "..",
            "a/../../b",
            "a\\..\\b",
            "/etc/passwd",
            "\\windows",
            "C:/x",
            "c:x",
            "a\0b",
            "a\nb",
            "a\u{1b}b",
            long.as_str(),
        ] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_part_name_is_the_last_segment_of_what_the_client_sent() {
        assert_eq!(part_name("win.ini").unwrap(), "win.ini");
        assert_eq!(part_name("C:\\Users\\me\\win.ini").unwrap(), "win.ini");
        assert_eq!(part_name("../../x.txt").unwrap(), "x.txt");
        for bad in ["", "..", "a/", "a\u{7}b"] {
            assert!(part_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ancestors_are_listed_outermost_first() {
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(ancestors("a").count(), 0);
    }
}
