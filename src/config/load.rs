//! `config::load`: one environment's merged, resolved and validated view of the configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::checks;
use super::decode;
use super::diagnostic::{did_you_mean, Diagnostic, DiagnosticKind as K, Diagnostics, Location};
use super::overlay;
use super::resolve::{self, Problem};
use super::source_map::SourceMap;
use super::templates;
use super::types::{Config, Environment};
use super::vars::{exact_secret_reference, VarSource};
use super::yaml::{self, Node, Pos, Value};
use crate::util::input::{self, InputError, InputFile};

/// The environment name when the configuration has no `environments:` section.
pub const DEFAULT_ENVIRONMENT: &str = "default";

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub path: PathBuf,
    /// `None` is only valid for a configuration without environments.
    pub env: Option<String>,
    pub vars: VarSource,
}

#[derive(Clone)]
pub struct LoadedConfig {
    /// Merged, with variables substituted (secret values resolved in place).
    pub config: Config,
    /// The environment's name, or `default` when the configuration has none.
    pub environment: String,
    pub env: Option<Environment>,
    pub file: PathBuf,
    pub base_dir: PathBuf,
    /// sha256 hex of the unresolved bytes of the base file followed by the overlay used.
    pub source_digest: String,
    /// JSON pointer into `config` -> name of the `${secret:VAR}` variable.
    pub secrets: BTreeMap<String, String>,
    /// Where `${VAR}` came from, for the flow and theme documents read later.
    pub vars: VarSource,
    /// Problems that do not stop the load (an unused SSO template), in file order.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Debug for LoadedConfig {
    // `config` holds resolved secrets; print it with them masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = serde_json::to_value(&self.config).unwrap_or(Json::Null);
        for pointer in self.secrets.keys() {
            if let Some(v) = shown.pointer_mut(pointer) {
                *v = Json::String("***".into());
            }
        }
        let env = self
            .env
            .as_ref()
            .map(|e| format!("project_id={:?} base_uri={:?}", e.project_id, e.base_uri));
        f.debug_struct("LoadedConfig")
            .field("config", &shown)
            .field("environment", &self.environment)
            .field("env", &env)
            .field("file", &self.file)
            .field("source_digest", &self.source_digest)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl LoadedConfig {
    /// A flow or theme document, by its path relative to the configuration file.
    pub fn read_json(&self, rel: &str) -> Result<Json, Diagnostic> {
        let path = self.base_dir.join(rel);
        let at = |line, column| Location {
            file: path.clone(),
            line,
            column,
        };
        let bytes = input::inside(&self.base_dir, rel, InputFile::Document)
            .and_then(|p| input::read(&p, InputFile::Document))
            .map_err(|e| Diagnostic::new(&at(1, 1), K::MissingFile, e.to_string()))?;
        let mut doc: Json = serde_json::from_slice(&bytes).map_err(|e| {
            Diagnostic::new(
                &at(e.line().max(1), e.column().max(1)),
                K::InvalidJson,
                format!("not JSON: {e}"),
            )
        })?;
        let plain = self
            .env
            .as_ref()
            .map(|e| e.vars.clone())
            .unwrap_or_default();
        let problems = super::vars::substitute_document(&mut doc, &plain, &self.vars);
        if let Some((pointer, message)) = problems.into_iter().next() {
            return Err(Diagnostic::new(
                &at(1, 1),
                K::MissingVariable,
                format!(
                    "at {pointer} (environment `{}`): {message}",
                    self.environment
                ),
            )
            .with_hint("flow and theme files take ${VAR} and ${VAR:-default} like the configuration; write $${ for a literal ${"));
        }
        Ok(doc)
    }

    /// The configuration as every command sees it (overlay merged, SSO templates expanded,
    /// variables substituted) as YAML, each secret value shown as `(secret VAR)`.
    pub fn render(&self) -> Result<String, Diagnostic> {
        let refuse = |why: &str| {
            Diagnostic::new(
                &at_start(&self.file),
                K::InvalidValue,
                format!("cannot print the configuration: {why}"),
            )
        };
        let mut yaml = serde_yaml_ng::to_value(&self.config).map_err(|e| refuse(&e.to_string()))?;
        self.config.sections.insert_into(&mut yaml);
        let mut json: Json = serde_yaml_ng::from_value(yaml).map_err(|e| refuse(&e.to_string()))?;
        for (pointer, var) in &self.secrets {
            // A secret whose place the rendering does not have could be shown elsewhere:
            // print nothing rather than risk it.
            let v = json
                .pointer_mut(pointer)
                .ok_or_else(|| refuse(&format!("secret `{var}` has no place in it")))?;
            *v = Json::String(format!("(secret {var})"));
        }
        serde_yaml_ng::to_string(&json).map_err(|e| refuse(&e.to_string()))
    }

    /// Is the value at this JSON pointer (or inside it) a secret?
    pub fn is_secret(&self, pointer: &str) -> bool {
        self.secrets
            .keys()
            .any(|p| p == pointer || p.starts_with(&format!("{pointer}/")))
    }
}

/// The directory relative paths in a configuration are resolved against.
fn base_dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn at_start(file: &Path) -> Location {
    Location {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
    }
}

fn read_text(path: &Path, reported_at: Option<Location>) -> Result<(Vec<u8>, String), Diagnostic> {
    let what = if reported_at.is_some() {
        InputFile::Overlay
    } else {
        InputFile::Config
    };
    let bytes = input::read(path, what).map_err(|e| {
        let at = reported_at.clone().unwrap_or_else(|| at_start(path));
        let message = match e {
            InputError::NotFound(_) => format!("cannot read `{}`: no such file", path.display()),
            InputError::Io(_, e) => format!(
                "cannot read `{}`: {}",
                path.display(),
                checks::io_reason(&e)
            ),
            other => other.to_string(),
        };
        Diagnostic::new(&at, K::Io, message)
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text.as_bytes().to_vec(), text)),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let column = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            Err(Diagnostic::new(
                &Location {
                    file: path.to_path_buf(),
                    line,
                    column,
                },
                K::YamlSyntax,
                "the file is not UTF-8 text",
            ))
        }
    }
}

/// Parsed base file: what `load` and `validate_all` both start from.
struct Base {
    files: Vec<PathBuf>,
    bytes: Vec<u8>,
    root: Node,
    /// Declared environments, in file order.
    environments: Vec<String>,
    problems: Vec<Diagnostic>,
}

fn read_base(path: &Path) -> Result<Base, Diagnostics> {
    let files = vec![path.to_path_buf()];
    let (bytes, text) = read_text(path, None).map_err(|d| {
        if path.exists() {
            return d;
        }
        // The first thing a new user sees in an empty directory: say how to get a config.
        d.with_hint(
            "no configuration here. `descope-mgmt init` writes a commented starter descope.yaml; \
             `descope-mgmt export --out .` writes one from a live project; or point at one with \
             --config FILE (or DESCOPE_CONFIG)",
        )
    })?;
    let (root, mut problems) = yaml::parse(&text, 0, &files).map_err(Diagnostics)?;
    let loc = |p: Pos| Location {
        file: files[p.file].clone(),
        line: p.line,
        column: p.column,
    };
    if let Value::Map(entries) = &root.value {
        for list in overlay::KEYED_LISTS {
            if let Some(Value::Seq(items)) = entries
                .iter()
                .find(|e| e.key == *list)
                .map(|e| &e.value.value)
            {
                for item in items.iter().filter(|i| overlay::is_removal(i)) {
                    if let Some(e) = item.entry("remove") {
                        let address = overlay::entry_key(list, item).map(|k| {
                            let kind = list.trim_end_matches('s');
                            format!("{kind}.{}", k.trim_start_matches('/'))
                        });
                        problems.push(
                            Diagnostic::new(
                                &loc(e.key_pos),
                                K::RemoveOutsideOverlay,
                                "`remove: true` only has a meaning in an environment overlay",
                            )
                            .with_hint("delete the entry instead (and let the plan delete the live resource)")
                            .with_address(address),
                        );
                    }
                }
            }
        }
    }
    let environments = match root.get("environments").map(|n| &n.value) {
        Some(Value::Map(entries)) => entries.iter().map(|e| e.key.clone()).collect(),
        _ => Vec::new(),
    };
    Ok(Base {
        files,
        bytes,
        root,
        environments,
        problems,
    })
}

pub fn load(opts: &LoadOptions) -> Result<LoadedConfig, Diagnostics> {
    let base = read_base(&opts.path)?;
    load_from(&opts.path, base, opts.env.as_deref(), &opts.vars)
}

fn load_from(
    path: &Path,
    base: Base,
    env: Option<&str>,
    vars: &VarSource,
) -> Result<LoadedConfig, Diagnostics> {
    // 1. Choose the environment.
    let env_loc = base
        .root
        .entry("environments")
        .map(|e| Location {
            file: path.to_path_buf(),
            line: e.key_pos.line,
            column: e.key_pos.column,
        })
        .unwrap_or_else(|| at_start(path));
    let environment = match (env, base.environments.is_empty()) {
        (None, true) => DEFAULT_ENVIRONMENT.to_string(),
        (Some(e), true) if e == DEFAULT_ENVIRONMENT => e.to_string(),
        (Some(e), _) if base.environments.iter().any(|x| x == e) => e.to_string(),
        // An environment literally named `default` (what `export` writes without --env) is
        // the one the contract already calls the default; any other set still needs a choice.
        (None, false) if base.environments.iter().any(|x| x == DEFAULT_ENVIRONMENT) => {
            DEFAULT_ENVIRONMENT.to_string()
        }
        (None, false) => {
            return Err(
                Diagnostic::new(&env_loc, K::UnknownEnvironment, "no environment chosen")
                    .with_hint(format!(
                        "pass --env (or set DESCOPE_ENV) to one of: {}",
                        base.environments.join(", ")
                    ))
                    .into(),
            )
        }
        (Some(e), _) => {
            let known = if base.environments.is_empty() {
                "the configuration has no `environments:`, so the only environment is `default`"
                    .to_string()
            } else {
                did_you_mean(e, base.environments.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("environments: {}", base.environments.join(", ")))
            };
            return Err(Diagnostic::new(
                &env_loc,
                K::UnknownEnvironment,
                format!("unknown environment `{e}`"),
            )
            .with_hint(known)
            .into());
        }
    };
    let selected = (!base.environments.is_empty()).then_some(environment.as_str());
    let base_dir = base_dir_of(path);
    let mut files = base.files;
    let mut problems: Vec<Diagnostic> = base.problems;
    let mut root = base.root;
    let mut digest = Sha256::new();
    digest.update(&base.bytes);

    // 2. Literal management keys are refused wherever they are written, before any substitution.
    literal_keys(&root, &files, &mut problems);

    // 3. Merge the overlay.
    let overlay_ref = selected
        .and_then(|e| root.get("environments")?.get(e)?.entry("overlay"))
        .and_then(|e| Some((e.value.as_text()?.to_string(), e.value.pos)));
    if let Some((rel, pos)) = overlay_ref.filter(|(rel, _)| !rel.is_empty()) {
        let overlay_path = base_dir.join(&rel);
        files.push(overlay_path.clone());
        let at = Location {
            file: files[0].clone(),
            line: pos.line,
            column: pos.column,
        };
        let read = input::inside(&base_dir, &rel, InputFile::Overlay)
            .map_err(|e| Diagnostic::new(&at, K::Io, e.to_string()))
            .and_then(|p| read_text(&p, Some(at.clone())));
        match read {
            Err(mut d) => {
                if d.kind == K::Io {
                    d.kind = K::MissingFile;
                    d.message = d.message.replacen("cannot read", "cannot read overlay", 1);
                    d.hint = Some("overlay paths are relative to the configuration file".into());
                }
                d.address = Some(format!("environment.{environment}"));
                problems.push(d);
            }
            Ok((bytes, text)) => {
                digest.update(&bytes);
                match yaml::parse(&text, 1, &files) {
                    Err(ds) => problems.extend(ds),
                    Ok((over, duplicates)) => {
                        problems.extend(duplicates);
                        literal_keys(&over, &files, &mut problems);
                        let loc = |p: Pos| Location {
                            file: files[p.file].clone(),
                            line: p.line,
                            column: p.column,
                        };
                        overlay::merge(&mut root, over, &loc, &mut problems);
                    }
                }
            }
        }
    }

    // 4. Expand SSO templates: after the overlay (an environment may change a template), before
    // `${VAR}`, so a template's references resolve under each tenant that uses it.
    let expanded = {
        let loc = |p: Pos| Location {
            file: files[p.file].clone(),
            line: p.line,
            column: p.column,
        };
        templates::expand(&mut root, &loc)
    };
    problems.extend(expanded.problems);

    // 5. Substitute variables, 6. decode entry by entry, 7. check the rules.
    let resolved = resolve::resolve(&root, selected, vars, SourceMap::new(files.clone()));
    drop(root);
    let mut json = resolved.json;
    let map = resolved.map;
    let mut found: Vec<Problem> = resolved.problems;
    let decoded = decode::decode(&mut json, &map, &mut found);
    found.extend(checks::check(&decoded, &json, &map, &base_dir));
    // Addresses are built from a copy with secret values masked: an id may be a secret.
    let mut masked = if found.is_empty() {
        Json::Null
    } else {
        json.clone()
    };
    for pointer in resolved.secrets.keys() {
        if let Some(v) = masked.pointer_mut(pointer) {
            *v = Json::String("***".into());
        }
    }
    problems.extend(found.into_iter().map(|p| {
        let mut d = Diagnostic::new(&p.loc, p.kind, p.message)
            .with_address(address_of(&p.pointer, &masked));
        d.hint = p.hint;
        d
    }));

    if !problems.is_empty() {
        let secret_values: Vec<String> = resolved
            .secrets
            .keys()
            .filter_map(|p| json.pointer(p)?.as_str().map(str::to_string))
            .filter(|v| !v.is_empty())
            .collect();
        return Err(Diagnostics(
            problems
                .into_iter()
                .map(|d| scrub(d, &secret_values))
                .collect(),
        )
        .sorted());
    }
    let mut config = decoded.config;
    config.base_dir = base_dir.clone();
    let env = selected.and_then(|e| config.environments.get(e).cloned());
    Ok(LoadedConfig {
        config,
        environment,
        env,
        file: path.to_path_buf(),
        base_dir,
        source_digest: hex::encode(digest.finalize()),
        // Positions serve the checks above; nothing after loading reports one (10k tenants
        // are 5.7 MB of them).
        secrets: resolved.secrets,
        vars: vars.clone(),
        warnings: expanded.warnings,
    })
}

/// A value that came from a secret must not reach a message, whatever quoted it.
fn scrub(mut d: Diagnostic, secrets: &[String]) -> Diagnostic {
    for s in secrets {
        d.message = mask_whole(&d.message, s);
        if let Some(h) = &mut d.hint {
            *h = mask_whole(h, s);
        }
    }
    d
}

/// Replaces `secret` where it stands as a whole value, not inside a word: a message quotes a
/// secret as the whole value it is, and a short secret (`y`) must not turn `overlay` into
/// `overla***`.
fn mask_whole(text: &str, secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(secret) {
        let before = if i > 0 {
            rest[..i].chars().next_back()
        } else {
            out.chars().next_back()
        };
        let after = rest[i + secret.len()..].chars().next();
        let inside_word = (word(before) && word(secret.chars().next()))
            || (word(after) && word(secret.chars().next_back()));
        out.push_str(&rest[..i]);
        if inside_word {
            // Not this occurrence; keep its first character and look again after it.
            let first = secret.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[i..i + first]);
            rest = &rest[i + first..];
        } else {
            out.push_str("***");
            rest = &rest[i + secret.len()..];
        }
    }
    out.push_str(rest);
    out
}

fn literal_keys(root: &Node, files: &[PathBuf], problems: &mut Vec<Diagnostic>) {
    let Some(Value::Map(envs)) = root.get("environments").map(|n| &n.value) else {
        return;
    };
    for env in envs {
        let Some(key) = env.value.get("management_key") else {
            continue;
        };
        if key.is_null() {
            continue;
        }
        let ok = key
            .as_text()
            .is_some_and(|t| exact_secret_reference(t).is_some());
        if !ok {
            problems.push(
                Diagnostic::new(
                    &Location { file: files[key.pos.file].clone(), line: key.pos.line, column: key.pos.column },
                    K::LiteralSecret,
                    "management_key must be a `${secret:VAR}` reference, not a literal key",
                )
                .with_address(Some(format!("environment.{}", env.key)))
                .with_hint(format!(
                    "write `management_key: ${{secret:DESCOPE_{}_KEY}}` and export the key in that variable; rotate the key if this file was shared",
                    env.key.to_ascii_uppercase().replace('-', "_")
                )),
            );
        }
    }
}

/// The resource a pointer falls in, in the address syntax of docs/design.md §1.
pub fn address_of(pointer: &str, json: &Json) -> Option<String> {
    let mut parts = pointer.split('/').skip(1);
    let top = parts.next()?;
    let idx = parts.next();
    let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
    let entry = || json.get(top)?.get(idx?.parse::<usize>().ok()?);
    // An empty id would make an address like `tenant.`; no address reads better.
    let text = |k: &str| {
        entry()?
            .get(k)?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match top {
        "tenants" => {
            let id = text("id")?;
            // An SSO configuration is its own resource inside the tenant's entry.
            match (parts.next(), parts.next()) {
                (Some("sso"), Some(sso)) => Some(format!("tenant_sso.{id}/{}", unescape(sso))),
                _ => Some(format!("tenant.{id}")),
            }
        }
        "permissions" => Some(format!("permission.{}", text("name")?)),
        "flows" => Some(format!("flow.{}", text("id")?)),
        "roles" => {
            let name = text("name")?;
            Some(match text("tenant") {
                Some(t) => format!("role.{t}/{name}"),
                None => format!("role.{name}"),
            })
        }
        "theme" => Some("theme".into()),
        "settings" => Some("settings".into()),
        "environments" => Some(format!("environment.{}", unescape(idx?))),
        _ => None,
    }
}

/// Plain `validate`: every environment's merged view (each includes the base), or the one
/// `default` view when there are no environments. Returns the environments checked.
pub fn validate_all(path: &Path, vars: &VarSource) -> Result<Vec<String>, Diagnostics> {
    let base = read_base(path)?;
    let envs = if base.environments.is_empty() {
        vec![None]
    } else {
        base.environments.iter().cloned().map(Some).collect()
    };
    let mut all = Diagnostics::default();
    let mut checked = Vec::new();
    for env in envs {
        let base = read_base(path)?;
        match load_from(path, base, env.as_deref(), vars) {
            Ok(l) => checked.push(l.environment),
            Err(ds) => all.0.extend(ds.0),
        }
    }
    if all.is_empty() {
        Ok(checked)
    } else {
        Err(all.sorted())
    }
}

#[cfg(test)]
mod mask_tests {
    use super::mask_whole;

    #[test]
    fn a_secret_is_masked_as_a_whole_value_only() {
        assert_eq!(
            mask_whole("unknown key `overlay_typo` in `envs/prod.yaml`", "y"),
            "unknown key `overlay_typo` in `envs/prod.yaml`"
        );
        assert_eq!(mask_whole("id `y` is bad: y", "y"), "id `***` is bad: ***");
        assert_eq!(
            mask_whole("value `s3cr3t-x` and s3cr3t-xs3cr3t-x", "s3cr3t-x"),
            "value `***` and s3cr3t-xs3cr3t-x"
        );
        assert_eq!(
            mask_whole("https://h/?k=abc&z", "abc"),
            "https://h/?k=***&z"
        );
    }
}
