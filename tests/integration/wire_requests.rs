//! Typed request bodies, so the request builders' wire tests state each body field by field
//! (the kinds build their bodies from the live object and the config). They serialize to exactly
//! the documented keys (note the irregular ones: `enforceSSO`, `JITDisabled`).

use serde::Serialize;
use serde_json::{Map, Value};

/// Body of `tenant/create` (and, with `id`, `tenant/update`). Optional keys are left out when
/// unset rather than sent as `null`, which Descope treats the same
/// (docs/descope-api.md §3).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(rename = "selfProvisioningDomains")]
    pub self_provisioning_domains: Vec<String>,
    #[serde(rename = "customAttributes", skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<Map<String, Value>>,
    #[serde(rename = "enforceSSO")]
    pub enforce_sso: bool,
    #[serde(
        rename = "enforceSSOExclusions",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforce_sso_exclusions: Option<Vec<String>>,
    #[serde(rename = "federatedAppIds", skip_serializing_if = "Option::is_none")]
    pub federated_app_ids: Option<Vec<String>>,
    pub disabled: bool,
    /// Creation only: Descope cannot move a tenant to another parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `""`, `"none"` or `"userOnly"`.
    #[serde(rename = "roleInheritance", skip_serializing_if = "Option::is_none")]
    pub role_inheritance: Option<String>,
    #[serde(rename = "authType", skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
}

/// Body of `role/create`. `permissionNames` is always sent (PY sends `[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoleRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "permissionNames")]
    pub permission_names: Vec<String>,
    /// `None` = project role.
    #[serde(rename = "tenantId", skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
}

/// Body of `permission/create`, and one entry of `permission/create/batch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PermissionRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Body of `tenant/search`; unset filters are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TenantSearchRequest {
    #[serde(rename = "tenantIds", skip_serializing_if = "Option::is_none")]
    pub tenant_ids: Option<Vec<String>>,
    #[serde(rename = "tenantNames", skip_serializing_if = "Option::is_none")]
    pub tenant_names: Option<Vec<String>>,
    #[serde(
        rename = "tenantSelfProvisioningDomains",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_self_provisioning_domains: Option<Vec<String>>,
    #[serde(rename = "customAttributes", skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<Map<String, Value>>,
}

/// Body of `role/search`; PY sends only the keys that are set, and so does this.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoleSearchRequest {
    #[serde(rename = "tenantIds", skip_serializing_if = "Option::is_none")]
    pub tenant_ids: Option<Vec<String>>,
    #[serde(rename = "roleNames", skip_serializing_if = "Option::is_none")]
    pub role_names: Option<Vec<String>>,
    /// Case-insensitive "contains".
    #[serde(rename = "roleNameLike", skip_serializing_if = "Option::is_none")]
    pub role_name_like: Option<String>,
    #[serde(rename = "permissionNames", skip_serializing_if = "Option::is_none")]
    pub permission_names: Option<Vec<String>>,
    /// Only matters together with `tenant_ids`.
    #[serde(
        rename = "includeProjectRoles",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_project_roles: Option<bool>,
    #[serde(rename = "roleIds", skip_serializing_if = "Option::is_none")]
    pub role_ids: Option<Vec<String>>,
}

macro_rules! to_value {
    ($($t:ty),*) => {$(
        impl $t {
            /// The request body exactly as it goes on the wire.
            pub fn to_value(&self) -> Value {
                // Plain structs of strings, bools, lists and JSON maps always serialize.
                serde_json::to_value(self).unwrap_or(Value::Null)
            }
        }
    )*};
}
to_value!(
    TenantRequest,
    RoleRequest,
    PermissionRequest,
    TenantSearchRequest,
    RoleSearchRequest
);

#[test]
fn irregular_keys_serialize_as_documented() {
    let v = TenantRequest {
        name: "n".into(),
        enforce_sso: true,
        ..Default::default()
    }
    .to_value();
    assert_eq!(v["enforceSSO"], serde_json::json!(true));
    assert!(v.get("id").is_none());
}
