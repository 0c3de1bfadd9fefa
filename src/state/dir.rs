//! Where each file of one environment's state lives: `<state-dir>/<env>/…`.

use std::path::{Path, PathBuf};

use super::StateError;
use crate::util::atomic::{create_private_dir_all, write_atomic, FileError};

/// One environment's state directory. Building it checks that the environment name and plan
/// digests are safe to use in paths (they come from the command line and from plan files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
    env: String,
}

/// Kept out of git: the lock is per machine, and temp files are debris of an interrupted write.
const GITIGNORE: &str = "# Written by descope-mgmt: per-machine files that must not be committed.\nlock\nlock.holder\n.*.tmp\n";

impl StateDir {
    pub fn new(root: impl Into<PathBuf>, env: &str) -> Result<Self, StateError> {
        let ok = !env.is_empty()
            && !env.starts_with('.')
            && env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(StateError::InvalidName(format!(
                "`{env}` cannot name a state directory: environment names use letters, digits, `-`, `_` and `.`, and do not start with `.`"
            )));
        }
        Ok(StateDir {
            root: root.into(),
            env: env.to_string(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    /// `<root>/<env>`
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.env)
    }

    pub fn state_file(&self) -> PathBuf {
        self.path().join("state.json")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.path().join("backups")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.path().join("journal")
    }

    pub fn journal_file(&self, plan_digest: &str) -> Result<PathBuf, StateError> {
        Ok(self
            .journal_dir()
            .join(format!("{}.jsonl", digest_file_stem(plan_digest)?)))
    }

    /// Plans made implicitly by `apply` without a plan file, kept so they can be resumed.
    pub fn plans_dir(&self) -> PathBuf {
        self.path().join("plans")
    }

    /// `plans/<digest-hex>.json`, where `apply` without a plan file keeps the plan it made.
    pub fn plan_file(&self, plan_digest: &str) -> Result<PathBuf, StateError> {
        Ok(self
            .plans_dir()
            .join(format!("{}.json", digest_file_stem(plan_digest)?)))
    }

    pub fn audit_file(&self) -> PathBuf {
        self.path().join("audit.jsonl")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.path().join("lock")
    }

    /// Who holds the lock, for the error message of whoever is refused.
    pub fn lock_holder_file(&self) -> PathBuf {
        self.path().join("lock.holder")
    }

    /// Creates `<root>/<env>` and its `.gitignore` (owner-only). Subdirectories are created
    /// by whichever writer first needs them.
    pub fn create(&self) -> Result<(), FileError> {
        create_private_dir_all(&self.path())?;
        write_atomic(&self.path().join(".gitignore"), GITIGNORE.as_bytes())?;
        Ok(())
    }
}

/// The part of a plan digest used in file names: the hex after an optional `sha256:` prefix.
/// Refuses anything else, so a crafted plan file cannot point the journal outside its folder.
pub fn digest_file_stem(digest: &str) -> Result<&str, StateError> {
    let stem = digest.strip_prefix("sha256:").unwrap_or(digest);
    if stem.len() >= 8 && stem.len() <= 128 && stem.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(stem)
    } else {
        Err(StateError::InvalidName(format!(
            "`{digest}` is not a plan digest (expected hexadecimal sha256, optionally prefixed `sha256:`)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_documented_layout() {
        let d = StateDir::new("state", "prod").unwrap();
        assert_eq!(d.state_file(), Path::new("state/prod/state.json"));
        assert_eq!(
            d.journal_file("sha256:00ff00ff").unwrap(),
            Path::new("state/prod/journal/00ff00ff.jsonl")
        );
        assert_eq!(d.audit_file(), Path::new("state/prod/audit.jsonl"));
        assert_eq!(
            d.plan_file("00ff00ff").unwrap(),
            Path::new("state/prod/plans/00ff00ff.json")
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        for env in ["", "..", "../prod", "a/b", ".hidden", "pr od"] {
            assert!(StateDir::new("state", env).is_err(), "{env:?}");
        }
        let d = StateDir::new("state", "prod").unwrap();
        for digest in ["../../etc/passwd", "abc", "sha256:", "sha256:zzzzzzzz"] {
            assert!(d.journal_file(digest).is_err(), "{digest:?}");
        }
    }
}
