//! Flow and theme documents: detect their form, and normalize away what the server manages so
//! a file and a live export compare equal when only those differ (docs/flows-and-theme.md).

use serde_json::{Map, Value};

use super::DocForm;

/// Fields Descope sets itself on export; never compared, never a reason to import.
pub const SERVER_MANAGED_FIELDS: &[&str] = &[
    "version",
    "etag",
    "modifiedTime",
    "createdTime",
    "componentsVersion",
];
// Not `fingerprint`: a v2 flow's `metadata.fingerprint` is a setting the user makes (beside
// `disabled`), so it is compared, shown in diffs and imported (docs/descope-api.md §9).

/// v2 documents carry `flowId`/`metadata`/`contents`; v1 carry `flow` with a `dsl` and `screens`.
pub fn flow_form(doc: &Value) -> DocForm {
    let inner = doc.get("flow").unwrap_or(doc);
    if inner.get("contents").is_some()
        || inner.get("metadata").is_some()
        || inner.get("flowId").is_some()
    {
        DocForm::V2
    } else {
        DocForm::V1
    }
}

/// v2 themes carry `styles`; v1 themes carry `cssTemplate`.
pub fn theme_form(doc: &Value) -> DocForm {
    let inner = doc.get("theme").unwrap_or(doc);
    if inner.get("styles").is_some() {
        DocForm::V2
    } else {
        DocForm::V1
    }
}

/// Remove server-managed fields at the levels where Descope puts them: the top, the `flow` /
/// `theme` wrapper, and v2 `metadata`. Deeper keys of the same name belong to the user's design.
pub fn normalize(doc: &Value) -> Value {
    fn strip(v: &Value, depth: usize, parent: &str) -> Value {
        match v {
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, v) in o {
                    if depth <= 2 && SERVER_MANAGED_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    // The project's theme has one id, set by Descope; a file's id is not a change.
                    if parent == "theme" && k == "id" {
                        continue;
                    }
                    let descend = matches!(k.as_str(), "flow" | "theme" | "metadata");
                    let value = if descend {
                        strip(v, depth + 1, k)
                    } else {
                        v.clone()
                    };
                    out.insert(k.clone(), value);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
    strip(&super::strip_defaults(doc), 0, "")
}

/// The live document restricted to the keys the file states, at the top and inside the
/// `flow` / `theme` / `metadata` wrappers: imports keep what they are not sent, so keys the
/// file leaves out are Descope's, not a difference. Deeper content is compared whole.
pub fn project_onto(live: &Value, desired: &Value) -> Value {
    fn project(l: &Value, d: &Value, depth: usize) -> Value {
        match (l, d) {
            (Value::Object(lo), Value::Object(dobj)) if depth <= 1 => {
                let mut out = Map::new();
                for (k, dv) in dobj {
                    if let Some(lv) = lo.get(k) {
                        let wrapper = matches!(k.as_str(), "flow" | "theme" | "metadata");
                        let value = if wrapper {
                            project(lv, dv, depth + 1)
                        } else {
                            lv.clone()
                        };
                        out.insert(k.clone(), value);
                    }
                }
                Value::Object(out)
            }
            _ => l.clone(),
        }
    }
    project(live, desired, 0)
}

/// The document as exported, without the fields Descope sets itself (version, etag, …) at the
/// levels where it puts them, so a re-export of an unchanged flow rewrites nothing.
pub fn without_server_fields(doc: &Value) -> Value {
    fn strip(v: &Value, depth: usize) -> Value {
        match v {
            Value::Object(o) if depth <= 1 => {
                let mut out = Map::new();
                for (k, v) in o {
                    if SERVER_MANAGED_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    let value = if matches!(k.as_str(), "flow" | "theme") {
                        strip(v, depth + 1)
                    } else {
                        v.clone()
                    };
                    out.insert(k.clone(), value);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
    strip(doc, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_are_detected() {
        assert_eq!(
            flow_form(&json!({"flow":{"id":"x","dsl":{}},"screens":[]})),
            DocForm::V1
        );
        assert_eq!(
            flow_form(&json!({"flowId":"x","metadata":{},"contents":{}})),
            DocForm::V2
        );
        assert_eq!(
            flow_form(&json!({"flow":{"flowId":"x","contents":{}}})),
            DocForm::V2
        );
        assert_eq!(
            theme_form(&json!({"theme":{"cssTemplate":{}}})),
            DocForm::V1
        );
        assert_eq!(theme_form(&json!({"theme":{"styles":{}}})), DocForm::V2);
    }

    #[test]
    fn server_fields_go_but_design_fields_stay() {
        let doc = json!({"flow":{"id":"x","version":3,"etag":"e","dsl":{"version":"keep"}},
                         "screens":[{"id":"s","version":1}]});
        assert_eq!(
            normalize(&doc),
            json!({"flow":{"id":"x","dsl":{"version":"keep"}},"screens":[{"id":"s","version":1}]})
        );
    }
}
