//! The merged tree becomes JSON: variables substituted, secrets recorded, every value's position
//! kept in the source map.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::diagnostic::{DiagnosticKind, Location};
use super::source_map::{escape, SourceMap};
use super::vars::{self, VarError, VarSource};
use super::yaml::{typed_scalar, Node, Value};

/// A problem found while resolving; the loader adds the resource address once JSON exists.
pub struct Problem {
    pub pointer: String,
    pub loc: Location,
    pub kind: DiagnosticKind,
    pub message: String,
    pub hint: Option<String>,
}

pub struct Resolved {
    pub json: Json,
    pub map: SourceMap,
    pub secrets: BTreeMap<String, String>,
    pub problems: Vec<Problem>,
}

struct Resolver<'a> {
    env: Option<&'a str>,
    env_vars: BTreeMap<String, String>,
    source: &'a VarSource,
    map: SourceMap,
    secrets: BTreeMap<String, String>,
    problems: Vec<Problem>,
}

/// `env` is the selected environment: references inside other environments' entries are left
/// as written, since they belong to other projects (their keys need not be set here).
pub fn resolve(root: &Node, env: Option<&str>, source: &VarSource, map: SourceMap) -> Resolved {
    let env_vars = env
        .and_then(|e| root.get("environments")?.get(e)?.get("vars"))
        .map(|vars| match &vars.value {
            Value::Map(entries) => entries
                .iter()
                .filter_map(|e| Some((e.key.clone(), e.value.as_text()?.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        })
        .unwrap_or_default();
    let mut r = Resolver {
        env,
        env_vars,
        source,
        map,
        secrets: BTreeMap::new(),
        problems: Vec::new(),
    };
    r.map.insert(String::new(), None, root.pos);
    let json = r.node(root, String::new(), &[]);
    Resolved {
        json,
        map: r.map,
        secrets: r.secrets,
        problems: r.problems,
    }
}

impl Resolver<'_> {
    fn substitutes(&self, path: &[&str]) -> bool {
        match path {
            ["environments", name, rest @ ..] => {
                Some(*name) == self.env && !matches!(rest.first(), Some(&"vars") | Some(&"overlay"))
            }
            _ => true,
        }
    }

    fn node(&mut self, node: &Node, pointer: String, path: &[&str]) -> Json {
        match &node.value {
            Value::Scalar { text, plain } => self.scalar(text, *plain, pointer, path),
            Value::Seq(items) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let p = format!("{pointer}/{i}");
                        self.map.insert(p.clone(), None, item.pos);
                        let idx = i.to_string();
                        let mut child: Vec<&str> = path.to_vec();
                        child.push(&idx);
                        self.node(item, p, &child)
                    })
                    .collect(),
            ),
            Value::Map(entries) => {
                let mut obj = serde_json::Map::new();
                for e in entries {
                    let p = format!("{pointer}/{}", escape(&e.key));
                    self.map.insert(p.clone(), Some(e.key_pos), e.value.pos);
                    let mut child: Vec<&str> = path.to_vec();
                    child.push(&e.key);
                    let v = self.node(&e.value, p, &child);
                    obj.insert(e.key.clone(), v);
                }
                Json::Object(obj)
            }
        }
    }

    fn scalar(&mut self, text: &str, plain: bool, pointer: String, path: &[&str]) -> Json {
        let untouched = |t: &str| {
            if plain {
                typed_scalar(t)
            } else {
                Json::String(t.to_string())
            }
        };
        if !vars::has_reference(text) || !self.substitutes(path) {
            return untouched(text);
        }
        match vars::substitute(text, &self.env_vars, self.source) {
            Ok(s) => {
                if let Some(var) = s.secret {
                    self.secrets.insert(pointer, var);
                    Json::String(s.text)
                } else if s.whole_reference && plain {
                    typed_scalar(&s.text)
                } else {
                    Json::String(s.text)
                }
            }
            Err(errors) => {
                for e in errors {
                    let (kind, message, hint) = match e {
                        VarError::Missing { name, secret: true } => (
                            DiagnosticKind::MissingVariable,
                            match self.env {
                                Some(env) => format!("secret variable `{name}` is not set (environment `{env}`)"),
                                None => format!("secret variable `{name}` is not set"),
                            },
                            format!("export {name} in the environment that runs descope-mgmt"),
                        ),
                        VarError::Missing { name, secret: false } => (
                            DiagnosticKind::MissingVariable,
                            match self.env {
                                Some(env) => format!("variable `{name}` is not set (environment `{env}`)"),
                                None => format!("variable `{name}` is not set"),
                            },
                            match self.env {
                                Some(env) => format!(
                                    "set {name} in environments.{env}.vars or the environment, or give a default: ${{{name}:-value}}"
                                ),
                                None => format!("set {name} in the environment, or give a default: ${{{name}:-value}}"),
                            },
                        ),
                        VarError::Invalid(msg) => (
                            DiagnosticKind::InvalidVariable,
                            msg,
                            "references are ${NAME}, ${NAME:-default} or ${secret:NAME}".to_string(),
                        ),
                    };
                    self.problems.push(Problem {
                        loc: self.map.nearest(&pointer),
                        pointer: pointer.clone(),
                        kind,
                        message,
                        hint: Some(hint),
                    });
                }
                // Keep the text so later checks do not pile on; the load fails anyway.
                Json::String(text.to_string())
            }
        }
    }
}
