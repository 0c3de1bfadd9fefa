//! `descope-mgmt export`: the live project → a configuration that plans to zero changes.
//!
//! 1. Read every list, every flow's v1 export and the theme's v1 export.
//! 2. Build a `config::Config` (Descope's system permissions and built-in roles left out)
//!    with a `tenant_id_pattern` every exported id satisfies.
//! 3. Write `descope.yaml`, `flows/<id>.json` and `theme.json`; unchanged files are not rewritten.
//! 4. With `--adopt`: record every exported address as managed, with its live fingerprint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::live::read_snapshot;
use super::{OpError, Session};
use crate::api::gateway::Gateway;
use crate::config::exported::Exported;
use crate::config::{Config, Environment, LoadedConfig, Settings, DEFAULT_ENVIRONMENT};
use crate::kinds::ReadScope;
use crate::model::Address;
use crate::resource::desired::SecretField;
use crate::resource::live::{self, LiveGraph, LiveSnapshot};
use crate::resource::LiveResource;
use crate::secret::Secret;
use crate::state::{StateFile, StateLock};
use crate::util::atomic::{write_atomic, WriteOutcome};

/// The exported environment reads its key from the SDKs' variable, so the file works as is.
pub const KEY_REFERENCE: &str = "${secret:DESCOPE_MANAGEMENT_KEY}";

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub out: PathBuf,
    pub adopt: bool,
    /// How long `--adopt` waits for the state lock.
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    pub path: PathBuf,
    /// False when the file already had exactly this content.
    pub written: bool,
}

#[derive(Debug)]
pub struct ExportOutcome {
    pub files: Vec<ExportedFile>,
    /// Every address the written configuration manages.
    pub addresses: Vec<Address>,
    pub adopted: bool,
    pub warnings: Vec<String>,
}

/// A configuration for `export` into a directory with no `descope.yaml` yet: credentials come
/// from `DESCOPE_PROJECT_ID` / `DESCOPE_MANAGEMENT_KEY` / `DESCOPE_BASE_URI`.
pub fn blank_config(config_path: &Path, env: Option<&str>) -> LoadedConfig {
    LoadedConfig {
        config: Config {
            version: 1,
            ..Config::default()
        },
        environment: env.unwrap_or(DEFAULT_ENVIRONMENT).to_string(),
        env: None,
        file: config_path.to_path_buf(),
        base_dir: config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        source_digest: String::new(),
        secrets: BTreeMap::new(),
        vars: crate::config::VarSource::Process,
        warnings: Vec::new(),
    }
}

/// Every list, every flow (v1 export) and the theme (v1 export).
pub async fn read_everything(gateway: &Gateway) -> Result<LiveSnapshot, OpError> {
    Ok(read_snapshot(gateway, &ReadScope::everything()).await?)
}

pub async fn export(session: &Session, req: &ExportRequest) -> Result<ExportOutcome, OpError> {
    session.handshake().await?;
    let snapshot = read_everything(&session.gateway).await?;
    let key: &Secret = &session.credentials.management_key;
    // Attributes the config or state.json knows as secrets are exported as `${secret:VAR}`,
    // never as their values.
    let graph = live::build(&snapshot, &known_secrets(session)?, key);
    let mut exported = build_config(
        &graph,
        &snapshot,
        &session.loaded.environment,
        &session.credentials.project_id,
        &session.loaded.config.settings,
    );
    // A configured endpoint (a regional or self-hosted one) is kept; it holds no secret. So is
    // the configured key variable: the exported file must work with the variables already set.
    let base_uri = session.loaded.env.as_ref().and_then(|e| e.base_uri.clone());
    let key_pointer = format!(
        "/environments/{}/management_key",
        crate::config::source_map::escape(&session.loaded.environment)
    );
    let key_var = session.loaded.secrets.get(&key_pointer).cloned();
    if let Some(env) = exported
        .config
        .environments
        .get_mut(&session.loaded.environment)
    {
        env.base_uri = base_uri;
        if let Some(var) = key_var {
            env.management_key = Some(format!("${{secret:{var}}}"));
        }
    }

    let files = write_exported(&req.out, &exported)?;

    if req.adopt {
        let _lock = StateLock::acquire(&session.state, req.lock_timeout)?;
        let mut state = StateFile::load(&session.state)?;
        state.bind_project(&session.state, &session.credentials.project_id)?;
        for a in &exported.addresses {
            if let Some(l) = graph.resources.get(a) {
                let protect = state.protected(a);
                state.set_managed(a.clone(), l.fingerprint(), protect);
                state.set_attributes(a, crate::kinds::of(a.kind()).recorded_attributes(l));
            }
        }
        state.save(&session.state)?;
    }
    // Write-only secrets (an OIDC client secret) cannot be read back: the file names a
    // variable for each, which must be set before the exported config is applied.
    let mut warnings = graph.warnings;
    let text = render_yaml(&exported)?;
    let mut vars: Vec<&str> = text
        .split("${secret:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(var, _)| var))
        .filter(|var| *var != "DESCOPE_MANAGEMENT_KEY" && !var.is_empty())
        .collect();
    vars.sort_unstable();
    vars.dedup();
    if !vars.is_empty() {
        warnings.push(format!(
            "set these variables before applying the exported config (secrets Descope never returns): {}",
            vars.join(", ")
        ));
    }
    Ok(ExportOutcome {
        files,
        addresses: exported.addresses,
        adopted: req.adopt,
        warnings,
    })
}

fn write_exported(out: &Path, exported: &Exported) -> Result<Vec<ExportedFile>, OpError> {
    let mkdir = |dir: &Path| {
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::Io(format!("cannot create {}: {e}", dir.display())))
    };
    mkdir(out)?;
    let mut files = Vec::new();
    let mut write = |path: PathBuf, text: String| -> Result<(), OpError> {
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        let outcome =
            write_atomic(&path, text.as_bytes()).map_err(|e| OpError::Io(e.to_string()))?;
        files.push(ExportedFile {
            path,
            written: outcome == WriteOutcome::Written,
        });
        Ok(())
    };
    write(out.join("descope.yaml"), render_yaml(exported)?)?;
    for (rel, doc) in &exported.documents {
        // A string is a text file (the FGA schema's DSL), written as it is.
        if let serde_json::Value::String(text) = doc {
            write(out.join(rel), text.clone())?;
            continue;
        }
        // Documents take `${VAR}` when read back: a literal one is written `$${`.
        let mut doc = doc.clone();
        crate::config::vars::escape_document(&mut doc);
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| OpError::Io(format!("cannot render {rel}: {e}")))?;
        write(out.join(rel), format!("{text}\n"))?;
    }
    Ok(files)
}

fn render_yaml(exported: &Exported) -> Result<String, OpError> {
    let fail = |e: serde_yaml_ng::Error| OpError::Io(format!("cannot render descope.yaml: {e}"));
    let mut yaml = serde_yaml_ng::to_value(&exported.config).map_err(fail)?;
    exported.config.sections.insert_into(&mut yaml);
    let body = serde_yaml_ng::to_string(&yaml).map_err(fail)?;
    let env = exported.config.environments.keys().next().cloned();
    Ok(format!(
        "# Written by `descope-mgmt export` from the live project{}.\n\
         # Check it with `descope-mgmt validate`; `descope-mgmt plan` shows no changes right after export.\n\
         {body}",
        env.map(|e| format!(" of environment `{e}`"))
            .unwrap_or_default()
    ))
}

/// The configuration that describes `graph` exactly (its managed fields all stated), plus the
/// flow and theme documents as Descope exported them, minus server-managed fields.
pub fn build_config(
    graph: &LiveGraph,
    snapshot: &LiveSnapshot,
    environment: &str,
    project_id: &str,
    base_settings: &Settings,
) -> Exported {
    let mut out = Exported {
        config: Config {
            version: 1,
            settings: base_settings.clone(),
            ..Config::default()
        },
        documents: BTreeMap::new(),
        addresses: Vec::new(),
    };
    for kind in crate::kinds::all() {
        let of_kind: Vec<&LiveResource> = graph
            .resources
            .values()
            .filter(|r| !r.system && r.address.kind() == kind.kind())
            .collect();
        kind.export(&of_kind, snapshot, &mut out);
    }
    out.config.environments.insert(
        environment.to_string(),
        Environment {
            project_id: Some(project_id.to_string()),
            management_key: Some(KEY_REFERENCE.to_string()),
            ..Environment::default()
        },
    );
    out.addresses.sort();
    out
}

/// Tenant custom attributes held as secrets: `${secret:VAR}` in the loaded config, and what
/// state.json remembers from earlier applies.
fn known_secrets(session: &Session) -> Result<Vec<SecretField>, OpError> {
    let mut out = Vec::new();
    let tenants = &session.loaded.config.tenants;
    for (pointer, var) in &session.loaded.secrets {
        let parts: Vec<&str> = pointer.split('/').collect();
        if let ["", "tenants", i, "custom_attributes", attr] = parts.as_slice() {
            if let Some(t) = i.parse::<usize>().ok().and_then(|i| tenants.get(i)) {
                out.push(SecretField {
                    address: Address::tenant(&t.id),
                    attribute: attr.replace("~1", "/").replace("~0", "~"),
                    var: var.clone(),
                });
            }
        }
    }
    let state = StateFile::load(&session.state)?;
    for (address, managed) in &state.resources {
        for (attribute, var) in &managed.secrets {
            out.push(SecretField {
                address: address.clone(),
                attribute: attribute.clone(),
                var: var.clone(),
            });
        }
    }
    Ok(out)
}
