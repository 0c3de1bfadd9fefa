//! The configuration file as the user writes it (`descope.yaml`), after overlays are merged and
//! variables resolved. These types are also the source of the JSON Schema (`descope-mgmt schema`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::gateway::RateBudget;

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file; only `1` exists.
    pub version: u32,
    #[serde(default)]
    pub settings: Settings,
    /// One entry per Descope project (test, dev, staging, prod, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Environment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PermissionConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<ThemeConfig>,
}

/// Tool settings shared by every environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Request budget `N/SECONDS` (or `N/SECONDSs`): at most N requests in any window of that
    /// many seconds. Descope allows 100/60 per IP for plain API traffic.
    #[serde(default = "Settings::default_rate_limit")]
    #[schemars(with = "String")]
    pub rate_limit: RateBudget,
    /// Most requests in flight at once (at least 1); unset sizes it from the measured latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub parallelism: Option<u32>,
    /// Regular expression every tenant id must match.
    #[serde(default = "Settings::default_tenant_id_pattern")]
    pub tenant_id_pattern: String,
}

impl Settings {
    pub const DEFAULT_RATE_LIMIT: RateBudget = crate::api::gateway::DEFAULT_RATE;
    pub const DEFAULT_TENANT_ID_PATTERN: &'static str = "^[a-z0-9-]{3,50}$";
    fn default_rate_limit() -> RateBudget {
        Self::DEFAULT_RATE_LIMIT
    }
    fn default_tenant_id_pattern() -> String {
        Self::DEFAULT_TENANT_ID_PATTERN.to_string()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rate_limit: Self::default_rate_limit(),
            parallelism: None,
            tenant_id_pattern: Self::default_tenant_id_pattern(),
        }
    }
}

/// One Descope project the configuration is applied to.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Descope project id (`P2...`). Falls back to `DESCOPE_PROJECT_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Must be a `${secret:VAR}` reference; a literal key is an error. Falls back to `DESCOPE_MANAGEMENT_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_key: Option<String>,
    /// API base URL. Falls back to `DESCOPE_BASE_URI`, then the SDKs' regional rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_uri: Option<String>,
    /// YAML file merged over the base configuration for this environment (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<String>,
    /// Variables for `${VAR}` substitution, taking precedence over the process environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

// After loading, `management_key` holds the resolved key: debug output must not show it.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("project_id", &self.project_id)
            .field(
                "management_key",
                &self.management_key.as_ref().map(|_| "***"),
            )
            .field("base_uri", &self.base_uri)
            .field("overlay", &self.overlay)
            .field("vars", &self.vars)
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Plans that would delete this resource are errors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others (customers' admins, the application): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    /// Overlays only: drop this entry from the merged configuration.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Role name; `/` is not allowed (it separates tenant and name in addresses).
    pub name: String,
    /// Tenant id for a tenant-scoped role; absent for a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Permission names; absent leaves the role's permissions unmanaged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// Plans that would delete this resource are errors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others (customers' admins, the application): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id; must match `settings.tenant_id_pattern`.
    pub id: String,
    /// Display name, unique in the project.
    pub name: String,
    /// Self-provisioning domains (Descope `selfProvisioningDomains`), unique across tenants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    /// Parent tenant id. Descope sets it only at creation: changing it means replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_attributes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_sso: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Roles given to new users of this tenant: a tenant role of that name first, else a project role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_roles: Option<Vec<String>>,
    /// A delete also removes the tenant's users and access keys.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_cascade: bool,
    /// Plans that would delete this resource are errors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others (customers' admins, the application): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// Descope flow id, e.g. `sign-up-or-in`.
    pub id: String,
    /// JSON document as Descope exports it (v1 or v2 form), relative to the config file.
    pub file: String,
    /// Plans that would delete this resource are errors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others (customers' admins, the application): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remove: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    /// JSON document as Descope exports it, relative to the config file.
    pub file: String,
    /// Plans that would delete this resource are errors.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// Fields left to others (customers' admins, the application): never diffed or written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}
