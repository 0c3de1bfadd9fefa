//! The apply lock, held for the whole apply. Its two forms live with their stores:
//!
//! - on this machine ([`FileLock`]): an OS file lock (`flock` on Unix) on `<env>/lock`. The OS
//!   drops it when the process exits however it exits (crash, kill -9, power loss), so there is
//!   never a stale lock to clean up by hand. Beside it, `lock.holder` names the holder (pid,
//!   user, host, start time) purely so that whoever is refused can be told who to ask;
//! - on object storage (`remote`): the object `<env>/lock`, created only if absent and
//!   holding a lease that its holder renews; an expired lease may be taken over.
//!
//! [`StateLock`] is what callers hold; it does not care which.

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{StateDir, StateError};
use crate::util::atomic::{private_options, write_atomic, FileError};
use crate::util::json::to_canonical_pretty;
use crate::util::timestamp::Timestamp;

/// How often a waiting `acquire` retries. Short enough that a released lock is taken promptly,
/// long enough to cost nothing.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub user: Option<String>,
    pub host: Option<String>,
    pub started_at: Timestamp,
    pub tool_version: String,
    /// The lock's id on object storage, for `state force-unlock ID`; absent locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the lease on object storage runs out unless renewed; absent locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<Timestamp>,
}

impl LockHolder {
    pub(crate) fn current() -> Self {
        LockHolder {
            pid: std::process::id(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .ok()
                .filter(|u| !u.is_empty()),
            host: hostname(),
            started_at: Timestamp::now(),
            tool_version: crate::TOOL_VERSION.to_string(),
            id: None,
            lease_expires_at: None,
        }
    }

    pub fn describe(&self) -> String {
        let who = match (&self.user, &self.host) {
            (Some(u), Some(h)) => format!(" ({u} on {h})"),
            (Some(u), None) => format!(" ({u})"),
            (None, Some(h)) => format!(" (on {h})"),
            (None, None) => String::new(),
        };
        let held_for =
            (Timestamp::now().as_datetime() - self.started_at.as_datetime()).whole_seconds();
        let id = match &self.id {
            Some(id) => format!(" [lock id {id}]"),
            None => String::new(),
        };
        format!(
            "process {}{who} since {} (for {}){id}",
            self.pid,
            self.started_at,
            humantime::format_duration(Duration::from_secs(held_for.max(0) as u64))
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(.env, .lock_path, .holder.as_deref(), *.waited))]
    Held {
        env: String,
        lock_path: PathBuf,
        /// `None` when the holder wrote no details (another tool, or it is just starting).
        holder: Option<Box<LockHolder>>,
        waited: Duration,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    State(#[from] Box<StateError>),
    #[error(
        "the state of environment `{env}` is in a local directory, locked with an OS lock that is released the moment its holder exits: there is nothing to force-unlock"
    )]
    NotForceable { env: String },
    #[error("the state of environment `{env}` is not locked: nothing to unlock")]
    NotLocked { env: String },
    #[error(
        "the lock of environment `{env}` has id {found}, not {id}: it is held by {}. Check the id printed by the error that sent you here; the lock may have changed hands",
        holder.describe()
    )]
    WrongId {
        env: String,
        id: String,
        found: String,
        holder: Box<LockHolder>,
    },
}

impl From<StateError> for LockError {
    fn from(e: StateError) -> Self {
        LockError::State(Box::new(e))
    }
}

fn held_message(
    env: &str,
    path: &std::path::Path,
    holder: Option<&LockHolder>,
    waited: Duration,
) -> String {
    let who = match holder {
        Some(h) => format!("is locked by {}", h.describe()),
        None => {
            "is locked by another process (it left no details; it may be just starting)".to_string()
        }
    };
    let waited = if waited.is_zero() {
        String::new()
    } else {
        let waited = Duration::from_millis(waited.as_millis() as u64);
        format!(" after waiting {}", humantime::format_duration(waited))
    };
    let pid_note = match holder {
        Some(LockHolder {
            id: Some(id),
            lease_expires_at: Some(until),
            ..
        }) => format!(
            " (The storage refused to create the lock object: 412 Precondition Failed.) The lock is shared through object storage and its holder renews a lease until {until}; if that process died, the lease runs out and the next apply takes it over. \
             If you are sure no apply is running, `descope-mgmt state force-unlock {id}` removes it now."
        ),
        Some(h) => format!(
            " The lock is an OS lock that is released the moment its holder exits, so if process {} has ended the lock is already free: just run again.",
            h.pid
        ),
        None => String::new(),
    };
    format!(
        "the state of environment `{env}` ({}) {who}{waited}: another apply is running. \
         Wait for it to finish, or pass --lock-timeout (e.g. --lock-timeout 10m) to wait for it.{pid_note}",
        path.display()
    )
}

/// The lock of one environment, held for as long as the value lives; dropping it (or the
/// process ending) releases it.
#[derive(Debug)]
pub struct StateLock {
    inner: Box<dyn super::store::HeldLock>,
}

impl StateLock {
    /// Takes the lock of `dir`'s environment, retrying until `timeout` has passed
    /// (`Duration::ZERO`: fail at once if it is held). Warnings (a lease taken over from a
    /// holder that died) go to the log.
    pub fn acquire(dir: &StateDir, timeout: Duration) -> Result<StateLock, LockError> {
        Self::acquire_with(dir, timeout, &|w| tracing::warn!("{w}"))
    }

    /// As `acquire`, handing warnings to `on_warning`.
    pub fn acquire_with(
        dir: &StateDir,
        timeout: Duration,
        on_warning: &dyn Fn(String),
    ) -> Result<StateLock, LockError> {
        Ok(StateLock {
            inner: dir.store().lock(dir.env(), timeout, on_warning)?,
        })
    }

    pub fn holder(&self) -> &LockHolder {
        self.inner.holder()
    }

    /// Removes the lock of `dir`'s environment whatever its holder is doing, if its id is `id`.
    pub fn force_unlock(dir: &StateDir, id: &str) -> Result<LockHolder, LockError> {
        dir.store().force_unlock(dir.env(), id)
    }
}

/// The OS lock on `<env>/lock` of a local state directory.
#[derive(Debug)]
pub(crate) struct FileLock {
    // Holding the open file is what holds the OS lock; closing it releases the lock.
    _file: File,
    holder_path: PathBuf,
    holder: LockHolder,
}

impl FileLock {
    pub(crate) fn acquire(
        env_dir: &Path,
        env: &str,
        timeout: Duration,
    ) -> Result<FileLock, LockError> {
        let lock_path = env_dir.join("lock");
        // Never truncated or rewritten: its content is irrelevant, only the lock on it counts.
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| FileError::new("open the lock file", &lock_path, e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let waited = started.elapsed();
                    if waited >= timeout {
                        return Err(LockError::Held {
                            env: env.to_string(),
                            lock_path,
                            holder: read_holder_file(env_dir).map(Box::new),
                            waited: if timeout.is_zero() {
                                Duration::ZERO
                            } else {
                                waited
                            },
                        });
                    }
                    std::thread::sleep(POLL_INTERVAL.min(timeout - waited));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(FileError::new("lock", &lock_path, e).into());
                }
            }
        }
        let holder = LockHolder::current();
        let holder_path = env_dir.join("lock.holder");
        // Written only after the lock is ours, so it never describes a process that lost.
        if let Ok(text) = to_canonical_pretty(&holder) {
            write_atomic(&holder_path, text.as_bytes())?;
        }
        Ok(FileLock {
            _file: file,
            holder_path,
            holder,
        })
    }
}

impl super::store::HeldLock for FileLock {
    fn holder(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Removed while still locked, so the next holder's details are never deleted by us.
        // A leftover file (after a crash) is harmless: it is overwritten on the next acquire.
        let _ = fs::remove_file(&self.holder_path);
    }
}

/// The holder's details, if readable. Unreadable details are not an error: the lock itself is
/// what matters, and the message can do without them.
pub fn read_holder(dir: &StateDir) -> Option<LockHolder> {
    dir.store().lock_holder(dir.env())
}

pub(crate) fn read_holder_file(env_dir: &Path) -> Option<LockHolder> {
    let text = fs::read_to_string(env_dir.join("lock.holder")).ok()?;
    serde_json::from_str(&text).ok()
}

fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|h| !h.is_empty())
}
