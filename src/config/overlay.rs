//! Environment overlays (docs/design.md §2, Overlays and variables): list entries merge into the
//! base by their key, maps merge deeply, scalars and lists replace, `remove: true` drops.
//! Merging works on the positioned tree, so a merged value still points at the file it came from.

use super::diagnostic::{Diagnostic, DiagnosticKind, Location};
use super::yaml::{Entry, Node, Value};

/// The top-level lists whose entries merge by key, and how each entry is keyed.
pub const KEYED_LISTS: &[&str] = &["permissions", "roles", "tenants", "flows"];

/// The key an entry merges by, from its raw (unresolved) text: variables resolve after the merge.
pub fn entry_key(list: &str, item: &Node) -> Option<String> {
    let text = |k: &str| item.get(k).and_then(Node::as_text).map(str::to_string);
    match list {
        "tenants" | "flows" => text("id"),
        "permissions" => text("name"),
        // A tenant role and a project role may share a name.
        "roles" => Some(format!(
            "{}/{}",
            text("tenant").unwrap_or_default(),
            text("name")?
        )),
        _ => None,
    }
}

pub fn is_removal(item: &Node) -> bool {
    matches!(item.get("remove").map(|n| &n.value), Some(Value::Scalar { text, plain: true }) if text == "true")
}

/// Merge `overlay` into `base`. Problems (a `version` key, removing what is not there) are
/// pushed; merging continues so every problem is reported.
pub fn merge(
    base: &mut Node,
    overlay: Node,
    loc: &dyn Fn(super::yaml::Pos) -> Location,
    problems: &mut Vec<Diagnostic>,
) {
    let Value::Map(entries) = overlay.value else {
        if !overlay.is_null() {
            problems.push(Diagnostic::new(
                &loc(overlay.pos),
                DiagnosticKind::InvalidType,
                "an overlay must be a mapping with the base file's top-level keys",
            ));
        }
        return;
    };
    if !matches!(base.value, Value::Map(_)) {
        return;
    }
    for entry in entries {
        if entry.key == "version" {
            problems.push(
                Diagnostic::new(
                    &loc(entry.key_pos),
                    DiagnosticKind::OverlayVersion,
                    "an overlay has no `version`",
                )
                .with_hint("remove it; the base file's version applies"),
            );
            continue;
        }
        let Value::Map(base_entries) = &mut base.value else {
            return;
        };
        let existing = base_entries.iter_mut().find(|e| e.key == entry.key);
        match existing {
            Some(b) if KEYED_LISTS.contains(&entry.key.as_str()) => {
                if let (Value::Seq(items), Value::Seq(over)) =
                    (&mut b.value.value, entry.value.value.clone())
                {
                    merge_list(&entry.key, items, over, loc, problems);
                } else {
                    *b = entry;
                }
            }
            Some(b) => merge_value(&mut b.value, entry.value, &mut b.key_pos, entry.key_pos),
            None => {
                let mut entry = entry;
                if let Value::Seq(items) = &mut entry.value.value {
                    let mut fresh = Vec::new();
                    merge_list(&entry.key, &mut fresh, std::mem::take(items), loc, problems);
                    *items = fresh;
                }
                base_entries.push(entry);
            }
        }
    }
}

fn merge_list(
    list: &str,
    base: &mut Vec<Node>,
    overlay: Vec<Node>,
    loc: &dyn Fn(super::yaml::Pos) -> Location,
    problems: &mut Vec<Diagnostic>,
) {
    for item in overlay {
        let key = entry_key(list, &item);
        let found = key.as_ref().and_then(|k| {
            base.iter()
                .position(|b| entry_key(list, b).as_ref() == Some(k))
        });
        match (found, is_removal(&item)) {
            (Some(i), true) => {
                base.remove(i);
            }
            (Some(i), false) => {
                // List items have no key of their own to re-point.
                let mut unused = base[i].pos;
                let item_pos = item.pos;
                merge_value(&mut base[i], item, &mut unused, item_pos);
            }
            (None, true) => problems.push(
                Diagnostic::new(
                    &loc(item.pos),
                    DiagnosticKind::OverlayRemoveUnknown,
                    format!(
                        "`remove: true` names {} that the base configuration does not have",
                        describe(list, key.as_deref())
                    ),
                )
                .with_hint("check the spelling of the key; nothing would be removed")
                .with_address(key.as_ref().map(|k| {
                    format!(
                        "{}.{}",
                        list.trim_end_matches('s'),
                        k.trim_start_matches('/')
                    )
                })),
            ),
            (None, false) => base.push(item),
        }
    }
}

fn describe(list: &str, key: Option<&str>) -> String {
    let what = list.trim_end_matches('s');
    match key {
        Some(k) => format!("{what} `{}`", k.trim_start_matches('/')),
        None => format!("a {what} without its key field"),
    }
}

/// Maps merge key by key; anything else (scalars, lists) is replaced by the overlay's value.
pub(crate) fn merge_value(
    base: &mut Node,
    overlay: Node,
    base_key_pos: &mut super::yaml::Pos,
    overlay_key_pos: super::yaml::Pos,
) {
    match (&mut base.value, overlay.value) {
        (Value::Map(b), Value::Map(o)) => {
            for Entry {
                key,
                key_pos,
                value,
            } in o
            {
                match b.iter_mut().find(|e| e.key == key) {
                    Some(e) => merge_value(&mut e.value, value, &mut e.key_pos, key_pos),
                    None => b.push(Entry {
                        key,
                        key_pos,
                        value,
                    }),
                }
            }
        }
        (_, value) => {
            *base = Node {
                value,
                pos: overlay.pos,
            };
            *base_key_pos = overlay_key_pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;
    use std::path::PathBuf;

    #[test]
    fn entries_merge_by_key_and_remove_drops() {
        let files = vec![PathBuf::from("b.yaml"), PathBuf::from("o.yaml")];
        let mut base = parse(
            "tenants:\n  - id: a\n    name: A\n    custom_attributes: {x: 1, y: 2}\n  - id: b\n    name: B\n",
            0,
            &files,
        )
        .unwrap()
        .0;
        let over = parse(
            "tenants:\n  - id: a\n    custom_attributes: {y: 3}\n  - id: b\n    remove: true\n  - id: c\n    name: C\n",
            1,
            &files,
        )
        .unwrap()
        .0;
        let mut problems = Vec::new();
        let loc = |p: super::super::yaml::Pos| Location {
            file: files[p.file].clone(),
            line: p.line,
            column: p.column,
        };
        merge(&mut base, over, &loc, &mut problems);
        assert!(problems.is_empty());
        let Value::Seq(ts) = &base.get("tenants").unwrap().value else {
            panic!()
        };
        let ids: Vec<_> = ts
            .iter()
            .map(|t| t.get("id").unwrap().as_text().unwrap())
            .collect();
        assert_eq!(ids, ["a", "c"]);
        let attrs = ts[0].get("custom_attributes").unwrap();
        assert_eq!(attrs.get("x").unwrap().as_text(), Some("1"));
        let y = attrs.get("y").unwrap();
        assert_eq!((y.as_text(), y.pos.file, y.pos.line), (Some("3"), 1, 3));
        assert_eq!(ts[0].get("name").unwrap().pos.file, 0);
    }
}
