//! Crash-safe file writes. A reader (or the next run after a crash or power loss) sees either
//! the old file or the new one, never a half-written mix: write a temp file in the same
//! directory (rename is only atomic within one file system), fsync it, rename it over the
//! target, then fsync the directory so the rename itself survives a power loss.
//!
//! Files are created owner-only (0600) and directories 0700, because the state directory
//! describes a production auth setup even though it never holds secret values.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What `write_atomic` did, so callers can say "unchanged" instead of "saved".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Written,
    /// The file already held exactly these bytes and was left alone (cargo's rule: a rewrite
    /// with the same content still bumps mtimes and wakes file watchers for nothing).
    Unchanged,
}

/// A failed file operation, naming the file and what was being done to it.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} {}: {source}", path.display())]
pub struct FileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

impl FileError {
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        FileError {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Replaces `path` with `bytes` atomically and durably. The parent directory must exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<WriteOutcome, FileError> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => return Ok(WriteOutcome::Unchanged),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(FileError::new("read", path, e)),
    }
    let dir = parent_dir(path);
    let tmp = temp_path(path);
    // Errors name the target, not the hidden temp file the user never asked about.
    let result = write_and_sync(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| FileError::new("write", path, e));
    if result.is_err() {
        // Best effort: a leftover temp file is harmless (hidden, never read) but untidy.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)?;
    Ok(WriteOutcome::Written)
}

/// Creates `path` and any missing parents with owner-only permissions. Directories that
/// already exist keep their permissions: they are the user's to choose.
pub fn create_private_dir_all(path: &Path) -> Result<(), FileError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .map_err(|e| FileError::new("create directory", path, e))
}

/// Opens (creating 0600 if needed) a file for appending: the journal and the audit log, the
/// files that grow line by line instead of being replaced.
pub fn open_private_append(path: &Path) -> Result<File, FileError> {
    private_options()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| FileError::new("open for appending", path, e))
}

/// fsyncs a directory so that a rename or a newly created file in it survives a power loss.
pub fn sync_dir(dir: &Path) -> Result<(), FileError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FileError::new("sync directory", dir, e))
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a directory as a file; its renames are journaled by NTFS.
        let _ = dir;
        Ok(())
    }
}

pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn write_and_sync(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A hidden name beside the target, unique per process and call so that concurrent writers
/// (two threads, or a second process that ignored the lock) never share a temp file.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        assert_eq!(write_atomic(&path, b"one").unwrap(), WriteOutcome::Written);
        assert_eq!(write_atomic(&path, b"two").unwrap(), WriteOutcome::Written);
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
    }

    #[test]
    fn same_content_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomic(&path, b"same").unwrap();
        // A marker that a rewrite would replace: the inode changes on every rename.
        #[cfg(unix)]
        let inode = {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(&path).unwrap().ino()
        };
        assert_eq!(
            write_atomic(&path, b"same").unwrap(),
            WriteOutcome::Unchanged
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
        }
    }

    #[cfg(unix)]
    #[test]
    fn files_and_created_dirs_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("state/prod/backups");
        create_private_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let path = nested.join("b.json");
        write_atomic(&path, b"{}").unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn missing_parent_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope/a.json");
        let err = write_atomic(&path, b"x").unwrap_err().to_string();
        assert!(err.starts_with("could not write "), "{err}");
        assert!(
            err.contains("nope/a.json"),
            "names the target, not the temp file: {err}"
        );
    }
}
