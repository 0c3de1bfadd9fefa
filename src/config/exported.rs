//! A configuration written from a live project (`export`), before anything is written to disk:
//! each kind adds its entries and documents, then `ops::export` writes the files.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Config;
use crate::model::Address;

/// The configuration and documents of one export, before anything is written.
#[derive(Debug, Clone)]
pub struct Exported {
    pub config: Config,
    /// Path relative to the output directory → JSON document.
    pub documents: BTreeMap<String, Value>,
    pub addresses: Vec<Address>,
}

/// The loader substitutes `${…}` in every value; a live value that contains it literally is
/// written as `$${…}`, the loader's escape.
pub fn escape(s: &str) -> String {
    s.replace("${", "$${")
}

pub fn escape_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(escape(s)),
        Value::Array(a) => Value::Array(a.iter().map(escape_value).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), escape_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_dollar_braces_are_escaped() {
        assert_eq!(escape("cost ${X} $5"), "cost $${X} $5");
        assert_eq!(
            escape_value(&serde_json::json!({"a": ["${Y}"]})),
            serde_json::json!({"a": ["$${Y}"]})
        );
    }
}
