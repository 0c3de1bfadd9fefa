//! Which project, key and endpoint an environment talks to (docs/design.md §1, Credentials and
//! endpoint). A leftover shell variable must never silently point `--env prod` elsewhere.

use crate::api::credentials::Credentials;
use crate::secret::Secret;

use super::load::LoadedConfig;
use super::vars::VarSource;

pub const PROJECT_ID_VAR: &str = "DESCOPE_PROJECT_ID";
pub const MANAGEMENT_KEY_VAR: &str = "DESCOPE_MANAGEMENT_KEY";
pub const BASE_URI_VAR: &str = "DESCOPE_BASE_URI";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment `{env}`: the config says project `{config}` but {var} is `{var_value}`; unset {var} or make them agree")]
    ConflictingProject {
        env: String,
        config: String,
        var: &'static str,
        var_value: String,
    },
    #[error("environment `{env}`: the config says base URI `{config}` but {var} is `{var_value}`; unset {var} or make them agree")]
    ConflictingBaseUri {
        env: String,
        config: String,
        var: &'static str,
        var_value: String,
    },
    #[error("environment `{env}`: the config reads the management key from {config_var} but {var} holds a different key; unset {var} or make them agree")]
    ConflictingManagementKey {
        env: String,
        config_var: String,
        var: &'static str,
    },
    #[error("environment `{env}`: no project id; set environments.{env}.project_id or {var}")]
    MissingProjectId { env: String, var: &'static str },
    #[error("environment `{env}`: no management key; set environments.{env}.management_key: ${{secret:VAR}} and export VAR, or set {var}")]
    MissingManagementKey { env: String, var: &'static str },
    #[error("environment `{env}`: management_key must be a ${{secret:VAR}} reference, not a literal key")]
    LiteralManagementKey { env: String },
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn resolve_credentials(
    loaded: &LoadedConfig,
    vars: &VarSource,
) -> Result<Credentials, ConfigError> {
    let env = loaded.environment.clone();
    let entry = loaded.env.clone().unwrap_or_default();

    let project_id = match (
        non_empty(entry.project_id),
        non_empty(vars.get(PROJECT_ID_VAR)),
    ) {
        (Some(c), Some(v)) if c != v => {
            return Err(ConfigError::ConflictingProject {
                env,
                config: c,
                var: PROJECT_ID_VAR,
                var_value: v,
            })
        }
        (Some(c), _) => c,
        (None, Some(v)) => v,
        (None, None) => {
            return Err(ConfigError::MissingProjectId {
                env,
                var: PROJECT_ID_VAR,
            })
        }
    };

    let base_uri = match (non_empty(entry.base_uri), non_empty(vars.get(BASE_URI_VAR))) {
        (Some(c), Some(v)) if c.trim_end_matches('/') != v.trim_end_matches('/') => {
            return Err(ConfigError::ConflictingBaseUri {
                env,
                config: c,
                var: BASE_URI_VAR,
                var_value: v,
            })
        }
        (c, v) => c.or(v),
    };

    // The loader resolved `${secret:VAR}` in place; a configured key that was not a secret
    // reference was refused there, and is refused here too for callers that built the struct.
    let key_pointer = format!(
        "/environments/{}/management_key",
        super::source_map::escape(&loaded.environment)
    );
    let key = match entry.management_key.filter(|k| !k.is_empty()) {
        Some(k) if loaded.secrets.contains_key(&key_pointer) => {
            // As for the project id: a leftover shell variable must not go unnoticed.
            if let Some(v) = non_empty(vars.get(MANAGEMENT_KEY_VAR)) {
                if v != k.trim() {
                    return Err(ConfigError::ConflictingManagementKey {
                        env,
                        config_var: loaded.secrets[&key_pointer].clone(),
                        var: MANAGEMENT_KEY_VAR,
                    });
                }
            }
            Secret::new(k)
        }
        Some(_) => return Err(ConfigError::LiteralManagementKey { env }),
        None => match non_empty(vars.get(MANAGEMENT_KEY_VAR)) {
            Some(k) => Secret::new(k),
            None => {
                return Err(ConfigError::MissingManagementKey {
                    env,
                    var: MANAGEMENT_KEY_VAR,
                })
            }
        },
    };
    Ok(Credentials::new(project_id, key, base_uri.as_deref()))
}
