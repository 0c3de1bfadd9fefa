//! Where each file of one environment's state lives: `<env>/…` in its store (the local
//! `<state-dir>/` or a bucket's `<prefix>`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::store::{LocalStore, StateStore};
use super::StateError;

/// One environment's state directory. Building it checks that the environment name and plan
/// digests are safe to use in paths and keys (they come from the command line and from plan
/// files).
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
    env: String,
    store: Arc<dyn StateStore>,
}

impl PartialEq for StateDir {
    fn eq(&self, other: &Self) -> bool {
        self.env == other.env && self.root == other.root
    }
}

impl Eq for StateDir {}

impl StateDir {
    /// The environment's directory under `root` on this machine.
    pub fn new(root: impl Into<PathBuf>, env: &str) -> Result<Self, StateError> {
        let root = root.into();
        Self::with_store(Arc::new(LocalStore::new(root)), env)
    }

    /// The environment's state where the configuration says: `settings.state` when it names
    /// object storage, else the directory `root` on this machine.
    pub fn open(
        root: impl Into<PathBuf>,
        env: &str,
        settings: Option<&crate::config::StateSettings>,
        vars: &crate::config::VarSource,
    ) -> Result<Self, StateError> {
        match settings.and_then(super::remote::RemoteSpec::from_settings) {
            // Opening sends no request: a missing bucket or credential shows on first use.
            Some(spec) => Self::with_store(
                Arc::new(super::remote::ObjectStateStore::open(spec, vars)?),
                env,
            ),
            None => Self::new(root, env),
        }
    }

    /// The environment's state in `store` (local directory or object storage).
    pub fn with_store(store: Arc<dyn StateStore>, env: &str) -> Result<Self, StateError> {
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
            root: store.location(""),
            env: env.to_string(),
            store,
        })
    }

    /// Where the store keeps every environment: a directory, or `s3://bucket/prefix`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The store's key of `name` (a path inside the environment's folder).
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.env)
    }

    /// The digest part of journal and implicit plan names (checked: hex only).
    pub fn journal_key(&self, plan_digest: &str) -> Result<String, StateError> {
        Ok(self.key(&format!("journal/{}.jsonl", digest_file_stem(plan_digest)?)))
    }

    pub fn plan_key(&self, plan_digest: &str) -> Result<String, StateError> {
        Ok(self.key(&format!("plans/{}.json", digest_file_stem(plan_digest)?)))
    }

    /// The bytes of a plan `apply` saved under `plans/`, given the location it printed (a
    /// file on this machine is read as a file).
    pub fn read_saved_plan(&self, path: &Path) -> Result<Vec<u8>, StateError> {
        if !self.store.is_local() {
            if let Ok(name) = path.strip_prefix(self.plans_dir()) {
                let key = self.key(&format!("plans/{}", name.display()));
                return self.store.read(&key)?.ok_or_else(|| StateError::Storage {
                    action: "read",
                    location: path.display().to_string(),
                    detail: "there is no such plan".into(),
                });
            }
        }
        std::fs::read(path).map_err(|e| crate::util::atomic::FileError::new("read", path, e).into())
    }

    /// Writes a plan that `apply` made itself under `plans/` and says where it is.
    pub fn save_plan(&self, plan_digest: &str, bytes: &[u8]) -> Result<PathBuf, StateError> {
        let key = self.plan_key(plan_digest)?;
        self.prepare()?;
        self.store
            .write(&key, bytes, super::store::WriteMode::Overwrite)?;
        Ok(self.store.location(&key))
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    /// `<root>/<env>`, as shown to people.
    pub fn path(&self) -> PathBuf {
        self.store.location(&self.env)
    }

    fn at(&self, name: &str) -> PathBuf {
        self.store.location(&self.key(name))
    }

    pub fn state_file(&self) -> PathBuf {
        self.at("state.json")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.at("backups")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.at("journal")
    }

    pub fn journal_file(&self, plan_digest: &str) -> Result<PathBuf, StateError> {
        Ok(self.store.location(&self.journal_key(plan_digest)?))
    }

    /// Plans made implicitly by `apply` without a plan file, kept so they can be resumed.
    pub fn plans_dir(&self) -> PathBuf {
        self.at("plans")
    }

    /// `plans/<digest-hex>.json`, where `apply` without a plan file keeps the plan it made.
    pub fn plan_file(&self, plan_digest: &str) -> Result<PathBuf, StateError> {
        Ok(self.store.location(&self.plan_key(plan_digest)?))
    }

    pub fn audit_file(&self) -> PathBuf {
        self.at("audit.jsonl")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.at("lock")
    }

    /// Who holds the lock, for the error message of whoever is refused (local directories).
    pub fn lock_holder_file(&self) -> PathBuf {
        self.at("lock.holder")
    }

    /// Creates `<root>/<env>` and its `.gitignore` (owner-only) on a local disk; nothing on
    /// object storage. Subdirectories are created by whichever writer first needs them.
    pub fn prepare(&self) -> Result<(), StateError> {
        self.store.prepare(&self.env)
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
