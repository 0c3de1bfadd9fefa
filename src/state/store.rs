//! Where the files of the state live: the seam between the state modules (which know the
//! formats of `docs/state-format.md`) and the storage (which only moves bytes).
//!
//! Two stores implement it: [`LocalStore`], the state directory on this machine (the default,
//! exactly the files and guarantees it always had), and `remote::ObjectStateStore`, a bucket
//! of S3, GCS or Azure Blob shared by a team (docs/remote-state.md). Keys are relative to the
//! store's root and always start with the environment: `prod/state.json`,
//! `prod/journal/<digest>.jsonl`.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lock::{LockError, LockHolder};
use super::StateError;
use crate::util::atomic::{
    create_private_dir_all, open_private_append, sync_dir, write_atomic, FileError, WriteOutcome,
};
use crate::util::jsonl::{repair_tail, TailRepair};

/// How a write treats what is already stored under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace whatever is there.
    Overwrite,
    /// Only if nothing is stored under the key yet; otherwise [`StateError::AlreadyExists`].
    Create,
    /// Only if the stored object is still the one this process last read or wrote (absent
    /// stays absent): compare-and-swap, so a writer that slipped past the lock is refused
    /// instead of silently overwritten ([`StateError::Conflict`]).
    Swap,
}

/// A lock held on one environment; dropping it releases the lock.
pub trait HeldLock: Send + Sync + fmt::Debug {
    fn holder(&self) -> &LockHolder;
}

/// The storage of every environment's state files under one root.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Where `key` is, as shown to people: a path, or `s3://bucket/prefix/key`.
    fn location(&self, key: &str) -> PathBuf;

    /// The bytes stored under `key`, or `None`.
    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StateError>;

    fn write(&self, key: &str, bytes: &[u8], mode: WriteMode) -> Result<WriteOutcome, StateError>;

    fn delete(&self, key: &str) -> Result<(), StateError>;

    /// The names of the entries directly in the folder `dir` (files and append-only logs),
    /// hidden names (interrupted writes) left out, sorted. A missing folder is empty.
    fn list(&self, dir: &str) -> Result<Vec<String>, StateError>;

    /// Appends whole lines (`bytes` ends with a newline) to the append-only log `key`,
    /// durably, before returning. Nothing written earlier is rewritten. Empty `bytes` creates
    /// the log where a log can exist empty (a local file).
    fn append(&self, key: &str, bytes: &[u8]) -> Result<(), StateError>;

    /// The whole content of an append-only log, in the order it was appended, or `None`.
    fn read_log(&self, key: &str) -> Result<Option<Vec<u8>>, StateError>;

    /// Removes an append-only log whole (a missing one is fine).
    fn delete_log(&self, key: &str) -> Result<(), StateError>;

    /// Makes a log that a crash left with a torn last line whole again before appending (see
    /// `util::jsonl`). Stores whose appends are atomic never have one.
    fn repair_log(
        &self,
        key: &str,
        is_valid: &dyn Fn(&str) -> bool,
    ) -> Result<TailRepair, StateError>;

    /// Takes the apply lock of environment `env`, waiting up to `timeout`. `on_warning`
    /// receives what the person running the tool must hear (a taken-over lease).
    fn lock(
        &self,
        env: &str,
        timeout: Duration,
        on_warning: &dyn Fn(String),
    ) -> Result<Box<dyn HeldLock>, LockError>;

    /// Who holds the lock of `env` now, if anyone says so.
    fn lock_holder(&self, env: &str) -> Option<LockHolder>;

    /// Removes the lock of `env` if its id is `id` (`state force-unlock`).
    fn force_unlock(&self, env: &str, id: &str) -> Result<LockHolder, LockError>;

    /// Makes the environment's folder ready for writes (a local directory and its
    /// `.gitignore`; nothing on object storage, where folders do not exist).
    fn prepare(&self, env: &str) -> Result<(), StateError>;

    /// Whether the store is this machine's directory (the journal and state may then also be
    /// reached as ordinary files, e.g. `apply state/<env>/plans/<digest>.json`).
    fn is_local(&self) -> bool;
}

/// Kept out of git: the lock is per machine, and temp files are debris of an interrupted write.
const GITIGNORE: &str = "# Written by descope-mgmt: per-machine files that must not be committed.\nlock\nlock.holder\n.*.tmp\n";

/// The state directory on this machine: `<root>/<env>/…`, written with temp file + fsync +
/// rename (`util::atomic`), logs appended line by line and fsynced, the lock an OS `flock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

/// Creates the folders between the root's environment folder and `path` owner-only.
fn create_parent(path: &Path) -> Result<(), FileError> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => create_private_dir_all(p),
        _ => Ok(()),
    }
}

impl StateStore for LocalStore {
    fn location(&self, key: &str) -> PathBuf {
        self.path(key)
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.path(key);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FileError::new("read", &path, e).into()),
        }
    }

    fn write(&self, key: &str, bytes: &[u8], mode: WriteMode) -> Result<WriteOutcome, StateError> {
        let path = self.path(key);
        create_parent(&path)?;
        // The OS lock serializes every writer on this machine, so `Swap` needs no version.
        if mode == WriteMode::Create && path.exists() {
            return Err(StateError::AlreadyExists {
                location: path.display().to_string(),
            });
        }
        Ok(write_atomic(&path, bytes)?)
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FileError::new("remove", &path, e).into()),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StateError> {
        let path = self.path(dir);
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FileError::new("list", &path, e).into()),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| FileError::new("list", &path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    fn append(&self, key: &str, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path(key);
        create_parent(&path)?;
        let existed = path.exists();
        let mut file = open_private_append(&path)?;
        // One `write` per call: a crash can tear only this last piece, which readers tolerate.
        file.write_all(bytes)
            .and_then(|()| file.sync_data())
            .map_err(|e| FileError::new("append to", &path, e))?;
        if !existed {
            // The file's existence must survive a power loss, or a resume would not see it.
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(())
    }

    fn read_log(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        self.read(key)
    }

    fn delete_log(&self, key: &str) -> Result<(), StateError> {
        self.delete(key)
    }

    fn repair_log(
        &self,
        key: &str,
        is_valid: &dyn Fn(&str) -> bool,
    ) -> Result<TailRepair, StateError> {
        Ok(repair_tail(&self.path(key), is_valid)?)
    }

    fn lock(
        &self,
        env: &str,
        timeout: Duration,
        _on_warning: &dyn Fn(String),
    ) -> Result<Box<dyn HeldLock>, LockError> {
        self.prepare(env)?;
        Ok(Box::new(super::lock::FileLock::acquire(
            &self.root.join(env),
            env,
            timeout,
        )?))
    }

    fn lock_holder(&self, env: &str) -> Option<LockHolder> {
        super::lock::read_holder_file(&self.root.join(env))
    }

    fn force_unlock(&self, env: &str, _id: &str) -> Result<LockHolder, LockError> {
        Err(LockError::NotForceable {
            env: env.to_string(),
        })
    }

    fn prepare(&self, env: &str) -> Result<(), StateError> {
        let dir = self.root.join(env);
        create_private_dir_all(&dir)?;
        write_atomic(&dir.join(".gitignore"), GITIGNORE.as_bytes())?;
        Ok(())
    }

    fn is_local(&self) -> bool {
        true
    }
}
