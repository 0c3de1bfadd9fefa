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
    /// Sections that belong to a kind module (`settings` in a tenant entry, ...): kept as JSON
    /// with their place in the file; the kind decodes and checks them.
    #[serde(skip)]
    pub sections: super::sections::Sections,
    /// The directory the file's relative paths are relative to (the configuration file's), for
    /// the kinds that read a text file it names.
    #[serde(skip)]
    pub base_dir: std::path::PathBuf,
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
    /// Git branch (or `*` pattern) → environment, used when neither `--env` nor `DESCOPE_ENV`
    /// is given (never by `apply` without a plan file): `{main: prod, "feature/*": dev}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "branch_map")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub branch_environments: Vec<(String, String)>,
    /// Where the state lives; absent: the local `--state-dir` directory (docs/remote-state.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateSettings>,
}

/// A YAML mapping kept in file order: the first matching pattern wins.
pub(crate) mod branch_map {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, e) in v {
            m.serialize_entry(k, e)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Vec<(String, String)>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of git branch (or pattern with *) to environment")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    out.push(entry);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Ordered)
    }
}

impl Settings {
    /// The environment `settings.branch_environments` maps `branch` to, with the pattern that
    /// matched: an exact name first, else the first `*` pattern in file order.
    pub fn environment_for_branch(&self, branch: &str) -> Option<(&str, &str)> {
        let exact = self.branch_environments.iter().find(|(p, _)| p == branch);
        exact
            .or_else(|| {
                self.branch_environments
                    .iter()
                    .find(|(p, _)| p.contains('*') && glob_match(p, branch))
            })
            .map(|(p, e)| (p.as_str(), e.as_str()))
    }
}

/// `*` matches any run of characters, `/` included (`feature/*` matches `feature/a/b`).
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod branch_tests {
    use super::*;

    #[test]
    fn exact_names_win_then_the_first_pattern() {
        let s = Settings {
            branch_environments: vec![
                ("feature/*".into(), "dev".into()),
                ("*".into(), "test".into()),
                ("main".into(), "prod".into()),
            ],
            ..Settings::default()
        };
        assert_eq!(s.environment_for_branch("main"), Some(("main", "prod")));
        assert_eq!(
            s.environment_for_branch("feature/a/b"),
            Some(("feature/*", "dev"))
        );
        assert_eq!(s.environment_for_branch("fix-1"), Some(("*", "test")));
        assert!(!glob_match("a*b*c", "acb"));
        assert!(glob_match("a*b*c", "axbyc"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}

/// `settings.state`: state in object storage shared by a team. Credentials come only from the
/// standard AWS / Google Cloud / Azure environment variables and files, never from this file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `local` (the `--state-dir` directory), `s3` (and S3-compatible servers), `gcs` or `azure`.
    pub backend: StateBackend,
    /// The bucket (S3, GCS) or container (Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Prepended to `<env>/…` keys, e.g. `descope/`; empty or ending with `/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// S3 region (else `AWS_REGION` / `AWS_DEFAULT_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An S3-compatible server (`http://127.0.0.1:9000`) or Azure endpoint instead of the cloud's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Azure storage account (else `AZURE_STORAGE_ACCOUNT_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// How long the apply lock's lease lasts without renewal, e.g. `60s` (the default). A
    /// holder that died blocks others this long at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_lease: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    Local,
    S3,
    Gcs,
    Azure,
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
            branch_environments: Vec::new(),
            state: None,
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
    /// Names this permission had before: a live permission of one of them (and none of this
    /// name) is renamed in place, so the roles that hold it keep it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_from: Vec<String>,
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
    /// Names this role had before (in the same tenant): a live role of one of them (and none
    /// of this name) is renamed in place, so its users keep it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed_from: Vec<String>,
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
