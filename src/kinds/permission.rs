//! Permissions (`permission.<name>`): name and description; Descope's system-default
//! permissions are read but never touched (docs/design.md §2, Protection). Batch endpoints for
//! create, update and delete (docs/descope-api.md §5).

use serde_json::{json, Map, Value};

use super::{Fields, KindInfo, ListCall, LiveContext, ResourceKind, Spec};
use crate::api::endpoints::{
    self, PERMISSION_CREATE_BATCH, PERMISSION_DELETE_BATCH, PERMISSION_UPDATE_BATCH,
};
use crate::config::exported::{escape, Exported};
use crate::config::PermissionConfig;
use crate::model::builtin::is_system_permission;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, LiveGraph, LiveSnapshot};
use crate::resource::{DesiredResource, LiveResource};

#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSpec {
    pub name: String,
    pub description: Option<String>,
    /// Names it had before (desired side only; never compared).
    pub renamed_from: Vec<String>,
}

impl Spec for PermissionSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        if let Some(d) = &self.description {
            m.insert("description", Value::from(d.clone()));
        }
        m
    }
}

pub struct PermissionKind;

pub const KIND: Kind = Kind::named("permission");

const INFO: KindInfo = KindInfo::new(KIND, "Permissions", &["description"]);

impl Address {
    pub fn permission(name: impl Into<String>) -> Self {
        Address::new(KIND, name)
    }
}

const LIST: &str = "permissions";

fn name_of(address: &Address) -> &str {
    address.key()
}

impl ResourceKind for PermissionKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for p in &input.config.permissions {
            out.insert(DesiredResource::new(
                Address::permission(&p.name),
                PermissionSpec {
                    name: p.name.clone(),
                    description: p.description.clone(),
                    renamed_from: p.renamed_from.clone(),
                },
                vec![],
                p.protect,
                false,
                p.ignore_changes.clone(),
            ));
        }
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::permission_load_all,
            key: LIST,
        })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for p in snapshot.list(LIST) {
            let p = &p;
            let name = string_field(p, "name");
            if name.is_empty() {
                out.warnings
                    .push(format!("permission without a name ignored: {p}"));
                continue;
            }
            let system = p.get("systemDefault").and_then(Value::as_bool) == Some(true)
                || is_system_permission(&name);
            out.insert(LiveResource::new(
                Address::permission(&name),
                PermissionSpec {
                    description: Some(string_field(p, "description")),
                    name,
                    renamed_from: Vec::new(),
                },
                p.clone(),
                system,
            ));
        }
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let p = d.spec::<PermissionSpec>();
        let mut m = Map::new();
        m.insert("name".into(), json!(p.name));
        if let Some(desc) = &p.description {
            m.insert("description".into(), json!(desc));
        }
        Value::Object(m)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let p = d.spec::<PermissionSpec>();
        let description = match (&p.description, d.ignores("description")) {
            (Some(desc), false) => json!(desc),
            _ => live.get("description").cloned().unwrap_or(json!("")),
        };
        json!({"name": p.name, "newName": p.name, "description": description})
    }

    fn renamed_from(&self, d: &DesiredResource) -> Vec<Address> {
        let p = d.spec::<PermissionSpec>();
        p.renamed_from.iter().map(Address::permission).collect()
    }

    /// `name` is the old name, `newName` the new one (docs/descope-api.md §5).
    fn rename_body(&self, d: &DesiredResource, from: &Address, live: &Value) -> Value {
        let mut body = self.update_body(d, live);
        body["name"] = json!(name_of(from));
        body
    }

    fn rename_op(&self, address: &Address, body: &Value) -> Op {
        // The request is about the permission's new address (read back under its new name).
        Op::single(endpoints::permission_update(body.clone()).for_address(address.clone())).batched(
            PERMISSION_UPDATE_BATCH,
            "permissions",
            body.clone(),
            None,
        )
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::permission_create(body.clone())).batched(
            PERMISSION_CREATE_BATCH,
            "permissions",
            body.clone(),
            None,
        )
    }

    fn update_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::permission_update(body.clone())).batched(
            PERMISSION_UPDATE_BATCH,
            "permissions",
            body.clone(),
            None,
        )
    }

    fn delete_op(&self, address: &Address, _: &Value, _: bool) -> Op {
        let name = name_of(address);
        Op::single(endpoints::permission_delete(name)).batched(
            PERMISSION_DELETE_BATCH,
            "names",
            json!(name),
            None,
        )
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        for r in live {
            let p = r.spec::<PermissionSpec>();
            out.config.permissions.push(PermissionConfig {
                name: escape(&p.name),
                description: p.description.as_deref().map(escape),
                ..Default::default()
            });
            out.addresses.push(r.address.clone());
        }
    }
}
