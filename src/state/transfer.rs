//! Moving an environment's state between stores (`state migrate`), and Terraform's
//! `state pull` / `state push` for inspecting and repairing `state.json` by hand.

use std::time::Duration;

use super::audit::AUDIT_FILE;
use super::backup::BACKUPS_DIR;
use super::file::STATE_FILE;
use super::store::WriteMode;
use super::{LockError, StateDir, StateError, StateFile, StateLock};

/// What `migrate` copied, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// The names copied, relative to the environment's folder, in copy order.
    pub copied: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Refused(String),
}

/// The folders of plain files in an environment's folder (each copied file by file).
const FILE_DIRS: [&str; 2] = [BACKUPS_DIR, "plans"];

/// Copies every state file of `from`'s environment to `to` (same environment), holding both
/// locks. Refuses a destination that already holds state, so nothing is ever overwritten.
/// The source is left as it was: once the configuration points at the destination, it can be
/// archived or removed.
pub fn migrate(
    from: &StateDir,
    to: &StateDir,
    lock_timeout: Duration,
    on_warning: &dyn Fn(String),
) -> Result<MigrateReport, TransferError> {
    if from.env() != to.env() {
        return Err(TransferError::Refused(format!(
            "cannot migrate environment `{}` into environment `{}`",
            from.env(),
            to.env()
        )));
    }
    if from.root() == to.root() {
        return Err(TransferError::Refused(format!(
            "the state of environment `{}` is already in {}",
            from.env(),
            from.root().display()
        )));
    }
    let _from_lock = StateLock::acquire_with(from, lock_timeout, on_warning)?;
    let _to_lock = StateLock::acquire_with(to, lock_timeout, on_warning)?;
    let existing: Vec<String> = to
        .store()
        .list(to.env())?
        .into_iter()
        .filter(|n| !matches!(n.as_str(), "lock" | "lock.holder" | ".gitignore"))
        .collect();
    if !existing.is_empty() {
        return Err(TransferError::Refused(format!(
            "{} already holds state of environment `{}` ({}); nothing was copied. Migrate into an empty location, or move that state aside first",
            to.path().display(),
            to.env(),
            existing.join(", ")
        )));
    }
    to.prepare()?;
    let mut report = MigrateReport::default();
    let src = from.store();
    let dst = to.store();

    if let Some(bytes) = src.read(&from.key(STATE_FILE))? {
        // Parsed first: a damaged state.json is reported here, not copied along.
        StateFile::from_bytes(&from.state_file(), from.env(), &bytes)?;
        dst.write(&to.key(STATE_FILE), &bytes, WriteMode::Create)?;
        report.copied.push(STATE_FILE.to_string());
    }
    for dir in FILE_DIRS {
        for name in src.list(&from.key(dir))? {
            let rel = format!("{dir}/{name}");
            if let Some(bytes) = src.read(&from.key(&rel))? {
                dst.write(&to.key(&rel), &bytes, WriteMode::Create)?;
                report.copied.push(rel);
            }
        }
    }
    let mut logs: Vec<String> = src
        .list(&from.key("journal"))?
        .into_iter()
        .filter(|n| n.ends_with(".jsonl"))
        .map(|n| format!("journal/{n}"))
        .collect();
    logs.push(AUDIT_FILE.to_string());
    for rel in logs {
        let Some(bytes) = src.read_log(&from.key(&rel))? else {
            continue;
        };
        // A log ends with a complete line, except after a crash mid-append on a local disk:
        // the torn piece is not carried into a store where it would end up mid-log.
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => &bytes[..=i],
            None => &bytes[..0],
        };
        if whole.len() != bytes.len() {
            report.warnings.push(format!(
                "{} ended with a torn line (an interrupted write); it was not copied",
                src.location(&from.key(&rel)).display()
            ));
        }
        if !whole.is_empty() {
            dst.append(&to.key(&rel), whole)?;
            report.copied.push(rel);
        }
    }
    // Read back before the source is declared movable: what lands must be what was there
    // (for a log, up to its last complete line, as copied).
    for rel in &report.copied {
        let same = if rel.starts_with("journal/") || rel == AUDIT_FILE {
            let copied = src.read_log(&from.key(rel))?.map(|mut b| {
                b.truncate(b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1));
                b
            });
            copied == dst.read_log(&to.key(rel))?
        } else {
            src.read(&from.key(rel))? == dst.read(&to.key(rel))?
        };
        if !same {
            return Err(TransferError::Refused(format!(
                "{} does not read back as {} after copying; the source was left as it was",
                dst.location(&to.key(rel)).display(),
                src.location(&from.key(rel)).display()
            )));
        }
    }
    Ok(report)
}

/// `state.json` exactly as stored (`None`: nothing applied yet).
pub fn pull(dir: &StateDir) -> Result<Option<Vec<u8>>, StateError> {
    dir.store().read(&dir.key(STATE_FILE))
}

/// Replaces `state.json` with `bytes` under the lock, with Terraform's refusals unless
/// `force`: a file of another project, and an older file (one that lacks plans the stored
/// file records as applied, which would make them applicable again). A file of another
/// environment is always refused.
pub fn push(
    dir: &StateDir,
    bytes: &[u8],
    force: bool,
    lock_timeout: Duration,
) -> Result<(), TransferError> {
    let _lock = StateLock::acquire(dir, lock_timeout)?;
    let pushed = StateFile::from_bytes(std::path::Path::new("the pushed file"), dir.env(), bytes)?;
    let current = StateFile::load(dir)?;
    if !force {
        if let (Some(now), Some(new)) = (&current.project_id, &pushed.project_id) {
            if now != new {
                return Err(TransferError::Refused(format!(
                    "the pushed file records project `{new}`, but {} records project `{now}`; pass --force if the environment really moved",
                    dir.state_file().display()
                )));
            }
        }
        let missing: Vec<&str> = current
            .applied_plans
            .iter()
            .filter(|p| !pushed.was_applied(&p.digest))
            .map(|p| p.digest.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(TransferError::Refused(format!(
                "the pushed file is older than {}: it does not record {} plan(s) applied since ({}); pushing it would forget them. \
                 `state pull` the current file and edit that, or pass --force",
                dir.state_file().display(),
                missing.len(),
                missing.join(", ")
            )));
        }
    }
    // Canonical bytes, as every other writer of state.json produces.
    pushed.save(dir)?;
    Ok(())
}
