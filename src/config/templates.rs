//! `sso_templates:` (docs/config.md, SSO templates): one SSO configuration written once and
//! stamped into many tenants' `sso:` blocks. A tenant's `sso.<id>: {template: NAME, vars: {...},
//! ...overrides}` is replaced by the template with `${tenant.id}`, `${tenant.name}` and
//! `${tenant.vars.X}` filled in and the overrides merged over it.
//!
//! Expansion works on the positioned tree, after the overlay merge and before `${VAR}`
//! substitution, so: an overlay can change a template per environment; the values keep the
//! template's positions (a later diagnostic on one points at the template line); ordinary
//! `${VAR}` and `${secret:VAR}` inside a template are resolved at the expanded place, under the
//! using tenant's entry, so each tenant's copy of a secret is masked like any other; and whatever
//! owns the `sso` section only ever sees literal blocks.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::diagnostic::{did_you_mean, Diagnostic, DiagnosticKind as K, Location};
use super::overlay;
use super::yaml::{Entry, Node, Pos, Value};

/// The top-level key that holds the templates.
pub const KEY: &str = "sso_templates";

/// The keys of a tenant's `sso.<id>` entry that pick a template rather than configure SSO.
const TEMPLATE: &str = "template";
const VARS: &str = "vars";

/// The mutually exclusive kinds of SSO configuration: an entry that names one replaces the
/// template's other one instead of ending up with both.
const FLAVOURS: &[&str] = &["saml", "saml_metadata", "oidc"];

/// The JSON Schema of `sso_templates` (the blocks themselves are the `sso` section's to check,
/// once expanded into a tenant).
pub fn schema() -> Json {
    json!({
        "description": "SSO configurations written once and used by tenants as `sso: {<id>: {template: NAME, vars: {...}}}`; `${tenant.id}`, `${tenant.name}` and `${tenant.vars.X}` are filled in per tenant (docs/config.md, SSO templates).",
        "type": "object",
        "additionalProperties": {
            "description": "A tenant `sso` entry (display_name, domains, redirect_url, saml | saml_metadata | oidc), without `template`.",
            "type": "object"
        }
    })
}

/// Adds `template` and `vars` to the schema of a tenant `sso` entry, where the kind that owns
/// the section declares one, so editors accept a templated entry. The loader never sees them
/// there (expansion removes them first); this is for `descope-mgmt schema` only.
pub fn document_in_sso_entries(root: &mut Json) {
    let Some(tenant) = follow(root, "/properties/tenants/items") else {
        return;
    };
    let Some(entry) = follow(root, &format!("{tenant}/properties/sso"))
        .and_then(|sso| follow(root, &format!("{sso}/additionalProperties")))
    else {
        return;
    };
    let Some(Json::Object(props)) = root.pointer_mut(&format!("{entry}/properties")) else {
        return;
    };
    props.entry(TEMPLATE).or_insert_with(|| {
        json!({"description": "Name of an `sso_templates` entry this entry is expanded from; the other keys override the template's.", "type": "string"})
    });
    props.entry(VARS).or_insert_with(|| {
        json!({"description": "Values for the template's `${tenant.vars.NAME}`.", "type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}})
    });
}

/// The pointer of the schema at `pointer` after following `$ref`s and the non-null branch of
/// `anyOf` (how schemars writes `Option<T>`).
fn follow(root: &Json, pointer: &str) -> Option<String> {
    let mut at = pointer.to_string();
    for _ in 0..8 {
        let node = root.pointer(&at)?;
        if let Some(r) = node.get("$ref").and_then(Json::as_str) {
            at = r.trim_start_matches('#').to_string();
        } else if let Some(branches) = node.get("anyOf").and_then(Json::as_array) {
            let i = branches
                .iter()
                .position(|b| b.get("type").and_then(Json::as_str) != Some("null"))?;
            at = format!("{at}/anyOf/{i}");
        } else {
            return Some(at);
        }
    }
    None
}

/// What expansion found: errors, and warnings that do not stop the load.
#[derive(Debug, Default)]
pub struct Outcome {
    pub problems: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

struct Template {
    node: Node,
    used: bool,
}

/// Takes `sso_templates` out of `root` and expands every tenant `sso` entry that names one.
pub fn expand(root: &mut Node, loc: &dyn Fn(Pos) -> Location) -> Outcome {
    let mut out = Outcome::default();
    let Value::Map(top) = &mut root.value else {
        return out;
    };
    let Some(i) = top.iter().position(|e| e.key == KEY) else {
        return out;
    };
    let section = top.remove(i);
    let mut templates: BTreeMap<String, Template> = BTreeMap::new();
    // Template names in file order, for the warning and the hint.
    let mut order = Vec::new();
    match section.value.value {
        Value::Map(entries) => {
            for e in entries {
                if !matches!(e.value.value, Value::Map(_)) {
                    if !e.value.is_null() {
                        out.problems.push(Diagnostic::new(
                            &loc(e.value.pos),
                            K::InvalidType,
                            format!("template `{}` must be a mapping (an `sso` entry)", e.key),
                        ));
                    }
                    continue;
                }
                if let Some(nested) = e.value.entry(TEMPLATE) {
                    out.problems.push(
                        Diagnostic::new(
                            &loc(nested.key_pos),
                            K::NestedTemplate,
                            format!("template `{}` names another template", e.key),
                        )
                        .with_hint("a template is a literal `sso` entry; copy what it shares, or use an overlay for per-environment differences"),
                    );
                    continue;
                }
                order.push((e.key.clone(), e.key_pos));
                templates.insert(
                    e.key,
                    Template {
                        node: e.value,
                        used: false,
                    },
                );
            }
        }
        _ if section.value.is_null() => {}
        _ => out.problems.push(Diagnostic::new(
            &loc(section.value.pos),
            K::InvalidType,
            "`sso_templates` must be a mapping of template names to `sso` entries",
        )),
    }

    if let Some(Entry {
        value: Node {
            value: Value::Seq(tenants),
            ..
        },
        ..
    }) = top.iter_mut().find(|e| e.key == "tenants")
    {
        for tenant in tenants.iter_mut() {
            expand_tenant(tenant, &mut templates, loc, &mut out.problems);
        }
    }

    for (name, pos) in order {
        if templates.get(&name).is_some_and(|t| !t.used) {
            out.warnings.push(
                Diagnostic::new(
                    &loc(pos),
                    K::UnusedTemplate,
                    format!("template `{name}` is used by no tenant"),
                )
                .with_hint("name it in a tenant's `sso: {<id>: {template: ...}}`, or delete it"),
            );
        }
    }
    out
}

/// What `${tenant.…}` stands for in one tenant.
struct TenantRefs {
    id: String,
    name: String,
    /// The using entry's `vars:`, then the template's own `vars:` (defaults).
    vars: BTreeMap<String, String>,
    template: String,
    sso_id: String,
}

fn expand_tenant(
    tenant: &mut Node,
    templates: &mut BTreeMap<String, Template>,
    loc: &dyn Fn(Pos) -> Location,
    problems: &mut Vec<Diagnostic>,
) {
    let text = |k: &str| tenant.get(k).and_then(Node::as_text).map(str::to_string);
    let (id, name) = (
        text("id").unwrap_or_default(),
        text("name").unwrap_or_default(),
    );
    let address = (!id.is_empty()).then(|| format!("tenant.{id}"));
    let Value::Map(fields) = &mut tenant.value else {
        return;
    };
    let Some(Value::Map(entries)) = fields
        .iter_mut()
        .find(|e| e.key == "sso")
        .map(|e| &mut e.value.value)
    else {
        return;
    };
    // Entries whose template could not be found: dropped, so the `sso` checks do not report
    // the same mistake again as a missing or unknown key (the load fails already).
    let mut failed = Vec::new();
    for entry in entries.iter_mut() {
        let Value::Map(keys) = &entry.value.value else {
            continue;
        };
        let named = keys.iter().find(|e| e.key == TEMPLATE);
        let vars = keys.iter().find(|e| e.key == VARS);
        let Some(named) = named else {
            if let Some(v) = vars {
                problems.push(
                    Diagnostic::new(
                        &loc(v.key_pos),
                        K::UnknownKey,
                        format!("`vars` in sso `{}` without a `template`", entry.key),
                    )
                    .with_hint("`vars` fill in a template's `${tenant.vars.X}`; add `template: NAME` or remove them")
                    .with_address(address.clone()),
                );
            }
            continue;
        };
        let Some(template_name) = named.value.as_text().filter(|_| !named.value.is_null()) else {
            problems.push(
                Diagnostic::new(
                    &loc(named.value.pos),
                    K::InvalidType,
                    "`template` must be the name of an `sso_templates` entry",
                )
                .with_address(address.clone()),
            );
            failed.push(entry.key.clone());
            continue;
        };
        let template_name = template_name.to_string();
        let Some(template) = templates.get_mut(&template_name) else {
            let hint = did_you_mean(&template_name, templates.keys().map(String::as_str))
                .unwrap_or_else(|| {
                    if templates.is_empty() {
                        "declare it under the top-level `sso_templates:`".to_string()
                    } else {
                        format!(
                            "sso_templates has: {}",
                            templates.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                });
            problems.push(
                Diagnostic::new(
                    &loc(named.value.pos),
                    K::UnknownTemplate,
                    format!("unknown SSO template `{template_name}`"),
                )
                .with_hint(hint)
                .with_address(address.clone()),
            );
            failed.push(entry.key.clone());
            continue;
        };
        template.used = true;

        let mut refs = TenantRefs {
            id: id.clone(),
            name: name.clone(),
            vars: BTreeMap::new(),
            template: template_name.clone(),
            sso_id: entry.key.clone(),
        };
        let mut defaults = template.node.clone();
        if let Value::Map(t) = &mut defaults.value {
            if let Some(i) = t.iter().position(|e| e.key == VARS) {
                let v = t.remove(i);
                scalar_map(&v.value, &mut refs.vars, loc, problems, &address);
            }
        }
        if let Some(v) = vars {
            let mut own = BTreeMap::new();
            scalar_map(&v.value, &mut own, loc, problems, &address);
            refs.vars.extend(own);
        }
        fill(&mut defaults, &refs, loc, problems, &address);

        let Value::Map(keys) = std::mem::replace(&mut entry.value.value, Value::Seq(Vec::new()))
        else {
            continue;
        };
        let overrides: Vec<Entry> = keys
            .into_iter()
            .filter(|e| e.key != TEMPLATE && e.key != VARS)
            .collect();
        if let Value::Map(t) = &mut defaults.value {
            let switched = overrides.iter().any(|o| FLAVOURS.contains(&o.key.as_str()));
            if switched {
                t.retain(|e| {
                    !FLAVOURS.contains(&e.key.as_str()) || overrides.iter().any(|o| o.key == e.key)
                });
            }
        }
        let mut unused = defaults.pos;
        let over = Node {
            value: Value::Map(overrides),
            pos: entry.value.pos,
        };
        overlay::merge_value(&mut defaults, over, &mut unused, entry.key_pos);
        // The block as a whole is where the tenant uses the template (a key missing from both
        // is reported there); its values keep the template's positions.
        entry.value = Node {
            value: defaults.value,
            pos: entry.value.pos,
        };
    }
    entries.retain(|e| !failed.contains(&e.key));
}

/// A `vars:` mapping of names to scalars.
fn scalar_map(
    node: &Node,
    into: &mut BTreeMap<String, String>,
    loc: &dyn Fn(Pos) -> Location,
    problems: &mut Vec<Diagnostic>,
    address: &Option<String>,
) {
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                match e.value.as_text() {
                    Some(t) => {
                        into.insert(e.key.clone(), t.to_string());
                    }
                    None => problems.push(
                        Diagnostic::new(
                            &loc(e.value.pos),
                            K::InvalidType,
                            format!("template variable `{}` must be a single value, not a list or mapping", e.key),
                        )
                        .with_address(address.clone()),
                    ),
                }
            }
        }
        _ if node.is_null() => {}
        _ => problems.push(
            Diagnostic::new(
                &loc(node.pos),
                K::InvalidType,
                "`vars` must be a mapping of names to values",
            )
            .with_address(address.clone()),
        ),
    }
}

/// `${tenant.…}` in every value (keys stay as written) of a template copy.
fn fill(
    node: &mut Node,
    refs: &TenantRefs,
    loc: &dyn Fn(Pos) -> Location,
    problems: &mut Vec<Diagnostic>,
    address: &Option<String>,
) {
    match &mut node.value {
        Value::Scalar { text, plain } => match tenant_refs(text, refs) {
            Ok(None) => {}
            Ok(Some((filled, whole))) => {
                *text = filled;
                // Like `${VAR}`: only a value that is one reference takes the type of its text.
                *plain = *plain && whole;
            }
            Err((partial, messages)) => {
                // The load fails on these; what is left must not also fail the `${VAR}` pass.
                *text = partial;
                for (message, hint) in messages {
                    problems.push(
                        Diagnostic::new(&loc(node.pos), K::UnknownTemplateVariable, message)
                            .with_hint(hint)
                            .with_address(address.clone()),
                    );
                }
            }
        },
        Value::Seq(items) => {
            for item in items {
                fill(item, refs, loc, problems, address);
            }
        }
        Value::Map(entries) => {
            for e in entries {
                fill(&mut e.value, refs, loc, problems, address);
            }
        }
    }
}

/// The text with every `${tenant.…}` replaced, and whether the text was exactly one reference;
/// `None` when it has none. `$${` and other `${…}` are left for the `${VAR}` pass.
/// On failure, the text without the references that failed, and per failure its message and hint.
#[allow(clippy::type_complexity)]
fn tenant_refs(
    text: &str,
    refs: &TenantRefs,
) -> Result<Option<(String, bool)>, (String, Vec<(String, String)>)> {
    const OPEN: &str = "${tenant.";
    if !text.contains(OPEN) {
        return Ok(None);
    }
    let mut out = String::new();
    let mut errors = Vec::new();
    let mut count = 0;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("$${");
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix(OPEN) else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            // Unclosed: the `${VAR}` pass reports it.
            out.push_str(after);
            rest = "";
            break;
        };
        let field = &body[..end];
        rest = &body[end + 1..];
        count += 1;
        let used_by = format!(
            "tenant `{}` (sso `{}`, template `{}`)",
            refs.id, refs.sso_id, refs.template
        );
        match field {
            "id" => out.push_str(&refs.id),
            "name" => out.push_str(&refs.name),
            _ => match field.strip_prefix("vars.") {
                Some(var) => match refs.vars.get(var) {
                    Some(v) => out.push_str(v),
                    None => {
                        let known = did_you_mean(var, refs.vars.keys().map(String::as_str));
                        errors.push((
                            format!("`${{tenant.vars.{var}}}` is not set for {used_by}"),
                            known.unwrap_or_else(|| {
                                format!(
                                    "add `{var}: …` to the `vars:` beside `template: {}` in tenant `{}`",
                                    refs.template, refs.id
                                )
                            }),
                        ));
                    }
                },
                None => errors.push((
                    format!("`${{tenant.{field}}}` is not a template variable (used by {used_by})"),
                    "a template can use ${tenant.id}, ${tenant.name} and ${tenant.vars.NAME}"
                        .to_string(),
                )),
            },
        }
    }
    out.push_str(rest);
    if !errors.is_empty() {
        return Err((out, errors));
    }
    let trimmed = text.trim();
    let whole = count == 1 && trimmed.starts_with(OPEN) && trimmed.ends_with('}') && {
        trimmed.matches("${").count() == 1
    };
    Ok(Some((out, whole)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::{self, Resolved};
    use crate::config::source_map::SourceMap;
    use crate::config::vars::VarSource;
    use crate::config::yaml::parse;
    use std::path::PathBuf;

    const BASE: &str = r#"version: 1
tenants:
  - id: acme
    name: Acme
    sso:
      eu:
        template: okta-saml
        vars: {okta_app: 0oa123}
        domains: [acme.eu]
        saml:
          sign_requests: false
      plain:
        display_name: Literal
  - id: globex
    name: Globex
    sso:
      default:
        template: okta-saml
        vars: {okta_app: "${GLOBEX_APP}"}
        oidc: {client_id: abc}
sso_templates:
  okta-saml:
    vars: {region: us}
    display_name: "${tenant.name} Okta"
    domains: ["${tenant.id}.example.com"]
    redirect_url: "https://${HOST}/sso/$${done}"
    saml:
      idp_url: "https://example.okta.com/app/${tenant.vars.okta_app}/sso/saml?r=${tenant.vars.region}"
      entity_id: "http://www.okta.com/${tenant.vars.okta_app}"
      cert: "${secret:OKTA_CERT}"
      sign_requests: true
"#;

    fn files() -> Vec<PathBuf> {
        vec![PathBuf::from("base.yaml"), PathBuf::from("prod.yaml")]
    }

    fn run(base: &str, overlay: Option<&str>) -> (Outcome, Resolved) {
        let files = files();
        let loc = |p: Pos| Location {
            file: files[p.file].clone(),
            line: p.line,
            column: p.column,
        };
        let mut root = parse(base, 0, &files).unwrap().0;
        if let Some(o) = overlay {
            let mut problems = Vec::new();
            overlay::merge(
                &mut root,
                parse(o, 1, &files).unwrap().0,
                &loc,
                &mut problems,
            );
            assert!(problems.is_empty(), "{problems:?}");
        }
        let out = expand(&mut root, &loc);
        let source = VarSource::from_pairs([
            ("HOST", "app.example.com"),
            ("GLOBEX_APP", "0oa999"),
            ("OKTA_CERT", "-----BEGIN CERTIFICATE-----x"),
        ]);
        let resolved = resolve::resolve(&root, None, &source, SourceMap::new(files.clone()));
        (out, resolved)
    }

    fn at(r: &Resolved, pointer: &str) -> (String, usize, usize) {
        let l = r.map.locate(pointer).unwrap();
        (l.file.display().to_string(), l.line, l.column)
    }

    #[test]
    fn a_tenant_gets_the_template_filled_in_and_overridden() {
        let (out, r) = run(BASE, None);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        assert!(out.warnings.is_empty());
        assert!(r.problems.is_empty());
        assert_eq!(r.json.get(KEY), None);
        let eu = &r.json["tenants"][0]["sso"]["eu"];
        assert_eq!(
            *eu,
            json!({
                "display_name": "Acme Okta",
                "domains": ["acme.eu"],
                "redirect_url": "https://app.example.com/sso/${done}",
                "saml": {
                    "idp_url": "https://example.okta.com/app/0oa123/sso/saml?r=us",
                    "entity_id": "http://www.okta.com/0oa123",
                    "cert": "-----BEGIN CERTIFICATE-----x",
                    "sign_requests": false,
                }
            })
        );
        assert_eq!(
            r.json["tenants"][0]["sso"]["plain"],
            json!({"display_name": "Literal"})
        );
        // Template values point at the template, overrides at the tenant.
        assert_eq!(
            at(&r, "/tenants/0/sso/eu/display_name"),
            ("base.yaml".into(), 24, 19)
        );
        assert_eq!(
            at(&r, "/tenants/0/sso/eu/domains"),
            ("base.yaml".into(), 9, 18)
        );
        assert_eq!(
            at(&r, "/tenants/0/sso/eu/saml/sign_requests"),
            ("base.yaml".into(), 11, 26)
        );
        assert_eq!(
            at(&r, "/tenants/0/sso/eu/saml/idp_url"),
            ("base.yaml".into(), 28, 16)
        );
        // Each tenant's copy of a secret is a secret where that tenant holds it.
        assert_eq!(
            r.secrets.keys().collect::<Vec<_>>(),
            ["/tenants/0/sso/eu/saml/cert"]
        );
    }

    #[test]
    fn another_flavour_replaces_the_templates_and_vars_may_hold_variables() {
        let (out, r) = run(BASE, None);
        assert!(out.problems.is_empty());
        let d = &r.json["tenants"][1]["sso"]["default"];
        assert_eq!(d.get("saml"), None);
        assert_eq!(d["oidc"], json!({"client_id": "abc"}));
        assert_eq!(d["display_name"], json!("Globex Okta"));
        assert_eq!(d["domains"], json!(["globex.example.com"]));
    }

    #[test]
    fn an_overlay_changes_a_template_for_its_environment() {
        let prod = "sso_templates:\n  okta-saml:\n    saml:\n      idp_url: https://prod.okta.com/${tenant.vars.okta_app}\n";
        let (out, r) = run(BASE, Some(prod));
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let saml = &r.json["tenants"][0]["sso"]["eu"]["saml"];
        assert_eq!(saml["idp_url"], json!("https://prod.okta.com/0oa123"));
        assert_eq!(saml["entity_id"], json!("http://www.okta.com/0oa123"));
        assert_eq!(
            at(&r, "/tenants/0/sso/eu/saml/idp_url"),
            ("prod.yaml".into(), 4, 16)
        );
    }

    #[test]
    fn whole_references_keep_their_yaml_type() {
        let base = "tenants:\n  - id: a\n    name: A\n    sso:\n      x:\n        template: t\n        vars: {sign: \"false\", n: 7}\nsso_templates:\n  t:\n    saml:\n      sign_requests: ${tenant.vars.sign}\n      label: n${tenant.vars.n}\n      quoted: \"${tenant.vars.n}\"\n";
        let (out, r) = run(base, None);
        assert!(out.problems.is_empty());
        let saml = &r.json["tenants"][0]["sso"]["x"]["saml"];
        assert_eq!(saml["sign_requests"], json!(false));
        assert_eq!(saml["label"], json!("n7"));
        assert_eq!(saml["quoted"], json!("7"));
    }

    fn problems(base: &str) -> Vec<(K, usize, usize, String)> {
        let (out, _) = run(base, None);
        out.problems
            .iter()
            .map(|d| (d.kind, d.line, d.column, d.message.clone()))
            .collect()
    }

    #[test]
    fn mistakes_are_reported_where_they_are_written() {
        let base = "tenants:\n  - id: a\n    name: A\n    sso:\n      x: {template: okta-saml2}\n      y: {template: okta-saml}\n      z: {vars: {q: 1}, display_name: Z}\nsso_templates:\n  okta-saml:\n    display_name: ${tenant.vars.app} ${tenant.nme}\n  nested:\n    template: okta-saml\n";
        let found = problems(base);
        assert_eq!(
            found,
            vec![
                (K::NestedTemplate, 12, 5, "template `nested` names another template".to_string()),
                (K::UnknownTemplate, 5, 21, "unknown SSO template `okta-saml2`".to_string()),
                (
                    K::UnknownTemplateVariable,
                    10,
                    19,
                    "`${tenant.vars.app}` is not set for tenant `a` (sso `y`, template `okta-saml`)"
                        .to_string()
                ),
                (
                    K::UnknownTemplateVariable,
                    10,
                    19,
                    "`${tenant.nme}` is not a template variable (used by tenant `a` (sso `y`, template `okta-saml`))"
                        .to_string()
                ),
                (K::UnknownKey, 7, 11, "`vars` in sso `z` without a `template`".to_string()),
            ]
        );
        let (out, _) = run(base, None);
        let unknown = out
            .problems
            .iter()
            .find(|d| d.kind == K::UnknownTemplate)
            .unwrap();
        assert_eq!(unknown.hint.as_deref(), Some("did you mean `okta-saml`?"));
        assert_eq!(unknown.address.as_deref(), Some("tenant.a"));
    }

    #[test]
    fn the_sso_entry_schema_learns_template_and_vars() {
        let mut root = json!({
            "properties": {"tenants": {"type": "array", "items": {"$ref": "#/$defs/TenantConfig"}}},
            "$defs": {
                "TenantConfig": {"properties": {"sso": {"anyOf": [
                    {"type": "object", "additionalProperties": {"$ref": "#/$defs/SsoEntry"}},
                    {"type": "null"}
                ]}}},
                "SsoEntry": {"type": "object", "properties": {"display_name": {}}, "additionalProperties": false}
            }
        });
        document_in_sso_entries(&mut root);
        let props = root.pointer("/$defs/SsoEntry/properties").unwrap();
        assert_eq!(props["template"]["type"], "string");
        assert_eq!(props["vars"]["type"], "object");
        // Without an `sso` section in the schema nothing changes.
        let mut bare = json!({"properties": {"tenants": {"items": {"$ref": "#/$defs/T"}}}, "$defs": {"T": {"properties": {}}}});
        let before = bare.clone();
        document_in_sso_entries(&mut bare);
        assert_eq!(bare, before);
    }

    #[test]
    fn an_unused_template_is_a_warning() {
        let base = "tenants: []\nsso_templates:\n  spare: {display_name: S}\n";
        let (out, r) = run(base, None);
        assert!(out.problems.is_empty());
        assert_eq!(
            out.warnings
                .iter()
                .map(|d| (d.kind, d.line, d.column))
                .collect::<Vec<_>>(),
            [(K::UnusedTemplate, 3, 3)]
        );
        assert!(out.warnings[0]
            .as_warning()
            .starts_with("base.yaml:3:3: warning[unused_template] "));
        assert!(r.problems.is_empty());
    }
}
