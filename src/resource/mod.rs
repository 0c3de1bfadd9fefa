//! The normalized resource model both sides of a plan are read into, so that "equal" means
//! equal: lists sorted, defaults filled in, `null` and empty treated alike.
//!
//! A field that is `None` on the desired side is *not managed* (the config leaves it to others);
//! on the live side it is *unknown* (the API did not return it) and never a reason to change.

pub mod desired;
pub mod documents;
pub mod live;
pub mod write_only;

use std::collections::BTreeSet;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::kinds::Spec;
use crate::model::Address;
use crate::plan::digest::PlanDigest;

/// The form of a flow or theme document, kept so it is exported, compared and imported as the
/// file has it (docs/design.md §2, Flow and theme documents).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DocForm {
    V1,
    V2,
}

/// Sorted, deduplicated copy of a list of names.
pub fn sorted_set(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Canonical JSON text: object keys sorted (serde_json's map is ordered), no insignificant
/// whitespace. Used for fingerprints and digests, so equal values give equal bytes.
pub fn canonical_json(v: &Value) -> String {
    serde_json::to_string(&crate::util::json::Sorted(v))
        .expect("a serde_json::Value always serializes")
}

/// `sha256:<hex>` of the canonical JSON of a live object.
pub fn fingerprint(v: &Value) -> String {
    PlanDigest::of(canonical_json(v).as_bytes()).to_string()
}

/// Treat `null`, `""`, `[]`, `{}`, `0` and `false` alike: Descope omits default-valued fields in
/// some answers and sends them in others.
pub fn is_default_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Does the live object carry every field of `body` with the same value (defaults alike)?
/// Used to decide whether a write already took effect.
pub fn body_matches(live: &Value, body: &Value) -> bool {
    match (live, body) {
        (Value::Object(l), Value::Object(b)) => b.iter().all(|(k, bv)| match l.get(k) {
            Some(lv) => value_matches(lv, bv),
            None => is_default_value(bv),
        }),
        _ => value_matches(live, body),
    }
}

fn value_matches(live: &Value, want: &Value) -> bool {
    if is_default_value(live) && is_default_value(want) {
        return true;
    }
    match (live, want) {
        (Value::Array(l), Value::Array(w)) => {
            // Descope does not promise list order; compare as sets of canonical texts.
            let l: BTreeSet<String> = l.iter().map(canonical_json).collect();
            let w: BTreeSet<String> = w.iter().map(canonical_json).collect();
            l == w
        }
        (Value::Object(_), Value::Object(_)) => {
            body_matches(live, want) && body_matches(want, live)
        }
        _ => live == want,
    }
}

/// Remove keys whose values are defaults, recursively, so two forms of "nothing" compare equal.
pub fn strip_defaults(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                let s = strip_defaults(v);
                if !is_default_value(&s) {
                    out.insert(k.clone(), s);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_defaults).collect()),
        other => other.clone(),
    }
}

/// A resource as the config wants it.
#[derive(Debug, Clone)]
pub struct DesiredResource {
    pub address: Address,
    /// The kind's typed spec (only its own kind module looks inside).
    pub spec: Arc<dyn Spec>,
    /// Addresses that must exist before this one can be created or updated.
    pub depends_on: Vec<Address>,
    pub protect: bool,
    pub delete_cascade: bool,
    pub ignore_changes: Vec<String>,
}

impl DesiredResource {
    pub fn new(
        address: Address,
        spec: impl Spec,
        depends_on: Vec<Address>,
        protect: bool,
        delete_cascade: bool,
        ignore_changes: Vec<String>,
    ) -> Self {
        DesiredResource {
            address,
            spec: Arc::new(spec),
            depends_on,
            protect,
            delete_cascade,
            ignore_changes,
        }
    }

    /// The spec as its kind's own type.
    pub fn spec<T: Spec>(&self) -> &T {
        crate::kinds::spec_of::<T>(self.spec.as_ref())
            .expect("a kind only handles resources of its own kind")
    }

    /// `ignore_changes` names this field.
    pub fn ignores(&self, field: &str) -> bool {
        self.ignore_changes.iter().any(|f| f == field)
    }
}

/// A resource as the live project has it.
#[derive(Debug, Clone)]
pub struct LiveResource {
    pub address: Address,
    pub spec: Arc<dyn Spec>,
    /// The object as the API returned it (secret values replaced by their stand-ins), as its
    /// JSON text: a `Value` of a 17-field tenant takes about 2.5 KB, its text 350 bytes, and a
    /// plan of 50k unchanged tenants reads `raw` only for the fingerprint, taken up front.
    raw: Arc<str>,
    fingerprint: HeldFingerprint,
    /// Descope's own (system-default permission, built-in role): never touched.
    pub system: bool,
}

impl LiveResource {
    pub fn new(address: Address, spec: impl Spec, raw: Value, system: bool) -> Self {
        let text = serde_json::to_string(&raw)
            .expect("a serde_json::Value always serializes")
            .into();
        Self::with_text(address, spec, &raw, text, system)
    }

    /// `new` for an object whose text is at hand (`LiveSnapshot::list_with_text`): kept as is,
    /// shared rather than written again, since `raw()` only ever parses it.
    pub fn with_text(
        address: Address,
        spec: impl Spec,
        raw: &Value,
        text: Arc<str>,
        system: bool,
    ) -> Self {
        let fingerprint = HeldFingerprint::new(crate::kinds::of(address.kind()).fingerprint(raw));
        LiveResource {
            address,
            spec: Arc::new(spec),
            raw: text,
            fingerprint,
            system,
        }
    }

    /// The object as the API returned it (secret values replaced by their stand-ins): the
    /// fingerprint is taken over this, update bodies start from it.
    pub fn raw(&self) -> Value {
        serde_json::from_str(&self.raw).expect("text serde_json wrote parses")
    }

    pub fn spec<T: Spec>(&self) -> &T {
        crate::kinds::spec_of::<T>(self.spec.as_ref())
            .expect("a kind only handles resources of its own kind")
    }

    pub fn fingerprint(&self) -> String {
        match &self.fingerprint {
            HeldFingerprint::Sha256(bytes) => PlanDigest::from_hash(bytes).to_string(),
            HeldFingerprint::Text(text) => text.to_string(),
        }
    }
}

/// A fingerprint as a live resource holds it: the 32 bytes of a sha256 (every kind's), 100 bytes
/// less per resource than its text; any other text as it is.
#[derive(Debug, Clone)]
enum HeldFingerprint {
    Sha256([u8; 32]),
    Text(Arc<str>),
}

impl HeldFingerprint {
    /// `sha256:<64 lowercase hex>`, the form plan digests have, is kept as its bytes.
    fn new(text: String) -> Self {
        match PlanDigest::parse(&text) {
            Ok(d) => HeldFingerprint::Sha256(d.hash()),
            Err(_) => HeldFingerprint::Text(text.into()),
        }
    }
}

/// Sorted, deduplicated addresses.
pub fn dedup(v: Vec<Address>) -> Vec<Address> {
    v.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// A fingerprint held as bytes reads back as the text it was made from; other text as is.
    #[test]
    fn held_fingerprints_read_back_as_their_text() {
        let sha = fingerprint(&json!({"a": 1}));
        match HeldFingerprint::new(sha.clone()) {
            HeldFingerprint::Sha256(bytes) => {
                assert_eq!(PlanDigest::from_hash(&bytes).as_str(), sha)
            }
            other => panic!("a sha256 is held as bytes: {other:?}"),
        }
        for odd in ["etag:5", "sha256:ABCD", "sha256:12"] {
            assert!(
                matches!(HeldFingerprint::new(odd.into()), HeldFingerprint::Text(t) if &*t == odd)
            );
        }
    }

    #[test]
    fn defaults_compare_alike() {
        assert!(body_matches(
            &json!({"id":"a","name":"A","selfProvisioningDomains":["b.com","a.com"],"createdTime":5}),
            &json!({"id":"a","name":"A","selfProvisioningDomains":["a.com","b.com"],"disabled":false,"customAttributes":{}})
        ));
        assert!(!body_matches(
            &json!({"id":"a","name":"A"}),
            &json!({"id":"a","name":"B"})
        ));
        assert!(!body_matches(
            &json!({"customAttributes":{"plan":"gold","x":1}}),
            &json!({"customAttributes":{"plan":"gold"}})
        ));
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":[1,2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":[1,2],"b":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":[2,1],"b":1}"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
