//! The live side of a plan: objects as Descope returned them (from the fewest list calls),
//! normalized into the same resource model as the config.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::desired::SecretField;
use super::documents::{flow_form, normalize, theme_form};
use super::{
    sorted_set, DefaultRolesSpec, DocForm, DocumentSpec, LiveResource, PermissionSpec, RoleSpec,
    Spec, TenantSpec,
};
use crate::model::builtin::{is_builtin_role, is_system_permission};
use crate::model::Address;
use crate::secret::{Secret, SecretRef};

/// What was read from the project, as the API returned it.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    pub permissions: Vec<Value>,
    pub roles: Vec<Value>,
    pub tenants: Vec<Value>,
    /// `flow/list` entries.
    pub flows: Vec<Value>,
    /// Exports of the configured flows, by id, in the form the config's file has.
    pub flow_exports: BTreeMap<String, Value>,
    /// Theme export, when the config manages the theme, in the config file's form.
    pub theme: Option<Value>,
    /// The theme's v1 export when `theme` is in v2 form: fingerprints are always taken over
    /// the v1 export, so every command (plan, apply, drift, state import, restore) agrees.
    pub theme_v1: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct LiveGraph {
    pub resources: BTreeMap<Address, LiveResource>,
    /// Objects the API returned that could not be read (no id, wrong type); reported, not fatal.
    pub warnings: Vec<String>,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn b(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// The strings of the list at `v[k]`; missing or mistyped counts as empty (tolerant reading).
pub fn string_list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn build(snapshot: &LiveSnapshot, secret_fields: &[SecretField], key: &Secret) -> LiveGraph {
    let mut g = LiveGraph::default();

    for p in &snapshot.permissions {
        let name = s(p, "name");
        if name.is_empty() {
            g.warnings
                .push(format!("permission without a name ignored: {p}"));
            continue;
        }
        let address = Address::permission(&name);
        g.resources.insert(
            address.clone(),
            LiveResource {
                address,
                system: b(p, "systemDefault") || is_system_permission(&name),
                spec: Spec::Permission(PermissionSpec {
                    name,
                    description: Some(s(p, "description")),
                }),
                raw: p.clone(),
            },
        );
    }

    for r in &snapshot.roles {
        let name = s(r, "name");
        if name.is_empty() {
            g.warnings.push(format!("role without a name ignored: {r}"));
            continue;
        }
        let tenant = Some(s(r, "tenantId")).filter(|t| !t.is_empty());
        let address = Address::role(tenant.as_deref(), &name);
        g.resources.insert(
            address.clone(),
            LiveResource {
                address,
                system: tenant.is_none() && is_builtin_role(&name),
                spec: Spec::Role(RoleSpec {
                    name,
                    tenant,
                    description: Some(s(r, "description")),
                    permissions: Some(sorted_set(string_list(r, "permissionNames"))),
                }),
                raw: r.clone(),
            },
        );
    }

    for t in &snapshot.tenants {
        let id = s(t, "id");
        if id.is_empty() {
            g.warnings
                .push(format!("tenant without an id ignored: {t}"));
            continue;
        }
        let address = Address::tenant(&id);
        let mut raw = t.clone();
        for f in secret_fields.iter().filter(|f| f.address == address) {
            mask_attribute(&mut raw, &f.attribute, &f.var, key);
        }
        let custom_attributes: BTreeMap<String, Value> = raw
            .get("customAttributes")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let spec = TenantSpec {
            id: id.clone(),
            name: Some(s(t, "name")),
            domains: Some(sorted_set(
                string_list(t, "selfProvisioningDomains")
                    .into_iter()
                    .map(|d| d.to_ascii_lowercase()),
            )),
            // An answer without `parent` says nothing about it: unknown, never a replace.
            parent: t
                .get("parent")
                .map(|p| p.as_str().unwrap_or_default().to_string()),
            custom_attributes: Some(custom_attributes),
            enforce_sso: Some(b(t, "enforceSSO")),
            disabled: Some(b(t, "disabled")),
        };
        let roles = sorted_set(string_list(t, "defaultRoles"));
        let dr_address = Address::default_roles(&id);
        g.resources.insert(
            dr_address.clone(),
            LiveResource {
                address: dr_address,
                raw: json!({"id": id, "defaultRoles": roles}),
                spec: Spec::DefaultRoles(DefaultRolesSpec {
                    tenant: id.clone(),
                    roles,
                }),
                system: false,
            },
        );
        g.resources.insert(
            address.clone(),
            LiveResource {
                address,
                spec: Spec::Tenant(spec),
                raw,
                system: false,
            },
        );
    }

    for f in &snapshot.flows {
        let id = s(f, "id");
        if id.is_empty() {
            continue;
        }
        let address = Address::flow(&id);
        let spec = match snapshot.flow_exports.get(&id) {
            Some(doc) => DocumentSpec {
                form: flow_form(doc),
                document: normalize(doc),
            },
            // Not configured, so not exported: only its list entry is known.
            None => DocumentSpec {
                form: DocForm::V1,
                document: Value::Null,
            },
        };
        g.resources.insert(
            address.clone(),
            LiveResource {
                address,
                spec: Spec::Flow(spec),
                raw: f.clone(),
                system: false,
            },
        );
    }

    if let Some(theme) = &snapshot.theme {
        g.resources.insert(
            Address::Theme,
            LiveResource {
                address: Address::Theme,
                spec: Spec::Theme(DocumentSpec {
                    form: theme_form(theme),
                    document: normalize(theme),
                }),
                raw: snapshot.theme_v1.clone().unwrap_or_else(|| theme.clone()),
                system: false,
            },
        );
    }

    g
}

fn mask_attribute(raw: &mut Value, attribute: &str, var: &str, key: &Secret) {
    let Some(attrs) = raw
        .get_mut("customAttributes")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(v) = attrs.get_mut(attribute) {
        let plain = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        *v = SecretRef::new(var, &plain, key).to_json();
    }
}

/// Replace stand-ins `{"secret": VAR, "hmac": …}` in a body by the variable's value, just
/// before sending. The caller has checked the HMAC (apply refuses when a secret changed).
pub fn unmask(body: &Value, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Value, String> {
    match body {
        Value::Object(o) if o.len() == 2 && o.contains_key("secret") && o.contains_key("hmac") => {
            let var = o["secret"].as_str().unwrap_or_default();
            resolve(var)
                .map(Value::from)
                .ok_or_else(|| format!("secret variable {var} is not set"))
        }
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                out.insert(k.clone(), unmask(v, resolve)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|v| unmask(v, resolve))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Custom attributes of a tenant object or body that hold secret stand-ins: attribute → VAR.
pub fn secret_attributes(body: &Value) -> BTreeMap<String, String> {
    body.get("customAttributes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let var = v.get("secret").and_then(Value::as_str)?;
            v.get("hmac")?;
            Some((k.clone(), var.to_string()))
        })
        .collect()
}

/// Every secret stand-in inside a body, as (variable, hmac).
pub fn secret_refs(body: &Value, out: &mut Vec<SecretRef>) {
    match body {
        Value::Object(o) if o.len() == 2 && o.contains_key("secret") && o.contains_key("hmac") => {
            if let (Some(s), Some(h)) = (o["secret"].as_str(), o["hmac"].as_str()) {
                out.push(SecretRef {
                    secret: s.to_string(),
                    hmac: h.to_string(),
                });
            }
        }
        Value::Object(o) => o.values().for_each(|v| secret_refs(v, out)),
        Value::Array(a) => a.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_read_tolerantly_and_parent_missing_is_unknown() {
        let snap = LiveSnapshot {
            tenants: vec![
                json!({"id":"a","name":"A","selfProvisioningDomains":["B.com","a.com"],"extra":1}),
                json!({"id":"b","name":"B","parent":"a","defaultRoles":["x"]}),
            ],
            ..Default::default()
        };
        let g = build(&snap, &[], &Secret::new("k"));
        let Spec::Tenant(a) = &g.resources[&Address::tenant("a")].spec else {
            panic!()
        };
        assert_eq!(a.parent, None);
        assert_eq!(a.domains.as_deref().unwrap(), ["a.com", "b.com"]);
        assert_eq!(a.disabled, Some(false));
        let Spec::Tenant(bt) = &g.resources[&Address::tenant("b")].spec else {
            panic!()
        };
        assert_eq!(bt.parent.as_deref(), Some("a"));
        let Spec::DefaultRoles(d) = &g.resources[&Address::default_roles("b")].spec else {
            panic!()
        };
        assert_eq!(d.roles, ["x"]);
    }

    #[test]
    fn secrets_are_masked_and_unmasked() {
        let snap = LiveSnapshot {
            tenants: vec![json!({"id":"a","name":"A","customAttributes":{"token":"plain-secret"}})],
            ..Default::default()
        };
        let key = Secret::new("k");
        let sf = [SecretField {
            address: Address::tenant("a"),
            attribute: "token".into(),
            var: "TOK".into(),
        }];
        let g = build(&snap, &sf, &key);
        let raw = &g.resources[&Address::tenant("a")].raw;
        assert!(!raw.to_string().contains("plain-secret"));
        let back = unmask(raw, &|v| (v == "TOK").then(|| "plain-secret".to_string())).unwrap();
        assert_eq!(back["customAttributes"]["token"], "plain-secret");
        assert!(unmask(raw, &|_| None).is_err());
    }
}
