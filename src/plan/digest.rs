//! The hashes a plan file holds, as types: the plan's own digest (`sha256:<hex>`), the live
//! fingerprint of a resource, and what apply expects to find live at an address. Their text
//! on disk is what earlier versions wrote (docs/plan-format.md), so the format does not change.

use std::fmt;

use sha2::{Digest, Sha256};

const PREFIX: &str = "sha256:";

/// `sha256:<64 lowercase hex>`: the digest of a plan file (the one place that formats and
/// parses it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlanDigest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a plan digest (expected sha256:<64 hexadecimal digits>)")]
pub struct DigestError(pub String);

impl PlanDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> PlanDigest {
        Self::from_hash(&Sha256::digest(bytes))
    }

    /// The digest whose 32 bytes of sha256 are `hash` (computed elsewhere, e.g. streamed).
    pub fn from_hash(hash: &[u8]) -> PlanDigest {
        PlanDigest(format!("{PREFIX}{}", hex::encode(hash)))
    }

    /// The 32 bytes of sha256 this digest writes in hexadecimal.
    pub fn hash(&self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(self.hex(), &mut bytes).expect("a parsed digest is 64 hex digits");
        bytes
    }

    pub fn parse(text: &str) -> Result<PlanDigest, DigestError> {
        let hex = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| DigestError(text.to_string()))?;
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(PlanDigest(text.to_string()))
        } else {
            Err(DigestError(text.to_string()))
        }
    }

    /// Stands in for the digest while a plan is being sealed (the digest is computed over the
    /// file without this field).
    pub fn unsealed() -> PlanDigest {
        PlanDigest(format!("{PREFIX}{}", "0".repeat(64)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hexadecimal part, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }
}

impl std::ops::Deref for PlanDigest {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PlanDigest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlanDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for PlanDigest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PlanDigest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

crate::util::text_serde::serde_as_text!(PlanDigest, PlanDigest::parse);

/// The fingerprint of a live object as its kind computes it (a hash of its normalized JSON, or
/// a document's version): compared, never interpreted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn new(text: impl Into<String>) -> Fingerprint {
        Fingerprint(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What apply expects to find live at an address: nothing, something, or exactly the object
/// planned against. On disk: `"absent"`, `"exists"`, or the fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expected {
    Absent,
    Exists,
    Is(Fingerprint),
}

impl Expected {
    pub const ABSENT: &'static str = "absent";
    pub const EXISTS: &'static str = "exists";

    /// What a live object (or its absence) is, as a plan records it.
    pub fn of(live: Option<&crate::resource::LiveResource>) -> Expected {
        match live {
            Some(l) => Expected::Is(Fingerprint::new(l.fingerprint())),
            None => Expected::Absent,
        }
    }

    /// Does the live object (or its absence) meet this expectation?
    pub fn matches(&self, live: Option<&crate::resource::LiveResource>) -> bool {
        match (self, live) {
            (Expected::Absent, None) => true,
            (Expected::Exists, Some(_)) => true,
            (Expected::Is(fp), Some(l)) => fp.as_str() == l.fingerprint(),
            _ => false,
        }
    }

    pub fn parse(text: &str) -> Result<Expected, String> {
        Ok(match text {
            Expected::ABSENT => Expected::Absent,
            Expected::EXISTS => Expected::Exists,
            "" => return Err("an empty fingerprint".into()),
            fp => Expected::Is(Fingerprint::new(fp)),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Expected::Absent => Expected::ABSENT,
            Expected::Exists => Expected::EXISTS,
            Expected::Is(fp) => fp.as_str(),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::util::text_serde::serde_as_text!(Expected, Expected::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_format_and_parse_in_one_place() {
        let d = PlanDigest::of(b"x");
        assert_eq!(PlanDigest::parse(d.as_str()).unwrap(), d);
        assert_eq!(d.hex().len(), 64);
        for bad in [
            "",
            "sha256:",
            "sha256:ABC",
            "md5:00",
            &format!("sha256:{}", "G".repeat(64)),
        ] {
            assert!(PlanDigest::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PlanDigest::from_hash(&d.hash()), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<PlanDigest>(&json).unwrap(), d);
    }

    #[test]
    fn expectations_keep_their_text_on_disk() {
        for (e, text) in [
            (Expected::Absent, "\"absent\""),
            (Expected::Exists, "\"exists\""),
            (Expected::Is(Fingerprint::new("sha256:ab")), "\"sha256:ab\""),
        ] {
            assert_eq!(serde_json::to_string(&e).unwrap(), text);
            assert_eq!(serde_json::from_str::<Expected>(text).unwrap(), e);
        }
        assert!(serde_json::from_str::<Expected>("\"\"").is_err());
        assert!(serde_json::from_str::<Expected>("3").is_err());
    }
}
