//! The plan file: text JSON in one canonical form (sorted keys, two-space indentation, a final
//! newline), so it diffs well in a pull request and any edit — even whitespace — is detected.
//! `digest` is sha256 over the canonical bytes of the file without the `digest` field
//! (`created_at` is inside). Format documented in docs/plan-format.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::digest::{Expected, PlanDigest};
use super::{Action, Change};
use crate::model::Address;
use crate::secret::SecretRef;

pub const FORMAT: &str = "descope-mgmt-plan";
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub format: String,
    pub format_version: u32,
    pub tool_version: String,
    pub created_at: String,
    pub project_id: String,
    pub environment: String,
    /// sha256 of the unresolved configuration bytes (base file, then overlay).
    pub config_digest: String,
    pub options: PlanOptionsRecord,
    pub changes: Vec<Change>,
    /// Live fingerprint (or "absent") of every address a change touches or the config names.
    pub fingerprints: BTreeMap<Address, Expected>,
    /// "exists" for every address the changes need but do not touch.
    pub dependencies: BTreeMap<Address, Expected>,
    /// Every secret stand-in in the bodies; apply re-resolves and checks each.
    pub secrets: Vec<SecretRef>,
    /// Live resources this tool does not manage (information only).
    pub unmanaged: Vec<Address>,
    /// Managed addresses gone from both config and live project: dropped from state on apply.
    pub forget: Vec<Address>,
    /// Every address the config names (within `--target`): managed once it exists live.
    pub config_addresses: Vec<Address>,
    /// Addresses the config marks `protect: true` (remembered in state.json by apply).
    pub protected: Vec<Address>,
    /// Tenants the config marks `delete_cascade: true` (remembered in state.json by apply, so
    /// a later removal from the config still deletes with cascade).
    pub delete_cascade: Vec<Address>,
    pub summary: Summary,
    pub digest: PlanDigest,
}

/// A plan file whose bytes were read from disk and found canonical, of a supported version and
/// matching their digest. Only [`PlanFile::read_verified`] (and its text form,
/// [`PlanFile::parse_verified`]) make one, and `ops::apply` takes nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedPlan {
    plan: PlanFile,
    path: PathBuf,
}

impl VerifiedPlan {
    /// Where it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn into_inner(self) -> PlanFile {
        self.plan
    }
}

impl std::ops::Deref for VerifiedPlan {
    type Target = PlanFile;
    fn deref(&self) -> &PlanFile {
        &self.plan
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOptionsRecord {
    pub targets: Vec<String>,
    pub prune: Vec<String>,
    pub allow_replace: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub replace: usize,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Replace => s.replace += 1,
            }
        }
        s
    }

    pub fn total(&self) -> usize {
        self.create + self.update + self.delete + self.replace
    }

    /// `Plan: 3 to create, 2 to update, 1 to delete.`, with `, 1 to replace` when there are
    /// replaces: counted once, as apply's summary counts them ("1 replaced"), not as a create
    /// plus a delete.
    pub fn line(&self) -> String {
        if self.total() == 0 {
            return "No changes. The live project matches the configuration.".to_string();
        }
        let replace = if self.replace > 0 {
            format!(", {} to replace", self.replace)
        } else {
            String::new()
        };
        format!(
            "Plan: {} to create, {} to update, {} to delete{replace}.",
            self.create, self.update, self.delete
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a descope-mgmt plan file: {detail}")]
    NotAPlan { path: String, detail: String },
    #[error("{path} was modified after it was written (its bytes are not in canonical form); run plan again")]
    NotCanonical { path: String },
    #[error("{path} was modified after it was written (digest {found} does not match its content {computed}); run plan again")]
    DigestMismatch {
        path: String,
        found: String,
        computed: String,
    },
    #[error("{path} has plan format version {found}; this descope-mgmt ({tool}) reads version {FORMAT_VERSION}; plan again with this version")]
    UnsupportedVersion {
        path: String,
        found: u32,
        tool: String,
    },
}

impl PlanFile {
    /// Canonical text of the whole file, digest included.
    pub fn to_canonical_string(&self) -> String {
        let v = serde_json::to_value(self).expect("plan files serialize");
        crate::util::json::value_to_canonical_pretty(&v)
    }

    /// Fill in `digest` from the content.
    pub fn seal(mut self) -> PlanFile {
        self.digest = PlanDigest::unsealed();
        self.digest = digest_of(&serde_json::to_value(&self).expect("plan files serialize"));
        self
    }

    /// Parse and verify form and digest (apply's first check, before any network).
    pub fn parse_verified(text: &str, path: &Path) -> Result<VerifiedPlan, PlanFileError> {
        let p = path.display().to_string();
        // The typed parse needs nothing from the checks, so it runs beside them (a 10k-change
        // plan is 11 MB: `show` of it took 0.26 s of CPU one after the other); its result is
        // used only once the bytes have passed every check.
        let (checked, typed) = std::thread::scope(|s| {
            let typed = s.spawn(|| serde_json::from_str::<PlanFile>(text));
            (check_text(text, &p), typed.join())
        });
        checked?;
        let plan = match typed {
            Ok(parsed) => parsed.map_err(|e| PlanFileError::NotAPlan {
                path: p,
                detail: e.to_string(),
            })?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok(VerifiedPlan {
            plan,
            path: path.to_path_buf(),
        })
    }

    pub fn read_verified(path: &Path) -> Result<VerifiedPlan, PlanFileError> {
        let bytes = std::fs::read(path).map_err(|source| PlanFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        // A plan file we wrote is always UTF-8: bytes that are not were edited, which is a
        // refusal (exit 3), not an unreadable file (exit 1).
        let text = String::from_utf8(bytes).map_err(|_| PlanFileError::NotCanonical {
            path: path.display().to_string(),
        })?;
        Self::parse_verified(&text, path)
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// The checks on a plan file's bytes, in the order their refusals are reported: a plan file
/// at all, of this version, canonical, matching its digest. One pass over the text; the
/// document is built only in the rare case its digest cannot be read off the text.
fn check_text(text: &str, p: &str) -> Result<(), PlanFileError> {
    let p = p.to_string();
    let keep = ["format", "format_version", "digest"];
    let read = crate::util::canonical::read_canonical(text, &keep).map_err(|e| {
        PlanFileError::NotAPlan {
            path: p.clone(),
            detail: e.to_string(),
        }
    })?;
    if read.str("format") != Some(FORMAT) {
        return Err(PlanFileError::NotAPlan {
            path: p,
            detail: format!("missing \"format\": \"{FORMAT}\""),
        });
    }
    let version = read.u64("format_version").unwrap_or(0) as u32;
    if version != FORMAT_VERSION {
        return Err(PlanFileError::UnsupportedVersion {
            path: p,
            found: version,
            tool: crate::TOOL_VERSION.to_string(),
        });
    }
    if !read.canonical {
        return Err(PlanFileError::NotCanonical { path: p });
    }
    let found = read.str("digest").unwrap_or_default().to_string();
    let computed = match digest_of_canonical_text(text) {
        Some(d) => d,
        None => {
            let value: Value = serde_json::from_str(text).map_err(|e| PlanFileError::NotAPlan {
                path: p.clone(),
                detail: e.to_string(),
            })?;
            digest_of(&value)
        }
    };
    if found != computed.as_str() {
        return Err(PlanFileError::DigestMismatch {
            path: p,
            found,
            computed: computed.to_string(),
        });
    }
    Ok(())
}

/// [`digest_of`] read off text already found canonical: the bytes without the top-level
/// `digest` line. Only the top level is indented two spaces (strings escape their newlines), and
/// `digest` sits between `dependencies` and `environment`, so dropping its line leaves exactly
/// the canonical text of the file without it; anything else (a digest that is not a string)
/// returns `None` and is serialized again.
fn digest_of_canonical_text(text: &str) -> Option<PlanDigest> {
    use sha2::{Digest, Sha256};
    let start = text.find("\n  \"digest\": \"")? + 1;
    let len = text[start..].find('\n')? + 1;
    let line = &text[start..start + len];
    let value = line.strip_prefix("  \"digest\": ")?.strip_suffix(",\n")?;
    if !(value.len() >= 2
        && value.ends_with('"')
        && !value[1..value.len() - 1].contains(['"', '\\']))
    {
        return None;
    }
    let mut h = Sha256::new();
    h.update(&text.as_bytes()[..start]);
    h.update(&text.as_bytes()[start + len..]);
    Some(PlanDigest::from_hash(&h.finalize()))
}

/// sha256 over the canonical bytes of the file without its `digest` field, hashed as they are
/// written rather than from a copy of the file without it.
fn digest_of(v: &Value) -> PlanDigest {
    use sha2::{Digest, Sha256};
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    /// The top-level object without `digest`.
    struct WithoutDigest<'a>(&'a serde_json::Map<String, Value>);
    impl Serialize for WithoutDigest<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut entries: Vec<(&String, &Value)> =
                self.0.iter().filter(|(k, _)| *k != "digest").collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut m = s.serialize_map(Some(entries.len()))?;
            for (k, v) in entries {
                m.serialize_entry(k, &crate::util::json::Sorted(v))?;
            }
            m.end()
        }
    }
    let mut h = Hashing(Sha256::new());
    match v.as_object() {
        Some(o) => serde_json::to_writer_pretty(&mut h, &WithoutDigest(o)),
        None => serde_json::to_writer_pretty(&mut h, &crate::util::json::Sorted(v)),
    }
    .expect("values serialize");
    h.0.update(b"\n");
    PlanDigest::from_hash(&h.0.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_read_off_canonical_text_is_the_digest_serialized() {
        let value = serde_json::json!({
            "changes": [{"after": {"name": "a\n  \"digest\": \"x\",\n"}}],
            "dependencies": {},
            "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "environment": "dev",
        });
        let text = crate::util::json::value_to_canonical_pretty(&value);
        assert!(
            crate::util::canonical::read_canonical(&text, &[])
                .unwrap()
                .canonical
        );
        assert_eq!(digest_of_canonical_text(&text), Some(digest_of(&value)));
        // A digest that is not a string is not read off the text.
        let odd = serde_json::json!({"digest": {"a": 1}, "environment": "dev"});
        let text = crate::util::json::value_to_canonical_pretty(&odd);
        assert_eq!(digest_of_canonical_text(&text), None);
    }
}
