//! The exact request bodies a plan will send. Descope's updates override the whole object, so
//! an update body is the live object with only the managed fields replaced (read-modify-write,
//! docs/design.md §2): fields the config does not manage are carried over as they are.

use serde_json::{json, Map, Value};

use crate::resource::{DesiredResource, DocForm, DocumentSpec, Spec};

/// Tenant fields the update endpoint accepts (docs/descope-api.md §4); everything else the load
/// returns (createdTime, successors, parent, defaultRoles, domains) is read-only there.
const TENANT_UPDATABLE: &[&str] = &[
    "id",
    "name",
    "selfProvisioningDomains",
    "customAttributes",
    "enforceSSO",
    "enforceSSOExclusions",
    "federatedAppIds",
    "disabled",
    "roleInheritance",
    "authType",
];

fn ignored(d: &DesiredResource, field: &str) -> bool {
    d.ignore_changes.iter().any(|f| f == field)
}

/// Body for creating the resource (also the second half of a replace).
pub fn create_body(d: &DesiredResource) -> Value {
    match &d.spec {
        Spec::Permission(p) => {
            let mut m = Map::new();
            m.insert("name".into(), json!(p.name));
            if let Some(desc) = &p.description {
                m.insert("description".into(), json!(desc));
            }
            Value::Object(m)
        }
        Spec::Role(r) => {
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
        Spec::Tenant(t) => {
            let mut m = Map::new();
            m.insert("id".into(), json!(t.id));
            m.insert(
                "name".into(),
                json!(t.name.clone().unwrap_or_else(|| t.id.clone())),
            );
            m.insert(
                "selfProvisioningDomains".into(),
                json!(t.domains.clone().unwrap_or_default()),
            );
            if let Some(attrs) = &t.custom_attributes {
                m.insert("customAttributes".into(), json!(attrs));
            }
            m.insert("enforceSSO".into(), json!(t.enforce_sso.unwrap_or(false)));
            m.insert("disabled".into(), json!(t.disabled.unwrap_or(false)));
            if let Some(p) = &t.parent {
                m.insert("parent".into(), json!(p));
            }
            Value::Object(m)
        }
        Spec::DefaultRoles(dr) => json!({"id": dr.tenant, "defaultRoles": dr.roles}),
        Spec::Flow(doc) => flow_import_body(d.address.to_string().trim_start_matches("flow."), doc),
        Spec::Theme(doc) => theme_import_body(doc),
    }
}

/// Body for updating `live` (the object as read) to the desired managed fields.
pub fn update_body(d: &DesiredResource, live: &Value) -> Value {
    match &d.spec {
        Spec::Permission(p) => {
            let description = match (&p.description, ignored(d, "description")) {
                (Some(desc), false) => json!(desc),
                _ => live.get("description").cloned().unwrap_or(json!("")),
            };
            json!({"name": p.name, "newName": p.name, "description": description})
        }
        Spec::Role(r) => {
            let description = match (&r.description, ignored(d, "description")) {
                (Some(desc), false) => json!(desc),
                _ => live.get("description").cloned().unwrap_or(json!("")),
            };
            let permissions = match (&r.permissions, ignored(d, "permissions")) {
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
        Spec::Tenant(t) => {
            let mut m = Map::new();
            if let Some(obj) = live.as_object() {
                for key in TENANT_UPDATABLE {
                    if let Some(v) = obj.get(*key) {
                        m.insert((*key).into(), v.clone());
                    }
                }
            }
            m.insert("id".into(), json!(t.id));
            let mut set = |field: &str, key: &str, v: Option<Value>| {
                if let (Some(v), false) = (v, ignored(d, field)) {
                    m.insert(key.into(), v);
                }
            };
            set("name", "name", t.name.clone().map(Value::from));
            set(
                "domains",
                "selfProvisioningDomains",
                t.domains.clone().map(|v| json!(v)),
            );
            set(
                "custom_attributes",
                "customAttributes",
                t.custom_attributes.clone().map(|v| json!(v)),
            );
            set("enforce_sso", "enforceSSO", t.enforce_sso.map(Value::from));
            set("disabled", "disabled", t.disabled.map(Value::from));
            Value::Object(m)
        }
        Spec::DefaultRoles(_) | Spec::Flow(_) | Spec::Theme(_) => create_body(d),
    }
}

fn flow_import_body(id: &str, doc: &DocumentSpec) -> Value {
    match doc.form {
        DocForm::V1 => {
            let flow = doc.document.get("flow").cloned().unwrap_or(json!({}));
            let screens = doc.document.get("screens").cloned().unwrap_or(json!([]));
            json!({"flowId": id, "flow": flow, "screens": screens})
        }
        DocForm::V2 => {
            let mut flow = doc
                .document
                .get("flow")
                .cloned()
                .unwrap_or_else(|| doc.document.clone());
            if let Some(o) = flow.as_object_mut() {
                o.insert("flowId".into(), json!(id));
            }
            json!({"flow": flow})
        }
    }
}

fn theme_import_body(doc: &DocumentSpec) -> Value {
    let theme = doc
        .document
        .get("theme")
        .cloned()
        .unwrap_or_else(|| doc.document.clone());
    json!({"theme": theme})
}
