//! `backups/<timestamp>-<digest8>.json`: the live objects an apply is about to change or
//! delete, written before its first write, so `backup restore` can make a plan that puts them
//! back. The format is documented in `docs/state-format.md` and versioned; objects are kept
//! as the API returned them, with secret fields already replaced by their stand-ins by the
//! caller (a backup never holds a secret value).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dir::digest_file_stem;
use super::store::WriteMode;
use super::{StateDir, StateError};
use crate::model::Address;
use crate::util::atomic::FileError;
use crate::util::json::to_canonical_pretty;
use crate::util::timestamp::Timestamp;

pub const BACKUP_FORMAT: &str = "descope-mgmt-backup";
pub const BACKUP_FORMAT_VERSION: u32 = 1;

/// The folder of backups in the environment's folder.
pub const BACKUPS_DIR: &str = "backups";

const HINT: &str = "Move it out of the backups folder if it is not a descope-mgmt backup; \
    otherwise restore it from wherever it was copied";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub format: String,
    pub format_version: u32,
    pub created_at: Timestamp,
    pub environment: String,
    pub project_id: String,
    pub plan_digest: String,
    /// Sorted by address.
    pub resources: Vec<BackedUpResource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackedUpResource {
    pub address: Address,
    /// The live object exactly as read (after secret stand-ins were put in).
    pub object: serde_json::Value,
}

/// What `backup list` shows without loading every object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub created_at: Timestamp,
    pub environment: String,
    pub plan_digest: String,
    pub addresses: Vec<Address>,
}

impl Backup {
    pub fn new(
        environment: &str,
        project_id: &str,
        plan_digest: &str,
        mut resources: Vec<BackedUpResource>,
    ) -> Self {
        resources.sort_by(|a, b| a.address.cmp(&b.address));
        Backup {
            format: BACKUP_FORMAT.to_string(),
            format_version: BACKUP_FORMAT_VERSION,
            created_at: Timestamp::now(),
            environment: environment.to_string(),
            project_id: project_id.to_string(),
            plan_digest: plan_digest.to_string(),
            resources,
        }
    }
}

/// Writes `backup` into `dir`'s `backups/` and returns its path. Never overwrites an earlier
/// backup: a second one in the same second for the same plan gets a `-2`, `-3`… suffix.
pub fn write_backup(dir: &StateDir, backup: &Backup) -> Result<PathBuf, StateError> {
    dir.prepare()?;
    let stem = digest_file_stem(&backup.plan_digest)?;
    let base = format!("{}-{}", backup.created_at.compact(), &stem[..8]);
    let text = to_canonical_pretty(backup).map_err(|e| {
        StateError::corrupt(
            dir.backups_dir(),
            "backup",
            e,
            "this is a bug; please report it",
        )
    })?;
    let mut n = 1;
    loop {
        let name = match n {
            1 => format!("{base}.json"),
            n => format!("{base}-{n}.json"),
        };
        let key = dir.key(&format!("{BACKUPS_DIR}/{name}"));
        match dir.store().write(&key, text.as_bytes(), WriteMode::Create) {
            Ok(_) => return Ok(dir.store().location(&key)),
            Err(StateError::AlreadyExists { .. }) => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Reads one backup: `path` is a file on this machine, or a backup's location in `dir`'s
/// store (what `backup list` and `write_backup` show).
pub fn load_backup_at(dir: &StateDir, path: &Path) -> Result<Backup, StateError> {
    parse_backup(path, &read_backup_bytes(dir, path)?)
}

/// The bytes of one backup, from this machine or `dir`'s store (a restore plan names its
/// backup by their digest).
pub fn read_backup_bytes(dir: &StateDir, path: &Path) -> Result<Vec<u8>, StateError> {
    if !dir.store().is_local() {
        if let Ok(name) = path.strip_prefix(dir.backups_dir()) {
            let key = dir.key(&format!("{BACKUPS_DIR}/{}", name.display()));
            return dir.store().read(&key)?.ok_or_else(|| StateError::Storage {
                action: "read",
                location: path.display().to_string(),
                detail: "there is no such backup (see `descope-mgmt backup list`)".into(),
            });
        }
    }
    Ok(fs::read(path).map_err(|e| FileError::new("read", path, e))?)
}

/// Reads and checks one backup file.
pub fn load_backup(path: &Path) -> Result<Backup, StateError> {
    let bytes = fs::read(path).map_err(|e| FileError::new("read", path, e))?;
    parse_backup(path, &bytes)
}

fn parse_backup(path: &Path, bytes: &[u8]) -> Result<Backup, StateError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| StateError::corrupt(path, "backup", e, HINT))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| StateError::corrupt(path, "backup", e, HINT))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(BACKUP_FORMAT) {
        return Err(StateError::corrupt(
            path,
            "backup",
            format!("its `format` is not \"{BACKUP_FORMAT}\""),
            HINT,
        ));
    }
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(BACKUP_FORMAT_VERSION) => {
            return Err(StateError::NewerFormat {
                path: path.to_path_buf(),
                found: v,
                supported: BACKUP_FORMAT_VERSION,
            })
        }
        Some(_) => {}
        None => {
            return Err(StateError::corrupt(
                path,
                "backup",
                "it has no numeric `format_version`",
                HINT,
            ))
        }
    }
    serde_json::from_value(value).map_err(|e| StateError::corrupt(path, "backup", e, HINT))
}

/// Every backup of the environment, oldest first. Hidden files
/// (interrupted writes) and non-JSON files are ignored; a damaged backup is an error naming it.
pub fn list_backups(dir: &StateDir) -> Result<Vec<BackupSummary>, StateError> {
    let backups = dir.backups_dir();
    let mut out = Vec::new();
    for name in dir.store().list(&dir.key(BACKUPS_DIR))? {
        if !name.ends_with(".json") {
            continue;
        }
        let key = dir.key(&format!("{BACKUPS_DIR}/{name}"));
        let path = backups.join(&name);
        let Some(bytes) = dir.store().read(&key)? else {
            continue;
        };
        let b = parse_backup(&path, &bytes)?;
        out.push(BackupSummary {
            path,
            created_at: b.created_at,
            environment: b.environment,
            plan_digest: b.plan_digest,
            addresses: b.resources.into_iter().map(|r| r.address).collect(),
        });
    }
    // Within one second, `X.json` came before `X-2.json`, which came before `X-10.json`: the
    // shorter name is the older one.
    let key = |s: &BackupSummary| (s.created_at, s.path.as_os_str().len(), s.path.clone());
    out.sort_by_key(key);
    Ok(out)
}
