//! One environment's state directory, `<state-dir>/<env>/` or `<prefix><env>/` in a bucket
//! (docs/design.md §1, "The state directory"; formats in `docs/state-format.md`, object
//! storage in `docs/remote-state.md`; the seam between the two is [`StateStore`]):
//!
//! - `state.json` ([`StateFile`]): managed addresses, fingerprints, protect flags, applied
//!   plans; committed to git;
//! - `lock` ([`StateLock`]): held for a whole apply (an OS lock, or a lease object);
//! - `journal/<digest>.jsonl` ([`Journal`]): per-operation progress, for resume;
//! - `backups/` ([`write_backup`]): live objects before an apply changes them;
//! - `audit.jsonl` ([`append_audit`]): one line per apply;
//! - `plans/`: plans made by `apply` without a plan file (written by the planner).
//!
//! These files only ever hold what callers pass in, and callers pass secret stand-ins
//! (`{"secret": VAR, "hmac": …}`), never secret values. On a local disk every file but the
//! two append-only logs is written with temp file + fsync + rename, owner-only.

pub mod audit;
pub mod backup;
pub mod dir;
pub mod error;
pub mod file;
pub mod journal;
pub mod lock;
pub mod remote;
pub mod store;
pub mod transfer;

pub use audit::{
    append_audit, read_audit, AuditChange, AuditRecord, AuditTotals, ChangeResult, Identity,
};
pub use backup::{
    list_backups, load_backup, load_backup_at, read_backup_bytes, write_backup, BackedUpResource,
    Backup, BackupSummary, BACKUP_FORMAT, BACKUP_FORMAT_VERSION,
};
pub use dir::StateDir;
pub use error::StateError;
pub use file::{AppliedPlan, ManagedResource, StateFile, STATE_FORMAT_VERSION};
pub use journal::{
    ExpectedLive, Journal, JournalEntry, JournalEvent, JournalSummary, OpRecord, OpStatus,
};
pub use lock::{LockError, LockHolder, StateLock};
pub use remote::{ObjectStateStore, RemoteSpec};
pub use store::{LocalStore, StateStore, WriteMode};
