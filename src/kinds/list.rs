//! Lists (`list.<name>`): IP lists (addresses and CIDR ranges) and text lists, written under a
//! top-level `lists:` section, compared as sets (docs/descope-api.md §18). One `list/all` read
//! shows them all. Descope gives each list an id; the config names it by its name, so updates
//! and deletes take the id from the live object. Updates are full overrides: the body is the
//! live list with the managed fields replaced. JSON lists are outside what a config states: they
//! are read like Descope's own objects, never planned, pruned or exported.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::entries::{self, config_struct, UniqueField};
use super::fields;
use super::{Fields, KindInfo, ListCall, LiveContext, ResourceKind, Spec};
use crate::api::endpoints;
// The emulator crate holds Descope's rule for list items; one check serves both sides.
use crate::config::checks::ConfigCheck;
use crate::config::exported::{escape, Exported};
use crate::config::{ConfigSection, DiagnosticKind};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{sorted_set, DesiredResource, LiveResource};
use descope_emulator::valid_ip_or_cidr;

pub struct ListKind;

pub const KIND: Kind = Kind::named("list");

const INFO: KindInfo = KindInfo::new(KIND, "Lists", &["type", "description", "items"]);

const SECTION: ConfigSection = ConfigSection {
    within: None,
    key: "lists",
    schema: || serde_json::to_value(schemars::schema_for!(Vec<ListConfig>)).unwrap_or_default(),
};

const LIST: &str = "lists";

const NAME: UniqueField<ListConfig> = UniqueField::name(
    |c| &c.name,
    "a list needs a name",
    "list `{}` is declared twice",
    Some("list names are unique in a project"),
);

config_struct! {
    /// One entry of `lists:`.
    pub struct ListConfig {
        /// Unique in the project; the list's address is `list.<name>`.
        pub name: String,
        /// `ips` (addresses and CIDR ranges) or `texts`.
        #[serde(rename = "type")]
        pub list_type: ListType,
        ;
        pub description: String,
        /// The list's items, compared as a set; absent (and no `file`) leaves them unmanaged.
        pub items: Vec<String>,
        /// Instead of `items`: a text file of items, one per line, relative to the configuration
        /// file; blank lines and lines starting with `#` are ignored.
        pub file: String,
    }
    protect = " Plans that would delete this list are errors.";
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListType {
    #[default]
    Ips,
    Texts,
}

impl ListType {
    fn wire(self) -> &'static str {
        match self {
            ListType::Ips => "ips",
            ListType::Texts => "texts",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListSpec {
    pub name: String,
    pub list_type: Option<String>,
    pub description: Option<String>,
    /// Sorted and deduplicated.
    pub items: Option<Vec<String>>,
}

impl Spec for ListSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        fields::put(&mut m, "type", &self.list_type);
        fields::put(&mut m, "description", &self.description);
        fields::put(&mut m, "items", &self.items);
        m
    }
}

impl Address {
    pub fn list(name: impl Into<String>) -> Self {
        Address::new(KIND, name)
    }
}

/// The items of an item file with their line numbers and columns (1-based), or why it cannot
/// be read. One item per line, surrounding whitespace trimmed; blank lines and lines whose
/// first non-blank character is `#` are skipped.
fn read_item_file(
    base_dir: &std::path::Path,
    rel: &str,
) -> Result<Vec<(usize, usize, String)>, String> {
    use crate::util::input::{self, InputFile};
    let bytes = input::inside(base_dir, rel, InputFile::Text)
        .and_then(|p| input::read(&p, InputFile::Text))
        .map_err(|e| format!("list item file {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("list item file `{rel}` is not UTF-8 text"))?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let item = line.trim();
            let column = line.len() - line.trim_start().len() + 1;
            (!item.is_empty() && !item.starts_with('#')).then(|| (i + 1, column, item.to_string()))
        })
        .collect())
}

impl ResourceKind for ListKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn config_sections(&self) -> &'static [ConfigSection] {
        &[SECTION]
    }

    fn check_config(&self, cx: &mut ConfigCheck<'_>) {
        for (at, l) in entries::checked(cx, &SECTION, &[NAME]) {
            if let Some(rel) = &l.file {
                let pointer = format!("{at}/file");
                if l.items.is_some() {
                    cx.problem(
                        &pointer,
                        DiagnosticKind::InvalidValue,
                        format!("list `{}` gives both `items` and `file`", l.name),
                        Some("keep one: the items inline, or a file of them".into()),
                    );
                }
                match read_item_file(cx.base_dir, rel) {
                        Err(message) => cx.problem(
                            &pointer,
                            DiagnosticKind::MissingFile,
                            message,
                            Some(
                                "paths are relative to the configuration file and stay inside its directory"
                                    .into(),
                            ),
                        ),
                        Ok(items) if l.list_type == ListType::Ips => {
                            let path = cx.base_dir.join(rel);
                            for (line, column, item) in items {
                                if !valid_ip_or_cidr(&item) {
                                    let (message, hint) = fields::not_an_ip(&item);
                                    cx.problem_in_file(
                                        &pointer,
                                        crate::config::Location {
                                            file: path.clone(),
                                            line,
                                            column,
                                        },
                                        DiagnosticKind::InvalidValue,
                                        message,
                                        hint,
                                    );
                                }
                            }
                        }
                        Ok(_) => {}
                    }
            }
            if l.list_type == ListType::Ips {
                fields::check_ips(cx, &format!("{at}/items"), l.items.iter().flatten());
            }
            let allowed = INFO.managed_fields;
            cx.ignore_changes(&at, &l.ignore_changes, allowed, "a list");
        }
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, errors: &mut Vec<String>) {
        for (_, mut l) in entries::decoded::<ListConfig>(&input.config.sections, &SECTION) {
            if let (None, Some(rel)) = (&l.items, &l.file) {
                match read_item_file(&input.config.base_dir, rel) {
                    Ok(items) => l.items = Some(items.into_iter().map(|(_, _, i)| i).collect()),
                    Err(e) => {
                        errors.push(format!("list.{}: {e}", l.name));
                        continue;
                    }
                }
            }
            let managed = |f: &str| !l.ignore_changes.iter().any(|x| x == f);
            out.insert(entries::desired(
                Address::list(&l.name),
                ListSpec {
                    name: l.name.clone(),
                    list_type: managed("type").then(|| l.list_type.wire().to_string()),
                    description: l.description.clone().filter(|_| managed("description")),
                    items: l
                        .items
                        .clone()
                        .filter(|_| managed("items"))
                        .map(|i| sorted_set(i.into_iter().map(|s| s.trim().to_string()))),
                },
                l.protect,
                &l.ignore_changes,
            ));
        }
    }

    fn read_when_named(&self) -> bool {
        true
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::list_load_all,
            key: LIST,
        })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for l in snapshot.list(LIST) {
            let l = &l;
            let name = string_field(l, "name");
            if name.is_empty() {
                out.warnings
                    .push(format!("list without a name ignored: {l}"));
                continue;
            }
            let list_type = string_field(l, "type");
            let json_list = list_type == "json";
            out.insert(LiveResource::new(
                Address::list(&name),
                ListSpec {
                    description: Some(string_field(l, "description")),
                    items: (!json_list).then(|| sorted_set(string_list(l, "data"))),
                    list_type: Some(list_type),
                    name,
                },
                l.clone(),
                // A JSON list is shown, never planned (module doc).
                json_list,
            ));
        }
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let l = d.spec::<ListSpec>();
        let mut m = Map::new();
        m.insert("name".into(), json!(l.name));
        m.insert(
            "type".into(),
            json!(l.list_type.as_deref().unwrap_or("texts")),
        );
        if let Some(desc) = &l.description {
            m.insert("description".into(), json!(desc));
        }
        if let Some(items) = &l.items {
            m.insert("data".into(), json!(items));
        }
        Value::Object(m)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let l = d.spec::<ListSpec>();
        let keep = |k: &str| live.get(k).cloned().unwrap_or(Value::Null);
        json!({
            "id": keep("id"),
            "name": l.name,
            "type": l.list_type.clone().map(Value::from).unwrap_or_else(|| keep("type")),
            "description": l.description.clone().map(Value::from).unwrap_or_else(|| keep("description")),
            "data": l.items.clone().map(|i| json!(i)).unwrap_or_else(|| keep("data")),
        })
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::list_create(body.clone()))
    }

    fn update_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::list_update(body.clone()))
    }

    fn delete_op(&self, address: &Address, live: &Value, _: bool) -> Op {
        Op::single(endpoints::list_delete(
            &string_field(live, "id"),
            address.key(),
        ))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        let lists: Vec<Value> = live
            .iter()
            .filter_map(|r| {
                let l = r.spec::<ListSpec>();
                let list_type = match l.list_type.as_deref() {
                    Some("ips") => ListType::Ips,
                    Some("texts") => ListType::Texts,
                    _ => return None,
                };
                out.addresses.push(r.address.clone());
                entries::exported_entry(&ListConfig {
                    name: escape(&l.name),
                    list_type,
                    description: l.description.clone().filter(|d| !d.is_empty()),
                    items: l.items.clone(),
                    ..Default::default()
                })
            })
            .collect();
        entries::export_section(out, &SECTION, lists);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_is_the_whole_list_with_its_id() {
        let d = DesiredResource::new(
            Address::list("office"),
            ListSpec {
                name: "office".into(),
                list_type: Some("ips".into()),
                description: None,
                items: Some(vec!["10.0.0.0/8".into()]),
            },
            vec![],
            false,
            false,
            vec![],
        );
        let live =
            json!({"id": "LST1", "name": "office", "type": "ips", "description": "HQ", "data": []});
        assert_eq!(
            ListKind.update_body(&d, &live),
            json!({"id": "LST1", "name": "office", "type": "ips", "description": "HQ", "data": ["10.0.0.0/8"]})
        );
        assert_eq!(
            ListKind
                .delete_op(&Address::list("office"), &live, false)
                .steps[0]
                .body,
            Some(json!({"id": "LST1"}))
        );
    }
}
