//! `audit.jsonl`: one JSON line per apply — who ran it, from which git commit, against which
//! environment and project, which plan, and what happened to each change. Appended durably
//! (a line fsynced on a local disk, an object of its own on object storage); never rewritten. Error texts are whatever the caller passes, which never contain
//! secret values (they carry stand-ins only).

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::{StateDir, StateError};
use crate::model::Address;
use crate::util::json::to_canonical_line;
use crate::util::timestamp::Timestamp;

/// The log's name in the environment's folder.
pub const AUDIT_FILE: &str = "audit.jsonl";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: Timestamp,
    /// `Name <email>` from git config, else `$USER`.
    pub user: String,
    /// `git rev-parse HEAD` where the tool ran, or null outside a repository.
    pub git_commit: Option<String>,
    pub environment: String,
    pub project_id: String,
    pub plan_digest: String,
    pub tool_version: String,
    pub changes: Vec<AuditChange>,
    pub totals: AuditTotals,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChange {
    pub address: Address,
    /// The plan's action name (`create`, `update`, `delete`, `replace`, …).
    pub action: String,
    pub result: ChangeResult,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeResult {
    Succeeded,
    /// The live object already matched the plan's `after` (resume, or an ambiguous write).
    AlreadyDone,
    Failed,
    /// Not attempted because something it depends on failed.
    Skipped,
    /// Not attempted because the apply was interrupted.
    NotRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditTotals {
    pub succeeded: usize,
    pub already_done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub not_run: usize,
}

impl AuditRecord {
    /// Builds the record of an apply that ran now; the totals are computed from `changes`,
    /// so they cannot disagree with them.
    pub fn new(
        who: Identity,
        environment: &str,
        project_id: &str,
        plan_digest: &str,
        changes: Vec<AuditChange>,
    ) -> Self {
        let mut totals = AuditTotals::default();
        for c in &changes {
            *match c.result {
                ChangeResult::Succeeded => &mut totals.succeeded,
                ChangeResult::AlreadyDone => &mut totals.already_done,
                ChangeResult::Failed => &mut totals.failed,
                ChangeResult::Skipped => &mut totals.skipped,
                ChangeResult::NotRun => &mut totals.not_run,
            } += 1;
        }
        AuditRecord {
            at: Timestamp::now(),
            user: who.user,
            git_commit: who.git_commit,
            environment: environment.to_string(),
            project_id: project_id.to_string(),
            plan_digest: plan_digest.to_string(),
            tool_version: crate::TOOL_VERSION.to_string(),
            changes,
            totals,
        }
    }
}

/// Who ran the apply, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub git_commit: Option<String>,
}

impl Identity {
    /// Asks git (in `cwd`, normally the directory of the config) and the environment. Never
    /// fails: a missing git or repository just means less detail.
    pub fn discover(cwd: &Path) -> Self {
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .args(args)
                .current_dir(cwd)
                .output()
                .ok()?;
            let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !text.is_empty()).then_some(text)
        };
        let name = git(&["config", "user.name"]);
        let email = git(&["config", "user.email"]);
        let user = match (name, email) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n,
            (None, Some(e)) => format!("<{e}>"),
            (None, None) => std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".to_string()),
        };
        Identity {
            user,
            git_commit: git(&["rev-parse", "HEAD"]),
        }
    }
}

/// Appends `record` as one line to `audit.jsonl` and fsyncs it.
pub fn append_audit(dir: &StateDir, record: &AuditRecord) -> Result<(), StateError> {
    dir.prepare()?;
    let path = dir.audit_file();
    let key = dir.key(AUDIT_FILE);
    let valid = |line: &str| serde_json::from_str::<AuditRecord>(line).is_ok();
    dir.store().repair_log(&key, &valid)?;
    let mut line = to_canonical_line(record).map_err(|e| {
        StateError::corrupt(&path, "audit record", e, "this is a bug; please report it")
    })?;
    line.push('\n');
    dir.store().append(&key, line.as_bytes())
}

/// Every record of `audit.jsonl`, oldest first. A torn last line (a crash mid-append) is
/// skipped; a damaged line before it is an error naming the line.
pub fn read_audit(dir: &StateDir) -> Result<Vec<AuditRecord>, StateError> {
    let path = dir.audit_file();
    let text = match dir.store().read_log(&dir.key(AUDIT_FILE))? {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => return Ok(Vec::new()),
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() => {}
            Err(e) => {
                return Err(StateError::corrupt(
                    &path,
                    "audit log",
                    format!("line {}: {e}", i + 1),
                    "Restore it from a copy or remove the damaged line",
                ))
            }
        }
    }
    Ok(out)
}
