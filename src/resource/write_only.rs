//! Write-only fields: values the API accepts but never returns (an OIDC client secret).
//! A kind names them as JSON pointers into its `Spec::fields()`
//! (`ResourceKind::write_only_fields`); its live spec leaves them out. state.json records, per
//! address, the value the last successful apply sent — for a secret its stand-in, never the
//! value — and planning compares the config with that record: an unchanged variable plans
//! nothing, a changed one (or no record, e.g. an adopted object) plans an update that sets it
//! (docs/design.md, "Secrets the API never gives back").

use std::collections::BTreeMap;

use serde_json::Value;

use crate::kinds::{Fields, ResourceKind};
use crate::model::Address;

/// What state.json recorded: address → pointer → value.
pub type Recorded = BTreeMap<Address, BTreeMap<String, Value>>;

fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The value at `pointer` in a spec's fields.
pub fn get<'a>(fields: &'a Fields, pointer: &str) -> Option<&'a Value> {
    let segs = segments(pointer);
    let (first, rest) = segs.split_first()?;
    let mut v = fields.get(first.as_str())?;
    for s in rest {
        v = v.as_object()?.get(s)?;
    }
    Some(v)
}

/// Puts `value` at `pointer` (or removes what is there, for `None`), inside objects that exist.
fn put(fields: &mut Fields, pointer: &'static str, value: Option<Value>) {
    let segs = segments(pointer);
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    let Some((last, middle)) = rest.split_last() else {
        // A top-level field (an outbound app's `/client_secret`): the live side lacks it, and
        // the recorded value stands in for it. Config field names hold no `/` or `~`, so the
        // pointer without its slash is the (static) field name.
        let name = pointer.strip_prefix('/').unwrap_or(pointer);
        match value {
            Some(v) => {
                fields.insert(name, v);
            }
            None => {
                fields.remove(name);
            }
        }
        return;
    };
    let Some(mut v) = fields.get_mut(first.as_str()) else {
        return;
    };
    for s in middle {
        match v.as_object_mut().and_then(|o| o.get_mut(s)) {
            Some(next) => v = next,
            None => return,
        }
    }
    if let Some(o) = v.as_object_mut() {
        match value {
            Some(value) => {
                o.insert(last.clone(), value);
            }
            None => {
                o.remove(last);
            }
        }
    }
}

/// The live side of a comparison, completed for the write-only fields the config sets: the
/// recorded value where state.json has one, else left unknown (so the config's value differs
/// and an update sets it).
pub fn fill(
    kind: &dyn ResourceKind,
    want: &Fields,
    have: &mut Fields,
    recorded: Option<&BTreeMap<String, Value>>,
) {
    for pointer in kind.write_only_fields() {
        if get(want, pointer).is_none() {
            continue;
        }
        let value = recorded.and_then(|r| r.get(*pointer)).cloned();
        put(have, pointer, value);
    }
}

/// What state.json records for an address after a successful write: the earlier record, with
/// each write-only field of a top-level field the change wrote replaced by what it sent (or
/// dropped, when it sent none: a restore from a backup, which never holds these values).
/// `changed` is the change's (field, value after) pairs.
pub fn record<'a>(
    kind: &dyn ResourceKind,
    previous: &BTreeMap<String, Value>,
    changed: impl IntoIterator<Item = (&'a str, Option<&'a Value>)>,
) -> BTreeMap<String, Value> {
    let mut out = previous.clone();
    for (field, after) in changed {
        for pointer in kind.write_only_fields() {
            let segs = segments(pointer);
            if segs.first().map(String::as_str) != Some(field) {
                continue;
            }
            let mut v = after;
            for s in &segs[1..] {
                v = v.and_then(|v| v.as_object()).and_then(|o| o.get(s));
            }
            match v {
                Some(v) => {
                    out.insert(pointer.to_string(), v.clone());
                }
                None => {
                    out.remove(*pointer);
                }
            }
        }
    }
    out
}

/// The line drift prints for a resource whose config sets write-only fields, or `None`.
pub fn drift_note(kind: &dyn ResourceKind, address: &Address, want: &Fields) -> Option<String> {
    let set: Vec<&str> = kind
        .write_only_fields()
        .iter()
        .copied()
        .filter(|p| get(want, p).is_some())
        .collect();
    (!set.is_empty()).then(|| {
        format!(
            "{address}: {} write-only (Descope never returns it): drift cannot see a change made \
             outside descope-mgmt; it is compared with what the last apply sent",
            set.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        let mut f = Fields::new();
        f.insert("oidc", v);
        f
    }

    /// A kind with write-only fields (`/oidc/client_secret`, `/oidc/use_pkce`, …).
    fn sso() -> &'static dyn ResourceKind {
        crate::kinds::of(crate::kinds::tenant_sso::KIND)
    }

    #[test]
    fn the_record_follows_what_each_write_sent() {
        let stand_in = json!({"secret": "S", "hmac": "h1"});
        let created = record(
            sso(),
            &BTreeMap::new(),
            [(
                "oidc",
                Some(&json!({"client_secret": stand_in, "use_pkce": true})),
            )],
        );
        assert_eq!(created["/oidc/client_secret"], stand_in);
        // A write that did not touch the block keeps the record.
        let kept = record(sso(), &created, [("domains", Some(&json!(["a.com"])))]);
        assert_eq!(kept, created);
        // A write of the block without the secret (a restore) forgets it.
        let restored = record(
            sso(),
            &created,
            [("oidc", Some(&json!({"use_pkce": true})))],
        );
        assert!(!restored.contains_key("/oidc/client_secret"));
        assert_eq!(restored["/oidc/use_pkce"], json!(true));
    }

    #[test]
    fn get_and_put_follow_the_pointer() {
        let mut f = fields(json!({"client_id": "a"}));
        assert_eq!(get(&f, "/oidc/client_id"), Some(&json!("a")));
        assert_eq!(get(&f, "/oidc/client_secret"), None);
        put(
            &mut f,
            "/oidc/client_secret",
            Some(json!({"secret": "S", "hmac": "h"})),
        );
        assert_eq!(get(&f, "/oidc/client_secret/secret"), Some(&json!("S")));
        put(&mut f, "/oidc/client_secret", None);
        assert_eq!(f["oidc"], json!({"client_id": "a"}));
        // Nothing is invented where the live object has no such block.
        put(&mut f, "/saml/sign_requests", Some(json!(true)));
        assert!(!f.contains_key("saml"));
        // A top-level field is filled (and emptied) as the record says.
        put(
            &mut f,
            "/client_secret",
            Some(json!({"secret": "S", "hmac": "h"})),
        );
        assert_eq!(get(&f, "/client_secret/secret"), Some(&json!("S")));
        put(&mut f, "/client_secret", None);
        assert!(!f.contains_key("client_secret"));
    }
}
