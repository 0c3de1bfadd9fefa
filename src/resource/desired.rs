//! The desired side of a plan: the resolved configuration turned into resources with their
//! dependencies (docs/design.md §1, Resource addresses).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::documents::{flow_form, normalize, theme_form};
use super::{
    sorted_set, DefaultRolesSpec, DesiredResource, DocumentSpec, PermissionSpec, RoleSpec, Spec,
    TenantSpec,
};
use crate::config::Config;
use crate::model::Address;
use crate::secret::{Secret, SecretRef};

/// A custom attribute whose value came from `${secret:VAR}`: the desired value is its stand-in,
/// and the live value of the same attribute is replaced the same way before comparing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretField {
    pub address: Address,
    pub attribute: String,
    pub var: String,
}

pub struct DesiredInput<'a> {
    pub config: &'a Config,
    /// JSON pointer into `config` → variable name, for values that came from `${secret:VAR}`.
    pub secrets: &'a BTreeMap<String, String>,
    /// Keys the HMAC of secret stand-ins.
    pub key: &'a Secret,
    /// Reads a flow or theme document named in the config (path relative to the config file).
    pub read_document: &'a dyn Fn(&str) -> Result<Value, String>,
}

#[derive(Debug, Default)]
pub struct DesiredGraph {
    pub resources: BTreeMap<Address, DesiredResource>,
    pub secret_fields: Vec<SecretField>,
}

pub fn build(input: &DesiredInput<'_>) -> Result<DesiredGraph, Vec<String>> {
    let cfg = input.config;
    let mut errors = Vec::new();
    let mut graph = DesiredGraph::default();

    for (pointer, var) in input.secrets {
        if !secret_pointer_supported(pointer) {
            errors.push(format!(
                "{pointer}: ${{secret:{var}}} is only supported in tenant custom_attributes and environment \
                 management_key (other fields are stored in plan files as they are)"
            ));
        }
    }

    for p in &cfg.permissions {
        insert(
            &mut graph,
            DesiredResource {
                address: Address::permission(&p.name),
                spec: Spec::Permission(PermissionSpec {
                    name: p.name.clone(),
                    description: p.description.clone(),
                }),
                depends_on: vec![],
                protect: p.protect,
                delete_cascade: false,
                ignore_changes: p.ignore_changes.clone(),
            },
        );
    }

    let tenant_roles: BTreeSet<(String, String)> = cfg
        .roles
        .iter()
        .filter_map(|r| r.tenant.clone().map(|t| (t, r.name.clone())))
        .collect();

    for r in &cfg.roles {
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
        insert(
            &mut graph,
            DesiredResource {
                address: Address::role(tenant, &r.name),
                spec: Spec::Role(RoleSpec {
                    name: r.name.clone(),
                    tenant: tenant.map(str::to_string),
                    description: r.description.clone(),
                    permissions: r.permissions.clone().map(sorted_set),
                }),
                depends_on: dedup(deps),
                protect: r.protect,
                delete_cascade: false,
                ignore_changes: r.ignore_changes.clone(),
            },
        );
    }

    for (i, t) in cfg.tenants.iter().enumerate() {
        let address = Address::tenant(&t.id);
        let mut custom_attributes = t.custom_attributes.clone();
        if let Some(attrs) = custom_attributes.as_mut() {
            for (key, value) in attrs.iter_mut() {
                let pointer = format!("/tenants/{i}/custom_attributes/{}", escape_pointer(key));
                if let Some(var) = input.secrets.get(&pointer) {
                    let plain = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| value.to_string());
                    *value = SecretRef::new(var, &plain, input.key).to_json();
                    graph.secret_fields.push(SecretField {
                        address: address.clone(),
                        attribute: key.clone(),
                        var: var.clone(),
                    });
                }
            }
        }
        let ignore: Vec<String> = t.ignore_changes.clone();
        insert(
            &mut graph,
            DesiredResource {
                address: address.clone(),
                spec: Spec::Tenant(TenantSpec {
                    id: t.id.clone(),
                    name: Some(t.name.clone()),
                    domains: t
                        .domains
                        .clone()
                        .map(|d| sorted_set(d.into_iter().map(|d| d.to_ascii_lowercase()))),
                    parent: t.parent.clone().filter(|p| !p.is_empty()),
                    custom_attributes,
                    enforce_sso: t.enforce_sso,
                    disabled: t.disabled,
                }),
                depends_on: t
                    .parent
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(Address::tenant)
                    .collect(),
                protect: t.protect,
                delete_cascade: t.delete_cascade,
                ignore_changes: ignore.clone(),
            },
        );
        if let Some(roles) = &t.default_roles {
            if ignore.iter().any(|f| f == "default_roles") {
                continue;
            }
            let mut deps = vec![address.clone()];
            for name in roles {
                // A tenant role of that name wins over a project role (issue 2's rule).
                let scoped = tenant_roles.contains(&(t.id.clone(), name.clone()));
                deps.push(Address::role(scoped.then_some(t.id.as_str()), name));
            }
            insert(
                &mut graph,
                DesiredResource {
                    address: Address::default_roles(&t.id),
                    spec: Spec::DefaultRoles(DefaultRolesSpec {
                        tenant: t.id.clone(),
                        roles: sorted_set(roles.iter().cloned()),
                    }),
                    depends_on: dedup(deps),
                    protect: false,
                    delete_cascade: false,
                    ignore_changes: vec![],
                },
            );
        }
    }

    for f in &cfg.flows {
        match (input.read_document)(&f.file) {
            Ok(doc) => insert(
                &mut graph,
                DesiredResource {
                    address: Address::flow(&f.id),
                    spec: Spec::Flow(DocumentSpec {
                        form: flow_form(&doc),
                        document: normalize(&doc),
                    }),
                    depends_on: vec![],
                    protect: f.protect,
                    delete_cascade: false,
                    ignore_changes: f.ignore_changes.clone(),
                },
            ),
            Err(e) => errors.push(format!("flow.{}: {e}", f.id)),
        }
    }

    if let Some(theme) = &cfg.theme {
        match (input.read_document)(&theme.file) {
            Ok(doc) => insert(
                &mut graph,
                DesiredResource {
                    address: Address::Theme,
                    spec: Spec::Theme(DocumentSpec {
                        form: theme_form(&doc),
                        document: normalize(&doc),
                    }),
                    depends_on: vec![],
                    protect: theme.protect,
                    delete_cascade: false,
                    ignore_changes: theme.ignore_changes.clone(),
                },
            ),
            Err(e) => errors.push(format!("theme: {e}")),
        }
    }

    if errors.is_empty() {
        Ok(graph)
    } else {
        Err(errors)
    }
}

fn insert(graph: &mut DesiredGraph, r: DesiredResource) {
    // Duplicates are reported by validation with positions; the first entry wins here.
    graph.resources.entry(r.address.clone()).or_insert(r);
}

fn dedup(v: Vec<Address>) -> Vec<Address> {
    v.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn secret_pointer_supported(pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').collect();
    matches!(parts.as_slice(), ["", "tenants", _, "custom_attributes", _])
        || matches!(parts.as_slice(), ["", "environments", _, "management_key"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RoleConfig, TenantConfig};

    fn no_docs(_: &str) -> Result<Value, String> {
        Err("no documents in this test".into())
    }

    #[test]
    fn default_roles_prefer_the_tenant_role_and_depend_on_it() {
        let cfg = Config {
            version: 1,
            roles: vec![
                RoleConfig {
                    name: "viewer".into(),
                    tenant: Some("acme".into()),
                    ..Default::default()
                },
                RoleConfig {
                    name: "admin".into(),
                    ..Default::default()
                },
            ],
            tenants: vec![TenantConfig {
                id: "acme".into(),
                name: "Acme".into(),
                default_roles: Some(vec!["viewer".into(), "admin".into()]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let key = Secret::new("k");
        let g = build(&DesiredInput {
            config: &cfg,
            secrets: &BTreeMap::new(),
            key: &key,
            read_document: &no_docs,
        })
        .unwrap();
        let d = &g.resources[&Address::default_roles("acme")];
        let deps: Vec<String> = d.depends_on.iter().map(|a| a.to_string()).collect();
        assert_eq!(deps, ["role.acme/viewer", "role.admin", "tenant.acme"]);
    }

    #[test]
    fn secret_custom_attributes_become_stand_ins() {
        let mut attrs = BTreeMap::new();
        attrs.insert("token".to_string(), Value::from("s3cr3t-value"));
        let cfg = Config {
            version: 1,
            tenants: vec![TenantConfig {
                id: "acme".into(),
                name: "Acme".into(),
                custom_attributes: Some(attrs),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "/tenants/0/custom_attributes/token".to_string(),
            "ACME_TOKEN".to_string(),
        );
        let key = Secret::new("k");
        let g = build(&DesiredInput {
            config: &cfg,
            secrets: &secrets,
            key: &key,
            read_document: &no_docs,
        })
        .unwrap();
        let text = format!("{:?}", g.resources);
        assert!(!text.contains("s3cr3t-value"));
        assert!(text.contains("ACME_TOKEN"));
        assert_eq!(g.secret_fields.len(), 1);
    }
}
