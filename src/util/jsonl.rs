//! Append-only JSON-lines files (the journal, the audit log). One line is written with one
//! `write` and fsynced, so a crash can only ever damage the last line. Before appending, the
//! tail is made whole again, so a new line is never glued onto a torn fragment (which would
//! turn a tolerated torn *last* line into a damaged line in the middle).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::atomic::{open_private_append, FileError};

/// What `repair_tail` had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailRepair {
    /// The file was missing, empty, or ended with a complete, valid line.
    Intact,
    /// The last line was valid but its newline was lost; the newline was added.
    Terminated,
    /// The last line could not be read and was removed.
    Trimmed,
}

/// Ensures `path` ends with a complete line that `is_valid` accepts (or is empty). Lines before
/// the last are not looked at: readers report damage there.
pub fn repair_tail(path: &Path, is_valid: impl Fn(&str) -> bool) -> Result<TailRepair, FileError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TailRepair::Intact),
        Err(e) => return Err(FileError::new("read", path, e)),
    };
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if body.is_empty() && bytes.len() <= 1 {
        return Ok(if bytes.is_empty() {
            TailRepair::Intact
        } else {
            trim(path, 0)?
        });
    }
    let last_start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last_ok = std::str::from_utf8(&body[last_start..]).is_ok_and(&is_valid);
    match (last_ok, bytes.ends_with(b"\n")) {
        (true, true) => Ok(TailRepair::Intact),
        (true, false) => {
            let mut file = open_private_append(path)?;
            file.write_all(b"\n")
                .and_then(|()| file.sync_data())
                .map_err(|e| FileError::new("append to", path, e))?;
            Ok(TailRepair::Terminated)
        }
        (false, _) => trim(path, last_start),
    }
}

fn trim(path: &Path, len: usize) -> Result<TailRepair, FileError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| FileError::new("open", path, e))?;
    file.set_len(len as u64)
        .and_then(|()| file.sync_all())
        .map_err(|e| FileError::new("trim the torn last line of", path, e))?;
    Ok(TailRepair::Trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(content: &str) -> (TailRepair, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        fs::write(&path, content).unwrap();
        let r = repair_tail(&path, |l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok()
        })
        .unwrap();
        (r, fs::read_to_string(&path).unwrap())
    }

    #[test]
    fn tails_are_made_whole() {
        assert_eq!(repaired(""), (TailRepair::Intact, "".into()));
        assert_eq!(
            repaired("{}\n[1]\n"),
            (TailRepair::Intact, "{}\n[1]\n".into())
        );
        assert_eq!(
            repaired("{}\n[1]"),
            (TailRepair::Terminated, "{}\n[1]\n".into())
        );
        assert_eq!(
            repaired("{}\n{\"a\":"),
            (TailRepair::Trimmed, "{}\n".into())
        );
        assert_eq!(repaired("{}\nxx\n"), (TailRepair::Trimmed, "{}\n".into()));
        assert_eq!(repaired("{\"a"), (TailRepair::Trimmed, "".into()));
        assert_eq!(repaired("\n"), (TailRepair::Trimmed, "".into()));
    }

    #[test]
    fn missing_file_is_intact() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            repair_tail(&dir.path().join("nope"), |_| true).unwrap(),
            TailRepair::Intact
        );
    }
}
