//! `state.json`: which addresses this tool manages in one environment, the fingerprint of each
//! as last applied, their `protect` flags, and the digests of plans fully applied. It is meant
//! to be committed, so it is written canonically (sorted keys, fixed layout) and only when its
//! content changes. It never holds secret values: fingerprints are hashes of objects whose
//! secrets were already replaced by their stand-ins.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::store::WriteMode;
use super::{StateDir, StateError};
use crate::model::Address;
use crate::util::atomic::WriteOutcome;
use crate::util::json::to_canonical_pretty;
use crate::util::timestamp::Timestamp;

/// Bumped on any change to the layout; see `docs/state-format.md` for the policy.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The file's name in the environment's folder.
pub const STATE_FILE: &str = "state.json";

const HINT: &str = "Restore it from git (`git checkout -- <file>`) or fix the JSON by hand; \
    deleting it makes every resource unmanaged until re-imported";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub format_version: u32,
    pub environment: String,
    /// `None` until the first apply binds the environment to a project.
    pub project_id: Option<String>,
    pub resources: BTreeMap<Address, ManagedResource>,
    /// Plans whose every operation succeeded, oldest first: such a plan is never applied again.
    pub applied_plans: Vec<AppliedPlan>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedResource {
    /// sha256 of the canonical live object after the last apply (docs/design.md §2,
    /// "Fingerprints").
    pub fingerprint: String,
    /// Remembered until an apply of a config that sets it to false.
    pub protect: bool,
    /// Tenant custom attributes whose live value came from `${secret:VAR}` in the last apply
    /// that wrote them (attribute → VAR; names only, never values). Plans and applies keep
    /// masking them after the config stops naming them (a removed or pruned tenant, a dropped
    /// attribute), so the value never lands in a plan's `before` or a backup. Left out when
    /// empty, so files without secrets are unchanged.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// The tenant's `delete_cascade: true`, remembered like `protect`: removing the tenant from
    /// the config removes that setting too, yet the delete it causes must honour it. Left out
    /// when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_cascade: bool,
    /// The live object as last applied or imported (secret values as their stand-ins), for
    /// `state show`. Left out for flows and the theme, and in files written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<RecordedObject>,
    /// Write-only fields (values the API accepts but never returns, `ResourceKind::
    /// write_only_fields`) as the last successful apply of this address sent them: pointer →
    /// the configured value, which for a secret is its `{"secret": VAR, "hmac": …}`
    /// stand-in, never the value. Planning compares the config against this record instead of
    /// the live object. Left out when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub write_only: BTreeMap<String, serde_json::Value>,
}

/// A live object as state.json records it, held as JSON text: a plan reads state.json for
/// its ownership records and never these (10k recorded tenants as parsed trees took 20 MB, and
/// 50k took a second to parse), so they are only scanned when the file is read, and parsed
/// when `state show` or a write needs them. Written as the object it is.
#[derive(Debug, Clone)]
pub struct RecordedObject(Box<str>);

impl RecordedObject {
    pub fn new(object: &serde_json::Value) -> Self {
        RecordedObject(object.to_string().into())
    }

    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).expect("JSON text read or written by serde_json parses")
    }
}

/// Equal when they hold the same JSON, however it was laid out.
impl PartialEq for RecordedObject {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

impl Eq for RecordedObject {}

impl Serialize for RecordedObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecordedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(|raw| RecordedObject(raw.into()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedPlan {
    pub digest: String,
    pub applied_at: Timestamp,
}

impl StateFile {
    /// The state of an environment nothing was ever applied to.
    pub fn empty(environment: &str) -> Self {
        StateFile {
            format_version: STATE_FORMAT_VERSION,
            environment: environment.to_string(),
            project_id: None,
            resources: BTreeMap::new(),
            applied_plans: Vec::new(),
        }
    }

    /// Reads `state.json`; a missing file is an empty state (a fresh clone before any apply).
    pub fn load(dir: &StateDir) -> Result<Self, StateError> {
        let path = dir.state_file();
        let bytes = match dir.store().read(&dir.key(STATE_FILE))? {
            Some(b) => b,
            None => return Ok(Self::empty(dir.env())),
        };
        Self::from_bytes(&path, dir.env(), &bytes)
    }

    /// Parses the bytes of a `state.json` of environment `env` (read from `path`, for
    /// messages), with the checks `load` makes.
    pub fn from_bytes(path: &Path, env: &str, bytes: &[u8]) -> Result<Self, StateError> {
        let path = path.to_path_buf();
        let text = std::str::from_utf8(bytes)
            .map_err(|e| StateError::corrupt(&path, "state file", e, HINT))?;
        // Look at the version before the strict parse, so a file from a newer tool says
        // "upgrade" instead of complaining about fields it does not know. The top level only:
        // the records stay text until the typed parse.
        let top: HashMap<String, &RawValue> = serde_json::from_str(text)
            .map_err(|e| StateError::corrupt(&path, "state file", e, HINT))?;
        let found = top
            .get("format_version")
            .and_then(|v| v.get().parse::<u64>().ok());
        match found {
            Some(v) if v > u64::from(STATE_FORMAT_VERSION) => {
                return Err(StateError::NewerFormat {
                    path,
                    found: v,
                    supported: STATE_FORMAT_VERSION,
                })
            }
            Some(_) => {}
            None => {
                return Err(StateError::corrupt(
                    &path,
                    "state file",
                    "it has no numeric `format_version`",
                    HINT,
                ))
            }
        }
        drop(top);
        let state: StateFile = serde_json::from_str(text)
            .map_err(|e| StateError::corrupt(&path, "state file", e, HINT))?;
        if state.environment != env {
            return Err(StateError::WrongEnvironment {
                path,
                found: state.environment,
                expected: env.to_string(),
            });
        }
        Ok(state)
    }

    /// Writes `state.json` atomically, only if its content changed. On object storage the
    /// write is compare-and-swap against the version this process loaded, so a writer that
    /// got past the lock is refused ([`StateError::Conflict`]) instead of overwritten.
    pub fn save(&self, dir: &StateDir) -> Result<WriteOutcome, StateError> {
        dir.prepare()?;
        let path = dir.state_file();
        let mut to_write = self.clone();
        to_write.format_version = STATE_FORMAT_VERSION;
        let text = to_canonical_pretty(&to_write).map_err(|e| {
            StateError::corrupt(&path, "state file", e, "this is a bug; please report it")
        })?;
        dir.store()
            .write(&dir.key(STATE_FILE), text.as_bytes(), WriteMode::Swap)
    }

    /// Ties the state to the project it describes on first use, and refuses a different one
    /// later: managed addresses of project A must never drive deletions in project B.
    pub fn bind_project(&mut self, dir: &StateDir, project_id: &str) -> Result<(), StateError> {
        match &self.project_id {
            None => {
                self.project_id = Some(project_id.to_string());
                Ok(())
            }
            Some(p) if p == project_id => Ok(()),
            Some(p) => Err(StateError::WrongProject {
                path: dir.state_file(),
                environment: self.environment.clone(),
                recorded: p.clone(),
                requested: project_id.to_string(),
            }),
        }
    }

    pub fn is_managed(&self, address: &Address) -> bool {
        self.resources.contains_key(address)
    }

    pub fn get(&self, address: &Address) -> Option<&ManagedResource> {
        self.resources.get(address)
    }

    pub fn set_managed(&mut self, address: Address, fingerprint: impl Into<String>, protect: bool) {
        let (secrets, delete_cascade, attributes, write_only) = self
            .resources
            .get(&address)
            .map(|r| {
                (
                    r.secrets.clone(),
                    r.delete_cascade,
                    r.attributes.clone(),
                    r.write_only.clone(),
                )
            })
            .unwrap_or_default();
        self.resources.insert(
            address,
            ManagedResource {
                fingerprint: fingerprint.into(),
                protect,
                secrets,
                delete_cascade,
                attributes,
                write_only,
            },
        );
    }

    /// What a plan needs of this state: which addresses are managed and how (protect,
    /// cascade, secrets, write-only values), without the recorded objects and fingerprints,
    /// which only `state show`, `drift` and `apply` read. Never written back.
    pub fn into_ownership_only(mut self) -> Self {
        for r in self.resources.values_mut() {
            r.attributes = None;
            r.fingerprint = String::new();
        }
        self
    }

    /// Records the live object a managed address now has (see `ManagedResource::attributes`).
    pub fn set_attributes(&mut self, address: &Address, attributes: Option<serde_json::Value>) {
        if let Some(r) = self.resources.get_mut(address) {
            r.attributes = attributes.as_ref().map(RecordedObject::new);
        }
    }

    /// Records the config's `delete_cascade` for a managed tenant (see `ManagedResource`).
    pub fn set_delete_cascade(&mut self, address: &Address, cascade: bool) {
        if let Some(r) = self.resources.get_mut(address) {
            r.delete_cascade = cascade;
        }
    }

    /// Records which custom attributes of a managed tenant now hold secret values.
    pub fn set_secrets(&mut self, address: &Address, secrets: BTreeMap<String, String>) {
        if let Some(r) = self.resources.get_mut(address) {
            r.secrets = secrets;
        }
    }

    /// Records the write-only values the last successful write of a managed address sent.
    pub fn set_write_only(
        &mut self,
        address: &Address,
        values: BTreeMap<String, serde_json::Value>,
    ) {
        if let Some(r) = self.resources.get_mut(address) {
            r.write_only = values;
        }
    }

    /// Stops managing `address` without touching the live object (`state rm`).
    pub fn forget(&mut self, address: &Address) -> Option<ManagedResource> {
        self.resources.remove(address)
    }

    pub fn protected(&self, address: &Address) -> bool {
        self.resources.get(address).is_some_and(|r| r.protect)
    }

    /// Records that every operation of the plan succeeded. Idempotent: the first time counts.
    pub fn mark_applied(&mut self, digest: &str, at: Timestamp) {
        if !self.was_applied(digest) {
            self.applied_plans.push(AppliedPlan {
                digest: digest.to_string(),
                applied_at: at,
            });
        }
    }

    pub fn was_applied(&self, digest: &str) -> bool {
        self.applied_plans.iter().any(|p| p.digest == digest)
    }
}
