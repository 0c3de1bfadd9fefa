//! Roles (`role.<name>` project roles, `role.<tenant>/<name>` tenant roles): description and
//! permissions; `default` and `private` are carried over on update (full override,
//! docs/descope-api.md §6). Built-in roles are never touched. Batch endpoints for create and
//! update, and for deletes of one tenant's roles.

use serde_json::{json, Map, Value};

use super::{Fields, KindInfo, ListCall, LiveContext, Reference, ResourceKind, Spec};
use crate::api::endpoints::{self, ROLE_CREATE_BATCH, ROLE_DELETE_BATCH, ROLE_UPDATE_BATCH};
use crate::config::exported::{escape, Exported};
use crate::config::RoleConfig;
use crate::model::builtin::is_builtin_role;
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{dedup, sorted_set, DesiredResource, LiveResource};

#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    pub tenant: Option<String>,
    pub description: Option<String>,
    /// Sorted and deduplicated.
    pub permissions: Option<Vec<String>>,
    /// Names it had before, in the same scope (desired side only; never compared).
    pub renamed_from: Vec<String>,
}

impl Spec for RoleSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        if let Some(d) = &self.description {
            m.insert("description", Value::from(d.clone()));
        }
        if let Some(p) = &self.permissions {
            m.insert("permissions", json!(p));
        }
        m
    }
}

pub struct RoleKind;

pub const KIND: Kind = Kind::named("role");

const INFO: KindInfo = KindInfo::new(KIND, "Roles", &["description", "permissions"]);

const LIST: &str = "roles";

/// `role.<name>` is a project role, `role.<tenant>/<name>` a tenant role (a role name has no
/// `/`, the config refuses one).
fn parts(address: &Address) -> (Option<&str>, &str) {
    match address.key().split_once('/') {
        Some((tenant, name)) => (Some(tenant), name),
        None => (None, address.key()),
    }
}

impl Address {
    /// A project role (`tenant: None`) or a tenant-scoped role.
    pub fn role(tenant: Option<&str>, name: impl Into<String>) -> Self {
        let name = name.into();
        match tenant.filter(|t| !t.is_empty()) {
            Some(t) => Address::new(KIND, format!("{t}/{name}")),
            None => Address::new(KIND, name),
        }
    }
}

impl ResourceKind for RoleKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_key(&self, key: &str) -> Result<(), String> {
        match key.split_once('/') {
            Some((t, n)) if t.is_empty() || n.is_empty() || n.contains('/') => {
                Err("a tenant role is role.<tenant-id>/<name>".into())
            }
            _ => Ok(()),
        }
    }

    fn example_address(&self) -> String {
        "role.admin, role.<tenant-id>/<name>".into()
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        for r in &input.config.roles {
            let tenant = r.tenant.as_deref().filter(|t| !t.is_empty());
            let mut deps: Vec<Address> = r
                .permissions
                .iter()
                .flatten()
                .map(Address::permission)
                .collect();
            if let Some(t) = tenant {
                deps.push(Address::tenant(t));
            }
            out.insert(DesiredResource::new(
                Address::role(tenant, &r.name),
                RoleSpec {
                    name: r.name.clone(),
                    tenant: tenant.map(str::to_string),
                    description: r.description.clone(),
                    permissions: r.permissions.clone().map(sorted_set),
                    renamed_from: r.renamed_from.clone(),
                },
                dedup(deps),
                r.protect,
                false,
                r.ignore_changes.clone(),
            ));
        }
    }

    fn list(&self) -> Option<ListCall> {
        Some(ListCall {
            request: endpoints::role_load_all,
            key: LIST,
        })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for r in snapshot.list(LIST) {
            let r = &r;
            let name = string_field(r, "name");
            if name.is_empty() {
                out.warnings
                    .push(format!("role without a name ignored: {r}"));
                continue;
            }
            let tenant = Some(string_field(r, "tenantId")).filter(|t| !t.is_empty());
            out.insert(LiveResource::new(
                Address::role(tenant.as_deref(), &name),
                RoleSpec {
                    description: Some(string_field(r, "description")),
                    permissions: Some(sorted_set(string_list(r, "permissionNames"))),
                    name: name.clone(),
                    tenant: tenant.clone(),
                    renamed_from: Vec::new(),
                },
                r.clone(),
                tenant.is_none() && is_builtin_role(&name),
            ));
        }
    }

    fn owner(&self, address: &Address) -> Option<Address> {
        parts(address).0.map(Address::tenant)
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let Some(r) = super::spec_of::<RoleSpec>(spec) else {
            return vec![];
        };
        let mut refs: Vec<Reference> = r
            .permissions
            .iter()
            .flatten()
            .map(|p| Reference::Uses(Address::permission(p)))
            .collect();
        if let Some(t) = &r.tenant {
            refs.push(Reference::OwnedBy(Address::tenant(t)));
        }
        refs
    }

    fn restore_carried(&self) -> &'static [&'static str] {
        &["default", "private"]
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let r = d.spec::<RoleSpec>();
        let mut m = Map::new();
        m.insert("name".into(), json!(r.name));
        if let Some(desc) = &r.description {
            m.insert("description".into(), json!(desc));
        }
        m.insert(
            "permissionNames".into(),
            json!(r.permissions.clone().unwrap_or_default()),
        );
        if let Some(t) = &r.tenant {
            m.insert("tenantId".into(), json!(t));
        }
        Value::Object(m)
    }

    fn update_body(&self, d: &DesiredResource, live: &Value) -> Value {
        let r = d.spec::<RoleSpec>();
        let description = match (&r.description, d.ignores("description")) {
            (Some(desc), false) => json!(desc),
            _ => live.get("description").cloned().unwrap_or(json!("")),
        };
        let permissions = match (&r.permissions, d.ignores("permissions")) {
            (Some(p), false) => json!(p),
            _ => live.get("permissionNames").cloned().unwrap_or(json!([])),
        };
        let mut m = Map::new();
        m.insert("name".into(), json!(r.name));
        m.insert("newName".into(), json!(r.name));
        m.insert("description".into(), description);
        m.insert("permissionNames".into(), permissions);
        if let Some(t) = &r.tenant {
            m.insert("tenantId".into(), json!(t));
        }
        // Flags the config does not manage, carried over so the override keeps them.
        for key in ["default", "private"] {
            if let Some(v) = live.get(key) {
                m.insert(key.into(), v.clone());
            }
        }
        Value::Object(m)
    }

    fn renamed_from(&self, d: &DesiredResource) -> Vec<Address> {
        let r = d.spec::<RoleSpec>();
        r.renamed_from
            .iter()
            .map(|old| Address::role(r.tenant.as_deref(), old))
            .collect()
    }

    /// `name` is the old name, `newName` the new one, in the same tenant (docs/descope-api.md
    /// §6): the role keeps its id, and with it its users and the default roles naming it.
    fn rename_body(&self, d: &DesiredResource, from: &Address, live: &Value) -> Value {
        let mut body = self.update_body(d, live);
        body["name"] = json!(parts(from).1);
        body
    }

    fn rename_op(&self, address: &Address, body: &Value) -> Op {
        // The request is about the role's new address (read back under its new name).
        Op::single(endpoints::role_update(body.clone()).for_address(address.clone())).batched(
            ROLE_UPDATE_BATCH,
            "roles",
            body.clone(),
            None,
        )
    }

    fn create_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::role_create(body.clone())).batched(
            ROLE_CREATE_BATCH,
            "roles",
            body.clone(),
            None,
        )
    }

    fn update_op(&self, _: &Address, body: &Value) -> Op {
        Op::single(endpoints::role_update(body.clone())).batched(
            ROLE_UPDATE_BATCH,
            "roles",
            body.clone(),
            None,
        )
    }

    fn delete_op(&self, address: &Address, _: &Value, _: bool) -> Op {
        let (tenant, name) = parts(address);
        // Role delete-batch takes one tenantId for all names.
        let shared = tenant.map(|t| json!({"tenantId": t}));
        Op::single(endpoints::role_delete(name, tenant)).batched(
            ROLE_DELETE_BATCH,
            "roleNames",
            json!(name),
            shared,
        )
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        for r in live {
            let role = r.spec::<RoleSpec>();
            out.config.roles.push(RoleConfig {
                name: escape(&role.name),
                tenant: role.tenant.as_deref().map(escape),
                description: role.description.as_deref().map(escape),
                permissions: role
                    .permissions
                    .as_ref()
                    .map(|ps| ps.iter().map(|p| escape(p)).collect()),
                ..Default::default()
            });
            out.addresses.push(r.address.clone());
        }
    }
}
