//! The desired side of a plan: the resolved configuration turned into resources with their
//! dependencies (docs/design.md §1, Resource addresses).

use std::collections::BTreeMap;

use serde_json::Value;

use super::DesiredResource;
use crate::config::Config;
use crate::model::Address;
use crate::secret::Secret;

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
    /// Reads a text file the config names (a certificate's `cert_file`), relative to the
    /// config file.
    pub read_text: &'a dyn Fn(&str) -> Result<String, String>,
}

#[derive(Debug, Default)]
pub struct DesiredGraph {
    pub resources: BTreeMap<Address, DesiredResource>,
    pub secret_fields: Vec<SecretField>,
    /// Things worth saying about the config that do not stop a plan (a certificate that
    /// expires soon).
    pub warnings: Vec<String>,
}

/// Every kind adds what the config declares for it.
pub fn build(input: &DesiredInput<'_>) -> Result<DesiredGraph, Vec<String>> {
    let mut errors = Vec::new();
    let mut graph = DesiredGraph::default();

    for (pointer, var) in input.secrets {
        let kind_accepts = crate::kinds::all()
            .iter()
            .any(|k| k.accepts_secret_at(pointer));
        if !secret_pointer_supported(pointer) && !kind_accepts {
            errors.push(format!(
                "{pointer}: ${{secret:{var}}} is only supported in tenant custom_attributes, environment \
                 management_key and the secret fields of the kinds that have them (other fields are \
                 stored in plan files as they are)"
            ));
        }
    }
    for kind in crate::kinds::all() {
        kind.desired(input, &mut graph, &mut errors);
    }
    if errors.is_empty() {
        Ok(graph)
    } else {
        Err(errors)
    }
}

impl DesiredGraph {
    pub fn insert(&mut self, r: DesiredResource) {
        // Duplicates are reported by validation with positions; the first entry wins here.
        self.resources.entry(r.address.clone()).or_insert(r);
    }

    /// The stand-in of a secret the config states at `pointer` with value `plain`, the live
    /// `attributes` of `address` that hold it masked the same way; `None` when the config
    /// wrote it literally rather than as `${secret:VAR}` (a literal would reach plan files):
    /// the caller reports that in its kind's words.
    pub fn secret_stand_in(
        &mut self,
        input: &DesiredInput<'_>,
        pointer: &str,
        plain: &str,
        address: &Address,
        attributes: &[&str],
    ) -> Option<Value> {
        let var = input.secrets.get(pointer)?;
        for attribute in attributes {
            self.secret_fields.push(SecretField {
                address: address.clone(),
                attribute: attribute.to_string(),
                var: var.clone(),
            });
        }
        Some(crate::secret::SecretRef::new(var, plain, input.key).to_json())
    }
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
            read_text: &|_: &str| Err("no files in this test".to_string()),
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
            read_text: &|_: &str| Err("no files in this test".to_string()),
        })
        .unwrap();
        let text = format!("{:?}", g.resources);
        assert!(!text.contains("s3cr3t-value"));
        assert!(text.contains("ACME_TOKEN"));
        assert_eq!(g.secret_fields.len(), 1);
    }
}
