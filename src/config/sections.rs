//! Config sections a resource kind owns (docs/adding-a-resource-kind.md): a kind declares where
//! its section sits (a key inside every entry of a top-level list, such as `settings` in each
//! `tenants` entry, or a top-level key), and its JSON Schema. The loader checks unknown keys in
//! it against that schema, keeps it as JSON with its place in the file, and leaves decoding and
//! the rules to the kind — so adding a kind changes no type in this module.

use std::fmt;

use serde_json::{Map, Value as Json};

/// Where a kind's section sits in the file.
#[derive(Clone, Copy)]
pub struct ConfigSection {
    /// The top-level list whose entries carry the section (`tenants`); `None` for a top-level
    /// key.
    pub within: Option<&'static str>,
    pub key: &'static str,
    /// The section's JSON Schema, as `schemars::schema_for!` writes it.
    pub schema: fn() -> Json,
}

impl ConfigSection {
    fn matches(&self, v: &SectionValue) -> bool {
        v.within == self.within && v.key == self.key
    }
}

/// One occurrence of a kind's section in the merged, resolved configuration.
#[derive(Clone, PartialEq)]
pub struct SectionValue {
    pub within: Option<&'static str>,
    pub key: &'static str,
    /// The `id` (or `name`) of the list entry that carries it.
    pub owner: Option<String>,
    /// JSON pointer in the configuration, for positions in messages (`/tenants/3/settings`).
    pub pointer: String,
    pub value: Json,
}

/// Every kind-owned section of a configuration.
#[derive(Clone, Default, PartialEq)]
pub struct Sections(Vec<SectionValue>);

// The values may hold resolved secrets: debug output names only where they are.
impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|v| &v.pointer))
            .finish()
    }
}

impl Sections {
    /// The occurrences of one section, in file order.
    pub fn of<'a>(&'a self, section: &'a ConfigSection) -> impl Iterator<Item = &'a SectionValue> {
        self.0.iter().filter(|v| section.matches(v))
    }

    /// Add an occurrence (`export` writing a live project back).
    pub fn push(&mut self, section: &ConfigSection, owner: Option<String>, value: Json) {
        let pointer = match (section.within, &owner) {
            (Some(list), Some(o)) => format!("/{list}/{o}/{}", section.key),
            _ => format!("/{}", section.key),
        };
        self.0.push(SectionValue {
            within: section.within,
            key: section.key,
            owner,
            pointer,
            value,
        });
    }

    /// Take every kind's section out of `json` (so the file's own types, which refuse unknown
    /// keys, decode the rest) and keep it here.
    pub fn extract(json: &mut Json, sections: &[ConfigSection]) -> Sections {
        let mut out = Vec::new();
        let Json::Object(top) = json else {
            return Sections(out);
        };
        for s in sections {
            match s.within {
                None => {
                    if let Some(value) = top.remove(s.key).filter(|v| !v.is_null()) {
                        out.push(SectionValue {
                            within: None,
                            key: s.key,
                            owner: None,
                            pointer: format!("/{}", s.key),
                            value,
                        });
                    }
                }
                Some(list) => {
                    let Some(Json::Array(items)) = top.get_mut(list) else {
                        continue;
                    };
                    for (i, item) in items.iter_mut().enumerate() {
                        let Json::Object(entry) = item else { continue };
                        let Some(value) = entry.remove(s.key).filter(|v| !v.is_null()) else {
                            continue;
                        };
                        out.push(SectionValue {
                            within: Some(list),
                            key: s.key,
                            owner: entry_key(entry),
                            pointer: format!("/{list}/{i}/{}", s.key),
                            value,
                        });
                    }
                }
            }
        }
        Sections(out)
    }

    /// Put the sections back into a configuration rendered as YAML (for `export`): each goes
    /// into the list entry whose key is its owner.
    pub fn insert_into(&self, yaml: &mut serde_yaml_ng::Value) {
        use serde_yaml_ng::Value as Y;
        let Y::Mapping(top) = yaml else { return };
        for v in &self.0 {
            let Ok(value) = serde_yaml_ng::to_value(&v.value) else {
                continue;
            };
            match (v.within, &v.owner) {
                (Some(list), Some(owner)) => {
                    let Some(Y::Sequence(items)) = top.get_mut(list) else {
                        continue;
                    };
                    let entry = items.iter_mut().find_map(|item| match item {
                        Y::Mapping(m)
                            if ["id", "name"]
                                .iter()
                                .any(|k| m.get(*k).and_then(Y::as_str) == Some(owner.as_str())) =>
                        {
                            Some(m)
                        }
                        _ => None,
                    });
                    if let Some(entry) = entry {
                        entry.insert(Y::from(v.key), value);
                    }
                }
                _ => {
                    top.insert(Y::from(v.key), value);
                }
            }
        }
    }
}

fn entry_key(entry: &Map<String, Json>) -> Option<String> {
    ["id", "name"]
        .iter()
        .find_map(|k| entry.get(*k)?.as_str().map(str::to_string))
}

/// The configuration's schema with every kind's section added where it sits: top-level keys
/// as properties of the root, list-entry keys as properties of the entry's definition.
pub fn with_sections(mut root: Json, sections: &[ConfigSection]) -> Json {
    for s in sections {
        let mut schema = (s.schema)();
        // The section's own definitions join the root's (the names are the Rust type names, so
        // they do not collide with the file's own types).
        if let Some(Json::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
            if let Some(Json::Object(root_defs)) = root.get_mut("$defs") {
                root_defs.extend(defs);
            }
        }
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
        }
        let target = match s.within {
            None => Some("".to_string()),
            Some(list) => root
                .pointer(&format!("/properties/{list}/items/$ref"))
                .and_then(Json::as_str)
                .map(|r| r.trim_start_matches('#').to_string()),
        };
        let Some(props) = target
            .and_then(|t| root.pointer_mut(&format!("{t}/properties")))
            .and_then(Json::as_object_mut)
        else {
            continue;
        };
        props.insert(s.key.to_string(), schema);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SETTINGS: ConfigSection = ConfigSection {
        within: Some("tenants"),
        key: "settings",
        schema: || json!({"type": "object"}),
    };

    #[test]
    fn sections_leave_the_file_and_come_back_to_their_entry() {
        let mut cfg = json!({"tenants": [
            {"id": "a", "name": "A", "settings": {"enabled": true}},
            {"id": "b", "name": "B"},
        ]});
        let sections = Sections::extract(&mut cfg, &[SETTINGS]);
        assert_eq!(cfg["tenants"][0].get("settings"), None);
        let found: Vec<_> = sections.of(&SETTINGS).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].owner.as_deref(), Some("a"));
        assert_eq!(found[0].pointer, "/tenants/0/settings");

        let mut yaml = serde_yaml_ng::to_value(&cfg).unwrap();
        sections.insert_into(&mut yaml);
        let back: Json = serde_yaml_ng::from_value(yaml).unwrap();
        assert_eq!(back["tenants"][0]["settings"], json!({"enabled": true}));
        assert_eq!(back["tenants"][1].get("settings"), None);
    }

    #[test]
    fn the_schema_gets_the_section_where_it_sits() {
        let root = json!({
            "properties": {"tenants": {"items": {"$ref": "#/$defs/TenantConfig"}}},
            "$defs": {"TenantConfig": {"properties": {"id": {}}}}
        });
        let merged = with_sections(root, &[SETTINGS]);
        assert_eq!(
            merged.pointer("/$defs/TenantConfig/properties/settings"),
            Some(&json!({"type": "object"}))
        );
    }
}
