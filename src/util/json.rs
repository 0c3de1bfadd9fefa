//! Canonical JSON for files people commit and review: keys sorted at every level, two-space
//! indentation, a final newline. Equal values give equal bytes, so `write_atomic` can skip
//! rewrites and git diffs show only real changes.

use serde::Serialize;
use serde_json::Value;

/// Pretty, key-sorted JSON of `value`, ending in a newline.
pub fn to_canonical_pretty<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(value_to_canonical_pretty(&serde_json::to_value(value)?))
}

/// One line of key-sorted JSON, without the newline: for `.jsonl` files.
pub fn to_canonical_line<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Sorted(&serde_json::to_value(value)?))
}

/// [`to_canonical_pretty`] of a value already built, without copying it (a 10k-change plan
/// file is written this way).
pub fn value_to_canonical_pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&Sorted(value))
        .expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

/// A value serialized with its object keys in sorted order, read in place, without building a
/// sorted copy. Sorted explicitly rather than relying on serde_json's default map, because any
/// crate in the build can switch on `preserve_order`.
pub struct Sorted<'a>(pub &'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    /// Rebuilds every object with its keys in sorted order: what `Sorted` must write the
    /// same bytes as.
    fn sort_keys(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                let mut sorted = Map::new();
                for (k, v) in entries {
                    sorted.insert(k, sort_keys(v));
                }
                Value::Object(sorted)
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
            other => other,
        }
    }

    #[test]
    fn keys_are_sorted_at_every_level() {
        let v = json!({"b": 1, "a": {"z": [ {"y": 1, "x": 2} ], "c": null}});
        assert_eq!(
            to_canonical_line(&v).unwrap(),
            r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
        assert!(to_canonical_pretty(&v).unwrap().ends_with("}\n"));
        let mut text = serde_json::to_string_pretty(&sort_keys(v.clone())).unwrap();
        text.push('\n');
        assert_eq!(value_to_canonical_pretty(&v), text);
    }
}
