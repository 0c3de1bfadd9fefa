//! The emulated project. Typed internally so the handlers stay simple; the `*_json` accessors
//! render objects exactly as Descope's API returns them (docs/descope-api.md §4-7), which is what
//! tests compare against.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub self_provisioning_domains: Vec<String>,
    pub custom_attributes: Map<String, Value>,
    pub auth_type: String,
    pub domains: Vec<String>,
    pub created_time: i64,
    pub disabled: bool,
    #[serde(rename = "enforceSSO")]
    pub enforce_sso: bool,
    #[serde(rename = "enforceSSOExclusions")]
    pub enforce_sso_exclusions: Vec<String>,
    pub federated_app_ids: Vec<String>,
    /// Parent tenant id, "" for a root tenant. Set only at creation.
    pub parent: String,
    pub default_roles: Vec<String>,
    pub role_inheritance: String,
    pub settings: TenantSettings,
    /// The tenant's own password settings; `None` inherits the project's (docs/emulator.md).
    pub password_settings: Option<PasswordSettings>,
}

/// Password settings (docs/descope-api.md §14), rendered exactly as the load answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordSettings {
    pub enabled: bool,
    pub min_length: i64,
    pub lowercase: bool,
    pub uppercase: bool,
    pub number: bool,
    pub non_alphanumeric: bool,
    pub expiration: bool,
    pub expiration_weeks: i64,
    pub reuse: bool,
    pub reuse_amount: i64,
    pub lock: bool,
    pub lock_attempts: i64,
}

/// The emulator's defaults for a new project ([unverified] in docs/descope-api.md §14).
impl Default for PasswordSettings {
    fn default() -> Self {
        PasswordSettings {
            enabled: true,
            min_length: 8,
            lowercase: false,
            uppercase: false,
            number: false,
            non_alphanumeric: false,
            expiration: false,
            expiration_weeks: 0,
            reuse: false,
            reuse_amount: 0,
            lock: false,
            lock_attempts: 0,
        }
    }
}

/// The session settings that live only behind `/v1/mgmt/tenant/settings`; the fields shared with
/// the tenant object (domains, authType, SSO enforcement) stay on `Tenant`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TenantSettings {
    pub enabled: bool,
    pub refresh_token_expiration: i64,
    pub refresh_token_expiration_unit: String,
    pub session_token_expiration: i64,
    pub session_token_expiration_unit: String,
    pub stepup_token_expiration: i64,
    pub stepup_token_expiration_unit: String,
    pub enable_inactivity: bool,
    pub inactivity_time: i64,
    pub inactivity_time_unit: String,
    #[serde(rename = "JITDisabled")]
    pub jit_disabled: bool,
    pub sso_setup_suite_settings: Map<String, Value>,
}

/// Serialises to exactly Descope's role object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub permission_names: Vec<String>,
    pub created_time: i64,
    /// "" for a project-level role.
    pub tenant_id: String,
    pub default: bool,
    pub private: bool,
}

/// Serialises to exactly Descope's permission object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permission {
    pub id: String,
    pub name: String,
    pub description: String,
    pub system_default: bool,
}

/// A flow kept in the v1 form (`dsl` plus screens); v2 documents are converted on the way in
/// and out, as docs/descope-api.md §7 describes the correspondence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Flow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub disabled: bool,
    pub version: u64,
    pub etag: String,
    pub modified_time: i64,
    pub components_version: String,
    /// v2 `metadata.fingerprint`: a setting the user imports (beside `disabled`), not a server
    /// field; kept as sent.
    pub fingerprint: String,
    pub dsl: Value,
    /// v1 screens: `{id, flowId, inputs, interactions, htmlTemplate}`.
    pub screens: Vec<Value>,
    pub references: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Theme {
    pub id: String,
    pub version: u64,
    pub css_template: Value,
    pub components_version: String,
    pub code_mode: bool,
    pub references: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectData {
    pub tenants: Vec<Tenant>,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
    pub flows: Vec<Flow>,
    pub theme: Theme,
    pub password_settings: PasswordSettings,
    pub lists: Vec<NamedList>,
    pub fga_schema: FgaSchema,
    pub project: ProjectInfo,
    pub outbound_apps: Vec<OutboundApp>,
    pub access_keys: Vec<AccessKey>,
    pub sso_apps: Vec<StoredApp>,
    pub third_party_apps: Vec<StoredApp>,
    pub sso: Vec<SsoConfig>,
}

/// An SSO application (docs/descope-api.md §13) or a third-party application (§19): `app` is
/// exactly what a load answers; the secret is kept beside it, never in a load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredApp {
    pub id: String,
    pub app: Value,
    pub cleartext: String,
}

/// The FGA schema (docs/descope-api.md §15): the DSL as last saved, and how many saves made it
/// (0: never saved).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FgaSchema {
    pub dsl: String,
    pub version: u64,
}

/// The project's own name and tags (docs/descope-api.md §16).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectInfo {
    /// The id the emulator serves (`EmulatorOptions::project_id`), set at every start: it is
    /// the server's, not the project file's.
    #[serde(skip)]
    pub id: String,
    pub name: String,
    pub environment: String,
    pub tags: Vec<String>,
}

/// An outbound application (docs/descope-api.md §19). URL parameters are kept as sent (PY
/// `{name, value}`, GO `{key, value}`); `client_secret` is write-only: kept, never rendered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OutboundApp {
    pub id: String,
    pub name: String,
    pub description: String,
    pub template_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub logo: String,
    pub discovery_url: String,
    pub authorization_url: String,
    pub authorization_url_params: Vec<Value>,
    pub token_url: String,
    pub token_url_params: Vec<Value>,
    pub revocation_url: String,
    pub default_scopes: Vec<String>,
    pub default_redirect_url: String,
    pub callback_domain: String,
    pub pkce: bool,
    pub access_type: String,
    pub prompt: Vec<String>,
}

impl OutboundApp {
    /// Exactly Descope's app object (GO `types.go` `OutboundApp`): everything but the secret.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("clientSecret");
        }
        v
    }
}

/// An access key (docs/descope-api.md §17). The cleartext itself is never kept: only its
/// sha256, as a server that checks keys would, so a state file holds no usable secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessKey {
    pub id: String,
    pub name: String,
    pub role_names: Vec<String>,
    pub key_tenants: Vec<KeyTenant>,
    /// `active` or `inactive`.
    pub status: String,
    pub created_time: i64,
    /// Epoch seconds; 0 = never.
    pub expire_time: i64,
    pub created_by: String,
    pub client_id: String,
    pub bound_user_id: String,
    pub custom_claims: Map<String, Value>,
    pub description: String,
    pub permitted_ips: Vec<String>,
    pub custom_attributes: Map<String, Value>,
    /// Hex sha256 of the current cleartext (not part of the API's object).
    pub cleartext_sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyTenant {
    pub tenant_id: String,
    pub role_names: Vec<String>,
}

impl AccessKey {
    /// Exactly Descope's key object; `tenantName` is the tenant's name now.
    pub fn to_json(&self, d: &ProjectData) -> Value {
        let tenants: Vec<Value> = self
            .key_tenants
            .iter()
            .map(|t| {
                let name = d.tenant(&t.tenant_id).map(|x| x.name.clone());
                json!({
                    "tenantId": t.tenant_id,
                    "tenantName": name.unwrap_or_default(),
                    "roleNames": t.role_names,
                })
            })
            .collect();
        json!({
            "id": self.id,
            "name": self.name,
            "roleNames": self.role_names,
            "keyTenants": tenants,
            "status": self.status,
            "createdTime": self.created_time,
            "expireTime": self.expire_time,
            "createdBy": self.created_by,
            "clientId": self.client_id,
            "boundUserId": self.bound_user_id,
            "customClaims": self.custom_claims,
            "description": self.description,
            "permittedIps": self.permitted_ips,
            "customAttributes": self.custom_attributes,
        })
    }
}

/// One SSO configuration of a tenant (docs/descope-api.md §11). `saml` and `oidc` are kept in
/// the load shape; what the load never shows is kept beside them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SsoConfig {
    pub tenant_id: String,
    /// "" for the tenant's default configuration.
    pub sso_id: String,
    pub display_name: String,
    /// `none`, `saml` or `oidc`.
    pub auth_type: String,
    pub domains: Vec<String>,
    pub saml: Map<String, Value>,
    pub oidc: Map<String, Value>,
    /// Write-only: sent on configure, never in a load.
    pub client_secret: String,
    pub disable_sign_request: bool,
    pub use_pkce: bool,
}

/// A list (docs/descope-api.md §18): `data` is strings, or an object for a `json` list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamedList {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub list_type: String,
    pub data: Value,
}

impl NamedList {
    /// Exactly Descope's list object.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl ProjectData {
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    pub fn tenant_mut(&mut self, id: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.id == id)
    }

    pub fn list(&self, id: &str) -> Option<&NamedList> {
        self.lists.iter().find(|l| l.id == id)
    }

    pub fn sso_config(&self, tenant_id: &str, sso_id: &str) -> Option<&SsoConfig> {
        self.sso
            .iter()
            .find(|c| c.tenant_id == tenant_id && c.sso_id == sso_id)
    }

    pub fn list_mut(&mut self, id: &str) -> Option<&mut NamedList> {
        self.lists.iter_mut().find(|l| l.id == id)
    }

    pub fn access_key(&self, id: &str) -> Option<&AccessKey> {
        self.access_keys.iter().find(|k| k.id == id)
    }

    pub fn outbound_app(&self, id: &str) -> Option<&OutboundApp> {
        self.outbound_apps.iter().find(|a| a.id == id)
    }

    pub fn children(&self, id: &str) -> Vec<String> {
        self.tenants
            .iter()
            .filter(|t| t.parent == id)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Levels from the root down to `id` (a root tenant is level 1). Bounded by the tenant
    /// count so a parent cycle planted through `mutate` cannot hang the server.
    pub fn depth(&self, id: &str) -> usize {
        let mut depth = 0;
        let mut current = self.tenant(id);
        while let Some(t) = current {
            depth += 1;
            if depth > self.tenants.len() {
                break;
            }
            current = if t.parent.is_empty() {
                None
            } else {
                self.tenant(&t.parent)
            };
        }
        depth
    }

    pub fn role(&self, name: &str, tenant_id: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|r| r.name == name && r.tenant_id == tenant_id)
    }

    pub fn permission(&self, name: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.name == name)
    }

    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.id == id)
    }

    pub fn tenant_json(&self, id: &str) -> Option<Value> {
        let t = self.tenant(id)?;
        Some(Self::render_tenant(t, self.children(&t.id)))
    }

    fn render_tenant(t: &Tenant, successors: Vec<String>) -> Value {
        json!({
            "id": t.id,
            "name": t.name,
            "selfProvisioningDomains": t.self_provisioning_domains,
            "customAttributes": t.custom_attributes,
            "authType": t.auth_type,
            "domains": t.domains,
            "createdTime": t.created_time,
            "disabled": t.disabled,
            "enforceSSO": t.enforce_sso,
            "enforceSSOExclusions": t.enforce_sso_exclusions,
            "federatedAppIds": t.federated_app_ids,
            "parent": t.parent,
            "successors": successors,
            "defaultRoles": t.default_roles,
            "roleInheritance": t.role_inheritance,
        })
    }

    /// Every tenant, with children indexed once (a lookup per tenant made a 50k list take
    /// minutes).
    pub fn tenants_json(&self) -> Vec<Value> {
        let mut children: std::collections::HashMap<&str, Vec<String>> = Default::default();
        for t in &self.tenants {
            children.entry(&t.parent).or_default().push(t.id.clone());
        }
        self.tenants
            .iter()
            .map(|t| Self::render_tenant(t, children.remove(t.id.as_str()).unwrap_or_default()))
            .collect()
    }

    pub fn settings_json(&self, id: &str) -> Option<Value> {
        let t = self.tenant(id)?;
        let s = &t.settings;
        Some(json!({
            "domains": t.domains,
            "selfProvisioningDomains": t.self_provisioning_domains,
            "authType": t.auth_type,
            "enabled": s.enabled,
            "refreshTokenExpiration": s.refresh_token_expiration,
            "refreshTokenExpirationUnit": s.refresh_token_expiration_unit,
            "sessionTokenExpiration": s.session_token_expiration,
            "sessionTokenExpirationUnit": s.session_token_expiration_unit,
            "stepupTokenExpiration": s.stepup_token_expiration,
            "stepupTokenExpirationUnit": s.stepup_token_expiration_unit,
            "enableInactivity": s.enable_inactivity,
            "inactivityTime": s.inactivity_time,
            "inactivityTimeUnit": s.inactivity_time_unit,
            "JITDisabled": s.jit_disabled,
            "ssoSetupSuiteSettings": s.sso_setup_suite_settings,
        }))
    }

    pub fn role_json(&self, name: &str, tenant_id: &str) -> Option<Value> {
        self.role(name, tenant_id).map(to_json)
    }

    pub fn roles_json(&self) -> Vec<Value> {
        self.roles.iter().map(to_json).collect()
    }

    pub fn permissions_json(&self) -> Vec<Value> {
        self.permissions.iter().map(to_json).collect()
    }

    /// A `flow/list` entry.
    pub fn flow_summary_json(f: &Flow) -> Value {
        json!({
            "id": f.id,
            "name": f.name,
            "description": f.description,
            "disabled": f.disabled,
            "version": f.version,
            "etag": f.etag,
            // A string, as Descope's API reference shows it (proto3 JSON writes int64 that way);
            // docs/emulator.md notes that the digits-of-seconds form is a guess.
            "modifiedTime": f.modified_time.to_string(),
            "dsl": f.dsl,
        })
    }

    pub fn flows_json(&self) -> Vec<Value> {
        self.flows.iter().map(Self::flow_summary_json).collect()
    }

    /// The v1 export document `{flow, screens}`.
    pub fn flow_export_v1(&self, id: &str) -> Option<Value> {
        let f = self.flow(id)?;
        Some(json!({
            "flow": {
                "id": f.id,
                "name": f.name,
                "description": f.description,
                "disabled": f.disabled,
                "version": f.version,
                "etag": f.etag,
                // A string, like the flow list's (see flow_summary_json).
                "modifiedTime": f.modified_time.to_string(),
                "dsl": f.dsl,
            },
            "screens": f.screens,
        }))
    }

    /// The v2 export document `{flow: {flowId, metadata, contents, screens, references}}`.
    pub fn flow_export_v2(&self, id: &str) -> Option<Value> {
        let f = self.flow(id)?;
        let screens: Vec<Value> = f
            .screens
            .iter()
            .map(|s| {
                json!({
                    "screenId": s.get("id").cloned().unwrap_or(Value::Null),
                    "interactions": s.get("interactions").cloned().unwrap_or(json!([])),
                    "contents": s.get("htmlTemplate").cloned().unwrap_or(json!({})),
                })
            })
            .collect();
        Some(json!({
            "flow": {
                "flowId": f.id,
                "metadata": {
                    "name": f.name,
                    "description": f.description,
                    "componentsVersion": f.components_version,
                    "disabled": f.disabled,
                    "fingerprint": f.fingerprint,
                },
                "contents": f.dsl,
                "screens": screens,
                "references": non_null_object(&f.references),
            }
        }))
    }

    pub fn theme_export_v1(&self) -> Value {
        let t = &self.theme;
        json!({"theme": {
            "id": t.id,
            "version": t.version,
            "cssTemplate": t.css_template,
            "componentsVersion": t.components_version,
            "codeMode": t.code_mode,
        }})
    }

    pub fn theme_export_v2(&self) -> Value {
        let t = &self.theme;
        json!({"theme": {
            "styles": t.css_template,
            "componentsVersion": t.components_version,
            "references": non_null_object(&t.references),
        }})
    }
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn non_null_object(v: &Value) -> Value {
    if v.is_null() {
        json!({})
    } else {
        v.clone()
    }
}

/// The `omit_defaults` mode: drop top-level fields holding false, "", [], {} or 0, as a server
/// that omits zero values would. Only resource objects go through here, never flow or theme
/// documents, which are the user's own content.
pub fn omit_defaults(v: &mut Value) {
    if let Value::Object(map) = v {
        map.retain(|_, field| !is_default(field));
    }
}

fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_survives_a_parent_cycle() {
        let mut d = ProjectData::default();
        for (id, parent) in [("a", "b"), ("b", "a")] {
            d.tenants.push(Tenant {
                id: id.into(),
                parent: parent.into(),
                ..Default::default()
            });
        }
        assert!(d.depth("a") <= 3);
    }

    #[test]
    fn omit_defaults_keeps_set_fields() {
        let mut v =
            json!({"a": false, "b": "", "c": [], "d": {}, "e": 0, "f": "x", "g": true, "h": [1]});
        omit_defaults(&mut v);
        assert_eq!(v, json!({"f": "x", "g": true, "h": [1]}));
    }
}
