//! `${VAR}`, `${VAR:-default}` and `${secret:VAR}` in configuration values.

use std::collections::BTreeMap;

/// Where variables come from after `environments.<env>.vars`: the process environment, or a
/// fixed map so tests (and library callers) never depend on the real environment.
#[derive(Debug, Clone, Default)]
pub enum VarSource {
    #[default]
    Process,
    Map(BTreeMap<String, String>),
    /// For commands that never talk to Descope (`validate`, `state list`, ...): the same
    /// variables, but an unset `${secret:VAR}` is a stand-in instead of an error, since
    /// secrets are needed only to talk to Descope (a pull-request check has no prod key).
    Offline(Box<VarSource>),
}

impl VarSource {
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            VarSource::Process => std::env::var(name).ok(),
            VarSource::Map(m) => m.get(name).cloned(),
            VarSource::Offline(inner) => inner.get(name),
        }
    }

    /// The value of `${secret:NAME}`: the variable, or offline a stand-in when it is unset.
    pub fn secret(&self, name: &str) -> Option<String> {
        self.get(name).or_else(|| match self {
            VarSource::Offline(_) => Some(format!("(secret {name}, not set)")),
            _ => None,
        })
    }

    /// The same variables for a command that never talks to Descope.
    pub fn offline(self) -> VarSource {
        match self {
            VarSource::Offline(_) => self,
            other => VarSource::Offline(Box::new(other)),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        VarSource::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A value after substitution.
#[derive(Clone, PartialEq)]
pub struct Substituted {
    pub text: String,
    /// The variable of the first `${secret:VAR}`: the whole value is then treated as secret.
    pub secret: Option<String>,
    /// The value was exactly one `${VAR}` / `${VAR:-d}`, so it takes the YAML type of its text.
    pub whole_reference: bool,
}

impl std::fmt::Debug for Substituted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = if self.secret.is_some() {
            "***"
        } else {
            self.text.as_str()
        };
        f.debug_struct("Substituted")
            .field("text", &text)
            .field("secret", &self.secret)
            .field("whole_reference", &self.whole_reference)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarError {
    Missing { name: String, secret: bool },
    Invalid(String),
}

/// Whether the text holds a reference at all (cheap pre-check; `$${` is an escape).
pub fn has_reference(text: &str) -> bool {
    text.contains("${")
}

/// Replace every reference. `plain_vars` are the environment's `vars:`, consulted first for
/// ordinary references; secrets come only from `source`, since a secret written into the
/// configuration file would not be secret.
pub fn substitute(
    text: &str,
    plain_vars: &BTreeMap<String, String>,
    source: &VarSource,
) -> Result<Substituted, Vec<VarError>> {
    let mut out = String::new();
    let mut secret = None;
    let mut errors = Vec::new();
    let mut references = 0;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body_start.find('}') else {
            errors.push(VarError::Invalid(
                "`${` without a closing `}` (write `$${` for a literal `${`)".to_string(),
            ));
            rest = "";
            break;
        };
        let body = &body_start[..end];
        rest = &body_start[end + 1..];
        references += 1;
        if let Some(name) = body.strip_prefix("secret:") {
            if !valid_name(name) {
                errors.push(VarError::Invalid(format!(
                    "`${{secret:{name}}}` does not name a variable"
                )));
                continue;
            }
            match source.secret(name) {
                Some(v) => {
                    out.push_str(&v);
                    secret.get_or_insert_with(|| name.to_string());
                }
                None => errors.push(VarError::Missing {
                    name: name.to_string(),
                    secret: true,
                }),
            }
            continue;
        }
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !valid_name(name) {
            errors.push(VarError::Invalid(if body.starts_with("tenant.") {
                // What is left of `${tenant.…}` after template expansion was written elsewhere.
                format!("`${{{body}}}` only has a meaning inside `sso_templates`")
            } else {
                format!(
                "`${{{body}}}` is not a variable reference (expected `${{NAME}}`, `${{NAME:-default}}` or `${{secret:NAME}}`)"
            )
            }));
            continue;
        }
        let found = plain_vars.get(name).cloned().or_else(|| source.get(name));
        match (found, default) {
            // As in the shell, `:-` also covers a variable that is set but empty.
            (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => errors.push(VarError::Missing {
                name: name.to_string(),
                secret: false,
            }),
        }
    }
    out.push_str(rest);
    if !errors.is_empty() {
        return Err(errors);
    }
    let trimmed = text.trim();
    let whole_reference = secret.is_none()
        && references == 1
        && trimmed.starts_with("${")
        && trimmed.ends_with('}')
        && trimmed.matches("${").count() == 1;
    Ok(Substituted {
        text: out,
        secret,
        whole_reference,
    })
}

/// `${VAR}` and `${VAR:-default}` in every string of a flow or theme document, resolved like
/// the configuration's (`plain_vars` first, then `source`), so one file serves every
/// environment. Returns `(JSON pointer, message)` per problem. `${secret:VAR}` is refused: a
/// document is compared and shown whole, so a secret value would reach plans and output.
pub fn substitute_document(
    doc: &mut serde_json::Value,
    plain_vars: &BTreeMap<String, String>,
    source: &VarSource,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    walk(doc, String::new(), &mut |pointer, text| {
        if !has_reference(text) {
            return None;
        }
        match substitute(text, plain_vars, source) {
            Ok(s) if s.secret.is_some() => {
                problems.push((
                    pointer.to_string(),
                    "`${secret:…}` cannot be used in a flow or theme file (the document is shown whole in plans); keep secrets in Descope connectors".to_string(),
                ));
                None
            }
            Ok(s) => Some(s.text),
            Err(errors) => {
                for e in errors {
                    problems.push((
                        pointer.to_string(),
                        match e {
                            VarError::Missing { name, .. } => format!(
                                "variable `{name}` is not set (set it in environments.<env>.vars or the environment, or write ${{{name}:-default}})"
                            ),
                            VarError::Invalid(m) => m,
                        },
                    ));
                }
                None
            }
        }
    });
    problems
}

/// Every string of a document (keys stay as written), with its JSON pointer.
fn walk(
    v: &mut serde_json::Value,
    pointer: String,
    f: &mut dyn FnMut(&str, &str) -> Option<String>,
) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(new) = f(&pointer, s) {
                *s = new;
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{pointer}/{i}"), f);
            }
        }
        serde_json::Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                let key = k.replace('~', "~0").replace('/', "~1");
                walk(item, format!("{pointer}/{key}"), f);
            }
        }
        _ => {}
    }
}

/// The inverse for `export`: a document as Descope holds it, with every literal `${` written
/// `$${`, so reading it back through `substitute_document` gives the same document.
pub fn escape_document(doc: &mut serde_json::Value) {
    walk(doc, String::new(), &mut |_, text| {
        text.contains("${").then(|| text.replace("${", "$${"))
    });
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The variable of a value written exactly as `${secret:VAR}`.
pub fn exact_secret_reference(text: &str) -> Option<&str> {
    let name = text.trim().strip_prefix("${secret:")?.strip_suffix('}')?;
    valid_name(name).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Substituted, Vec<VarError>> {
        let vars = BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("E".to_string(), String::new()),
        ]);
        substitute(
            text,
            &vars,
            &VarSource::from_pairs([("B", "two"), ("S", "hush"), ("A", "shadowed")]),
        )
    }

    #[test]
    fn references_defaults_secrets_and_escapes() {
        assert_eq!(run("x-${A}-${B}").unwrap().text, "x-1-two");
        assert!(run("${A}").unwrap().whole_reference);
        assert!(!run("x${A}").unwrap().whole_reference);
        assert_eq!(run("${C:-d}").unwrap().text, "d");
        assert_eq!(run("${E:-d}").unwrap().text, "d");
        assert_eq!(run("$${A} $5").unwrap().text, "${A} $5");
        let s = run("${secret:S}").unwrap();
        assert_eq!(
            (s.text.as_str(), s.secret.as_deref(), s.whole_reference),
            ("hush", Some("S"), false)
        );
        // Secrets never come from the file's own vars.
        assert_eq!(
            run("${secret:E}").unwrap_err(),
            vec![VarError::Missing {
                name: "E".into(),
                secret: true
            }]
        );
    }

    #[test]
    fn missing_and_malformed() {
        assert_eq!(
            run("${NOPE}").unwrap_err(),
            vec![VarError::Missing {
                name: "NOPE".into(),
                secret: false
            }]
        );
        assert!(matches!(run("${A").unwrap_err()[0], VarError::Invalid(_)));
        assert!(matches!(run("${1x}").unwrap_err()[0], VarError::Invalid(_)));
    }
}
