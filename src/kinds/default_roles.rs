//! A tenant's default roles (`tenant_default_roles.<id>`): the roles new users of the tenant
//! get. Read from the tenant object, written with `updateDefaultRoles`, a separate operation
//! because the roles must exist first (docs/design.md §1, Resource addresses). A tenant role of
//! the configured name wins over a project role.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::tenant::LIST as TENANTS;
use super::{
    Fields, KindInfo, LiveContext, LiveRead, ReadFuture, ReadScope, Reference, ResourceKind, Spec,
};
use crate::api::endpoints;
use crate::config::exported::{escape, Exported};
use crate::model::{Address, Kind};
use crate::plan::Op;
use crate::resource::desired::{DesiredGraph, DesiredInput};
use crate::resource::live::{string_field, string_list, LiveGraph, LiveSnapshot};
use crate::resource::{dedup, sorted_set, DesiredResource, LiveResource};
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRolesSpec {
    pub tenant: String,
    /// Sorted role names.
    pub roles: Vec<String>,
}

impl Spec for DefaultRolesSpec {
    fn fields(&self) -> Fields {
        let mut m = Fields::new();
        m.insert("default_roles", json!(self.roles));
        m
    }
}

pub struct DefaultRolesKind;

pub const KIND: Kind = Kind::named("tenant_default_roles");

const INFO: KindInfo = KindInfo::new(KIND, "Tenant default roles", &["default_roles"]);

impl Address {
    pub fn default_roles(tenant: impl Into<String>) -> Self {
        Address::new(KIND, tenant)
    }
}

fn tenant_of(address: &Address) -> &str {
    address.key()
}

impl ResourceKind for DefaultRolesKind {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn desired(&self, input: &DesiredInput<'_>, out: &mut DesiredGraph, _: &mut Vec<String>) {
        let tenant_roles: BTreeSet<(&str, &str)> = input
            .config
            .roles
            .iter()
            .filter_map(|r| r.tenant.as_deref().map(|t| (t, r.name.as_str())))
            .collect();
        for t in &input.config.tenants {
            let Some(roles) = &t.default_roles else {
                continue;
            };
            if t.ignore_changes.iter().any(|f| f == "default_roles") {
                continue;
            }
            let mut deps = vec![Address::tenant(&t.id)];
            for name in roles {
                let scoped = tenant_roles.contains(&(t.id.as_str(), name.as_str()));
                deps.push(Address::role(scoped.then_some(t.id.as_str()), name));
            }
            out.insert(DesiredResource::new(
                Address::default_roles(&t.id),
                DefaultRolesSpec {
                    tenant: t.id.clone(),
                    roles: sorted_set(roles.iter().cloned()),
                },
                dedup(deps),
                false,
                false,
                vec![],
            ));
        }
    }

    fn read<'a>(&'a self, io: LiveRead<'a>, _: &'a ReadScope) -> ReadFuture<'a> {
        // Shared with the tenants' read: no request when tenants were read already.
        Box::pin(
            io.snapshot
                .read_list(io.gateway, endpoints::tenant_load_all(), TENANTS),
        )
    }

    fn read_count(&self, _: &ReadScope) -> usize {
        0
    }

    fn read_one<'a>(&'a self, io: LiveRead<'a>, address: &'a Address) -> ReadFuture<'a> {
        let tenant = Address::tenant(tenant_of(address));
        Box::pin(async move { super::of(super::tenant::KIND).read_one(io, &tenant).await })
    }

    fn live(&self, snapshot: &LiveSnapshot, _: &LiveContext<'_>, out: &mut LiveGraph) {
        for t in snapshot.list(TENANTS) {
            let t = &t;
            let id = string_field(t, "id");
            if id.is_empty() {
                continue;
            }
            let roles = sorted_set(string_list(t, "defaultRoles"));
            out.insert(LiveResource::new(
                Address::default_roles(&id),
                DefaultRolesSpec {
                    tenant: id.clone(),
                    roles: roles.clone(),
                },
                json!({"id": id, "defaultRoles": roles}),
                false,
            ));
        }
    }

    fn owner(&self, address: &Address) -> Option<Address> {
        Some(Address::tenant(tenant_of(address)))
    }

    fn references(&self, spec: &dyn Spec) -> Vec<Reference> {
        let Some(d) = super::spec_of::<DefaultRolesSpec>(spec) else {
            return vec![];
        };
        // Empty default roles are lost with nothing to recreate when the tenant is replaced.
        let mut refs = if d.roles.is_empty() {
            vec![Reference::Uses(Address::tenant(&d.tenant))]
        } else {
            vec![Reference::OwnedBy(Address::tenant(&d.tenant))]
        };
        // The tenant's own role of that name, else the project role.
        for name in &d.roles {
            refs.push(Reference::UsesOneOf(vec![
                Address::role(Some(&d.tenant), name),
                Address::role(None, name),
            ]));
        }
        refs
    }

    fn deletable(&self) -> bool {
        // Default roles go with their tenant; there is nothing to delete on its own.
        false
    }

    fn reports_unmanaged(&self) -> bool {
        false
    }

    fn create_body(&self, d: &DesiredResource) -> Value {
        let dr = d.spec::<DefaultRolesSpec>();
        json!({"id": dr.tenant, "defaultRoles": dr.roles})
    }

    fn create_op(&self, address: &Address, body: &Value) -> Op {
        let roles = string_list(body, "defaultRoles");
        Op::single(endpoints::tenant_update_default_roles(
            tenant_of(address),
            &roles,
        ))
    }

    fn delete_op(&self, address: &Address, _: &Value, _: bool) -> Op {
        self.create_op(address, &json!({"defaultRoles": []}))
    }

    fn read_saved(&self, address: &Address, object: &Value, _: &Secret) -> Option<LiveResource> {
        let roles = sorted_set(string_list(object, "defaultRoles"));
        Some(LiveResource::new(
            address.clone(),
            DefaultRolesSpec {
                tenant: tenant_of(address).to_string(),
                roles,
            },
            object.clone(),
            false,
        ))
    }

    fn export(&self, live: &[&LiveResource], _: &LiveSnapshot, out: &mut Exported) {
        for r in live {
            let d = r.spec::<DefaultRolesSpec>();
            if let Some(t) = out
                .config
                .tenants
                .iter_mut()
                .find(|t| t.id == escape(&d.tenant))
            {
                t.default_roles = Some(d.roles.iter().map(|r| escape(r)).collect());
            }
            out.addresses.push(r.address.clone());
        }
    }
}
