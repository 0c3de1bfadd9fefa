//! One environment's state directory, `<state-dir>/<env>/` (docs/design.md §1, "The state
//! directory"; formats in `docs/state-format.md`):
//!
//! - `state.json` ([`StateFile`]): managed addresses, fingerprints, protect flags, applied
//!   plans; committed to git;
//! - `lock` ([`StateLock`]): the OS lock held for a whole apply;
//! - `journal/<digest>.jsonl` ([`Journal`]): per-operation progress, for resume;
//! - `backups/` ([`write_backup`]): live objects before an apply changes them;
//! - `audit.jsonl` ([`append_audit`]): one line per apply;
//! - `plans/`: plans made by `apply` without a plan file (written by the planner).
//!
//! These files only ever hold what callers pass in, and callers pass secret stand-ins
//! (`{"secret": VAR, "hmac": …}`), never secret values. Every file but the two append-only
//! logs is written with temp file + fsync + rename, owner-only.

pub mod audit;
pub mod backup;
pub mod dir;
pub mod error;
pub mod file;
pub mod journal;
pub mod lock;

pub use audit::{
    append_audit, read_audit, AuditChange, AuditRecord, AuditTotals, ChangeResult, Identity,
};
pub use backup::{
    list_backups, load_backup, write_backup, BackedUpResource, Backup, BackupSummary,
    BACKUP_FORMAT, BACKUP_FORMAT_VERSION,
};
pub use dir::StateDir;
pub use error::StateError;
pub use file::{AppliedPlan, ManagedResource, StateFile, STATE_FORMAT_VERSION};
pub use journal::{
    ExpectedLive, Journal, JournalEntry, JournalEvent, JournalSummary, OpRecord, OpStatus,
};
pub use lock::{LockError, LockHolder, StateLock};
