//! Canonical JSON for files people commit and review: keys sorted at every level, two-space
//! indentation, a final newline. Equal values give equal bytes, so `write_atomic` can skip
//! rewrites and git diffs show only real changes.

use serde::Serialize;
use serde_json::{Map, Value};

/// Pretty, key-sorted JSON of `value`, ending in a newline.
pub fn to_canonical_pretty<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&Sorted(&serde_json::to_value(value)?))?;
    text.push('\n');
    Ok(text)
}

/// One line of key-sorted JSON, without the newline: for `.jsonl` files.
pub fn to_canonical_line<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&Sorted(&serde_json::to_value(value)?))
}

/// [`to_canonical_pretty`] of a value already built, written to `out` without copying the
/// value: a 10k-change plan file is verified and written this way.
pub fn write_canonical_pretty<W: std::io::Write>(
    value: &Value,
    out: W,
) -> Result<(), serde_json::Error> {
    let mut out = out;
    serde_json::to_writer_pretty(&mut out, &Sorted(value))?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Pretty, key-sorted JSON of a value already built (no copy of it).
pub fn value_to_canonical_pretty(value: &Value) -> String {
    let mut text = Vec::new();
    write_canonical_pretty(value, &mut text).expect("a serde_json::Value always serializes");
    String::from_utf8(text).expect("serde_json writes UTF-8")
}

/// Rebuilds every object with its keys in sorted order. Done explicitly rather than relying on
/// serde_json's default map, because any crate in the build can switch on `preserve_order`.
pub fn sort_keys(value: Value) -> Value {
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

/// A value serialized with its object keys in sorted order, read in place: the same bytes as
/// serializing `sort_keys(value.clone())`, without building the copy (for the
/// `preserve_order` reason `sort_keys` gives).
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
    use serde_json::json;

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
