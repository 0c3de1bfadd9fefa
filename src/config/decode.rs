//! JSON to the typed `Config`, one entry at a time so one bad tenant does not hide the next.
//! Unknown keys are found by walking the JSON Schema of the types (the same field names serde
//! uses), reported with a suggestion, and dropped so the rest of the entry still decodes.

use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::diagnostic::{did_you_mean, DiagnosticKind};
use super::resolve::Problem;
use super::source_map::{escape, SourceMap};
use super::types::*;

/// The typed config plus, for each list, the JSON index each decoded entry came from (entries
/// that failed to decode are missing, so indexes would otherwise drift).
#[derive(Debug, Default)]
pub struct Decoded {
    pub config: Config,
    pub permissions: Vec<usize>,
    pub roles: Vec<usize>,
    pub tenants: Vec<usize>,
    pub flows: Vec<usize>,
    pub version_present: bool,
}

pub fn schema() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let root = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Json::Null);
        let mut root = super::sections::with_sections(root, &crate::kinds::config_sections());
        // Expanded (and taken out) before decoding; here so editors and `schema` know the key.
        if let Some(Json::Object(props)) = root.get_mut("properties") {
            props.insert(
                super::templates::KEY.to_string(),
                super::templates::schema(),
            );
        }
        super::templates::document_in_sso_entries(&mut root);
        root
    })
}

pub fn decode(json: &mut Json, map: &SourceMap, problems: &mut Vec<Problem>) -> Decoded {
    let root_schema = schema();
    strip_unknown(json, root_schema, root_schema, "", map, problems);
    let mut d = Decoded::default();
    d.config.sections = super::sections::Sections::extract(json, &crate::kinds::config_sections());
    let Json::Object(top) = json else {
        problems.push(problem(
            map,
            "",
            DiagnosticKind::InvalidType,
            "the configuration must be a mapping (version, settings, tenants, ...)".into(),
            None,
        ));
        return d;
    };
    match top.get("version") {
        Some(v) => {
            d.version_present = true;
            if let Some(x) = one::<u32>(v, "/version", map, problems) {
                d.config.version = x;
            }
        }
        None => problems.push(problem(
            map,
            "",
            DiagnosticKind::MissingField,
            "required key `version` is missing".into(),
            Some("add `version: 1` at the top of the file".into()),
        )),
    }
    if let Some(v) = top.get("settings").filter(|v| !v.is_null()) {
        let mut v = v.clone();
        settings_rate_limit(&mut v, map, problems);
        if let Some(s) = one::<Settings>(&v, "/settings", map, problems) {
            d.config.settings = s;
        }
    }
    if let Some(v) = top.get("environments").filter(|v| !v.is_null()) {
        match v {
            Json::Object(envs) => {
                for (name, e) in envs {
                    let p = format!("/environments/{}", escape(name));
                    let e = if e.is_null() {
                        &Json::Object(Default::default())
                    } else {
                        e
                    };
                    if let Some(env) = one::<Environment>(e, &p, map, problems) {
                        d.config.environments.insert(name.clone(), env);
                    }
                }
            }
            _ => problems.push(problem(
                map,
                "/environments",
                DiagnosticKind::InvalidType,
                "`environments` must be a mapping of environment names".into(),
                None,
            )),
        }
    }
    d.config.permissions = list(
        top.get("permissions"),
        "permissions",
        map,
        problems,
        &mut d.permissions,
    );
    d.config.roles = list(top.get("roles"), "roles", map, problems, &mut d.roles);
    d.config.tenants = list(top.get("tenants"), "tenants", map, problems, &mut d.tenants);
    d.config.flows = list(top.get("flows"), "flows", map, problems, &mut d.flows);
    if let Some(v) = top.get("theme").filter(|v| !v.is_null()) {
        d.config.theme = one::<ThemeConfig>(v, "/theme", map, problems);
    }
    d
}

fn list<T: DeserializeOwned>(
    v: Option<&Json>,
    key: &str,
    map: &SourceMap,
    problems: &mut Vec<Problem>,
    indexes: &mut Vec<usize>,
) -> Vec<T> {
    let mut out = Vec::new();
    match v {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(x) = one::<T>(item, &format!("/{key}/{i}"), map, problems) {
                    out.push(x);
                    indexes.push(i);
                }
            }
        }
        Some(_) => problems.push(problem(
            map,
            &format!("/{key}"),
            DiagnosticKind::InvalidType,
            format!("`{key}` must be a list"),
            None,
        )),
    }
    out
}

pub(crate) fn one<T: DeserializeOwned>(
    v: &Json,
    pointer: &str,
    map: &SourceMap,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(x) => Some(x),
        Err(e) => {
            let mut p = pointer.to_string();
            for seg in e.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => p.push_str(&format!("/{index}")),
                    serde_path_to_error::Segment::Map { key } => {
                        p.push_str(&format!("/{}", escape(key)))
                    }
                    _ => {}
                }
            }
            let msg = e.inner().to_string();
            let (kind, message) = match msg.strip_prefix("missing field ") {
                Some(field) => (
                    DiagnosticKind::MissingField,
                    format!("required key {field} is missing"),
                ),
                None => {
                    let field = p.rsplit('/').next().unwrap_or_default();
                    (DiagnosticKind::InvalidType, format!("`{field}`: {msg}"))
                }
            };
            problems.push(problem(map, &p, kind, message, None));
            None
        }
    }
}

/// A rate limit that does not parse is reported as one (with `RateBudget`'s own explanation)
/// and dropped, so the other settings still decode.
fn settings_rate_limit(settings: &mut Json, map: &SourceMap, problems: &mut Vec<Problem>) {
    let Some(obj) = settings.as_object_mut() else {
        return;
    };
    let Some(value) = obj.get("rate_limit") else {
        return;
    };
    let parsed = match value {
        Json::String(text) => text.parse::<crate::api::gateway::RateBudget>().map(|_| ()),
        other => Err(format!(
            "`{other}` is not a rate limit; expected N/SECONDS, e.g. `90/60`"
        )),
    };
    if let Err(message) = parsed {
        problems.push(problem(
            map,
            "/settings/rate_limit",
            DiagnosticKind::InvalidRateLimit,
            message,
            Some("write N/SECONDS with both numbers above zero, e.g. 90/60".into()),
        ));
        obj.remove("rate_limit");
    }
}

fn problem(
    map: &SourceMap,
    pointer: &str,
    kind: DiagnosticKind,
    message: String,
    hint: Option<String>,
) -> Problem {
    Problem {
        loc: map.nearest(pointer),
        pointer: pointer.to_string(),
        kind,
        message,
        hint,
    }
}

/// The schema node after following `$ref` and picking the object/array branch of `anyOf`
/// (how schemars writes `Option<T>`).
fn resolve_schema<'a>(s: &'a Json, root: &'a Json) -> &'a Json {
    let mut s = s;
    for _ in 0..8 {
        if let Some(r) = s.get("$ref").and_then(Json::as_str) {
            let path = r.trim_start_matches('#');
            match root.pointer(path) {
                Some(t) => s = t,
                None => return s,
            }
            continue;
        }
        if let Some(branches) = s
            .get("anyOf")
            .or_else(|| s.get("oneOf"))
            .or_else(|| s.get("allOf"))
            .and_then(Json::as_array)
        {
            if let Some(b) = branches
                .iter()
                .find(|b| b.get("type").and_then(Json::as_str) != Some("null"))
            {
                s = b;
                continue;
            }
        }
        break;
    }
    s
}

fn strip_unknown(
    v: &mut Json,
    schema: &Json,
    root: &Json,
    pointer: &str,
    map: &SourceMap,
    problems: &mut Vec<Problem>,
) {
    let s = resolve_schema(schema, root);
    match v {
        Json::Object(obj) => {
            if let Some(props) = s.get("properties").and_then(Json::as_object) {
                let closed = s.get("additionalProperties") == Some(&Json::Bool(false));
                let unknown: Vec<String> = obj
                    .keys()
                    .filter(|k| !props.contains_key(*k))
                    .cloned()
                    .collect();
                if closed {
                    for k in unknown {
                        obj.remove(&k);
                        let p = format!("{pointer}/{}", escape(&k));
                        let loc = map.locate_key(&p).unwrap_or_else(|| map.nearest(&p));
                        problems.push(Problem {
                            pointer: p,
                            loc,
                            kind: DiagnosticKind::UnknownKey,
                            message: format!("unknown key `{k}`"),
                            hint: did_you_mean(&k, props.keys().map(String::as_str)).or_else(
                                || {
                                    Some(format!(
                                        "expected one of: {}",
                                        props.keys().cloned().collect::<Vec<_>>().join(", ")
                                    ))
                                },
                            ),
                        });
                    }
                }
                for (k, child) in obj.iter_mut() {
                    if let Some(cs) = props.get(k) {
                        strip_unknown(
                            child,
                            cs,
                            root,
                            &format!("{pointer}/{}", escape(k)),
                            map,
                            problems,
                        );
                    }
                }
            } else if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object()) {
                for (k, child) in obj.iter_mut() {
                    strip_unknown(
                        child,
                        extra,
                        root,
                        &format!("{pointer}/{}", escape(k)),
                        map,
                        problems,
                    );
                }
            }
        }
        Json::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (i, child) in items.iter_mut().enumerate() {
                    strip_unknown(
                        child,
                        item_schema,
                        root,
                        &format!("{pointer}/{i}"),
                        map,
                        problems,
                    );
                }
            }
        }
        _ => {}
    }
}
