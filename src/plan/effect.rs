//! What the live object looks like once a change took effect, and whether it already has:
//! used by apply to skip finished work on resume, and to decide after an ambiguous failure
//! whether a write went through (docs/design.md §2, Resume; Ambiguous failures).

use serde_json::Value;

use super::{Action, Change};
use crate::resource::{body_matches, LiveResource};

/// The fields a live object must carry after `change` succeeded (None: it must be absent).
pub fn expected_live(change: &Change) -> Option<Value> {
    match change.action {
        Action::Delete => None,
        Action::Create | Action::Update | Action::Replace => {
            let mut after = change.after.clone().unwrap_or(Value::Null);
            if let Some(o) = after.as_object_mut() {
                // Update bodies name the object by its current name and carry the new one.
                if let Some(new_name) = o.remove("newName") {
                    o.insert("name".into(), new_name);
                }
            }
            Some(after)
        }
    }
}

/// Has `change` taken effect on this live object? Flow and theme imports cannot be compared
/// from a list entry; they are naturally idempotent, so callers re-run them instead.
pub fn has_taken_effect(change: &Change, live: Option<&LiveResource>) -> bool {
    match (expected_live(change), live) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(expected), Some(l)) => {
            crate::kinds::of(change.address.kind()).verifiable()
                && body_matches(&l.raw(), &expected)
        }
    }
}

/// Is the live object still what the plan saw (its `before`)?
pub fn matches_before(live: Option<&LiveResource>, expected: &super::Expected) -> bool {
    expected.matches(live)
}

/// Top-level fields that differ between what the plan saw and what is live now, for messages.
pub fn changed_fields(before: Option<&Value>, now: Option<&Value>) -> Vec<String> {
    match (before, now) {
        (Some(Value::Object(b)), Some(Value::Object(n))) => {
            let mut keys: Vec<String> = b
                .keys()
                .chain(n.keys())
                .filter(|k| b.get(*k) != n.get(*k))
                .cloned()
                .collect();
            keys.sort();
            keys.dedup();
            keys
        }
        (None, Some(_)) => vec!["(created since planning)".into()],
        (Some(_), None) => vec!["(deleted since planning)".into()],
        _ => vec![],
    }
}
