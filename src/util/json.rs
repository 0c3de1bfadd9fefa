//! Canonical JSON for files people commit and review: keys sorted at every level, two-space
//! indentation, a final newline. Equal values give equal bytes, so `write_atomic` can skip
//! rewrites and git diffs show only real changes.

use serde::Serialize;
use serde_json::{Map, Value};

/// Pretty, key-sorted JSON of `value`, ending in a newline.
pub fn to_canonical_pretty<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let value = sort_keys(serde_json::to_value(value)?);
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// One line of key-sorted JSON, without the newline: for `.jsonl` files.
pub fn to_canonical_line<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(&sort_keys(serde_json::to_value(value)?))
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
    }
}
