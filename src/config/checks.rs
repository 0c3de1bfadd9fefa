//! The rules a configuration must satisfy beyond its shape: ids, names, domains, references
//! between resources, tenant nesting, referenced files. Every rule runs; nothing stops early.

use crate::util::input::InputFile;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use regex::Regex;
use serde_json::Value as Json;

use super::decode::Decoded;
use super::diagnostic::{did_you_mean, DiagnosticKind as K, Location};
use super::resolve::Problem;
use super::source_map::SourceMap;
use crate::model::builtin::{is_builtin_role, is_system_permission};
use crate::model::Kind;

/// Root → child → grandchild.
pub const MAX_TENANT_DEPTH: usize = 3;
pub const MAX_NAME_CHARS: usize = 100;

struct Ctx<'a> {
    map: &'a SourceMap,
    out: Vec<Problem>,
}

impl Ctx<'_> {
    fn at(&mut self, pointer: String, kind: K, message: String, hint: Option<String>) {
        self.out.push(Problem {
            loc: self.map.nearest(&pointer),
            pointer,
            kind,
            message,
            hint,
        });
    }
    fn loc(&self, pointer: &str) -> Location {
        self.map.nearest(pointer)
    }
}

pub fn check(d: &Decoded, json: &Json, map: &SourceMap, base_dir: &Path) -> Vec<Problem> {
    let mut c = Ctx {
        map,
        out: Vec::new(),
    };
    let cfg = &d.config;
    if d.version_present && cfg.version != 1 {
        c.at(
            "/version".into(),
            K::UnsupportedVersion,
            format!(
                "version {} is not supported; this tool reads version 1",
                cfg.version
            ),
            Some("set `version: 1`".into()),
        );
    }
    if cfg.settings.parallelism == Some(0) {
        c.at(
            "/settings/parallelism".into(),
            K::InvalidType,
            "parallelism must be at least 1".into(),
            Some("remove it to size the requests in flight automatically".into()),
        );
    }
    // A branch mapped to an environment that does not exist would only fail on that branch.
    let declared: Vec<&str> = cfg.environments.keys().map(String::as_str).collect();
    for (branch, env) in &cfg.settings.branch_environments {
        let known = declared.contains(&env.as_str())
            || (declared.is_empty() && env == super::DEFAULT_ENVIRONMENT);
        if !known {
            c.at(
                format!(
                    "/settings/branch_environments/{}",
                    super::source_map::escape(branch)
                ),
                K::UnknownEnvironment,
                format!(
                    "branch `{branch}` is mapped to environment `{env}`, which is not declared"
                ),
                Some(format!("environments: {}", declared.join(", "))),
            );
        }
    }
    if let Some(state) = &cfg.settings.state {
        state_settings(&mut c, state);
    }
    let pattern = match Regex::new(&cfg.settings.tenant_id_pattern) {
        Ok(r) => Some(r),
        Err(e) => {
            let first_line = e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_string();
            c.at(
                "/settings/tenant_id_pattern".into(),
                K::InvalidPattern,
                format!("tenant_id_pattern is not a valid regular expression: {first_line}"),
                None,
            );
            None
        }
    };

    let raw = |list: &str, field: &str| -> Vec<String> {
        json.get(list)
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get(field)?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let tenant_ids: BTreeSet<String> = raw("tenants", "id").into_iter().collect();
    let permission_names: BTreeSet<String> = raw("permissions", "name").into_iter().collect();

    tenants(&mut c, d, pattern.as_ref(), &tenant_ids);
    permissions(&mut c, d);
    roles(&mut c, d, &tenant_ids, &permission_names);
    default_roles(&mut c, d, json);
    flows_and_theme(&mut c, d, base_dir);
    let mut cx = ConfigCheck {
        config: cfg,
        base_dir,
        map,
        out: &mut c.out,
    };
    for kind in crate::kinds::all() {
        kind.check_config(&mut cx);
    }
    c.out
}

/// What a kind's `check_config` sees: the decoded configuration (its own sections in
/// `config.sections`) and a way to report problems at their place in the file.
pub struct ConfigCheck<'a> {
    pub config: &'a super::Config,
    pub base_dir: &'a Path,
    map: &'a SourceMap,
    out: &'a mut Vec<Problem>,
}

impl ConfigCheck<'_> {
    pub fn problem(&mut self, pointer: &str, kind: K, message: String, hint: Option<String>) {
        self.out.push(Problem {
            loc: self.map.nearest(pointer),
            pointer: pointer.to_string(),
            kind,
            message,
            hint,
        });
    }

    /// A problem inside a file the configuration names (a list's item file), at its own
    /// position there; `pointer` is where the configuration names the file.
    pub fn problem_in_file(
        &mut self,
        pointer: &str,
        loc: Location,
        kind: K,
        message: String,
        hint: Option<String>,
    ) {
        self.out.push(Problem {
            loc,
            pointer: pointer.to_string(),
            kind,
            message,
            hint,
        });
    }

    /// Each `ignore_changes` entry under `pointer` must name one of `allowed` (a `what`'s
    /// managed fields).
    pub fn ignore_changes(
        &mut self,
        pointer: &str,
        fields: &[String],
        allowed: &[&str],
        what: &str,
    ) {
        for (j, f) in fields.iter().enumerate() {
            if !allowed.contains(&f.as_str()) {
                self.problem(
                    &format!("{pointer}/ignore_changes/{j}"),
                    K::InvalidIgnoreChanges,
                    format!("`{f}` is not a field of {what}"),
                    did_you_mean(f, allowed.iter().copied())
                        .or_else(|| Some(format!("{what} has: {}", allowed.join(", ")))),
                );
            }
        }
    }

    /// Decode a section into the kind's own type; a mismatch is reported with its position.
    pub fn decode<T: serde::de::DeserializeOwned>(&mut self, v: &super::SectionValue) -> Option<T> {
        super::decode::one(&v.value, &v.pointer, self.map, self.out)
    }
}

/// `settings.state`: what each backend needs, checked here so a typo fails `validate` with
/// its position rather than the first apply with a storage error.
fn state_settings(c: &mut Ctx, s: &crate::config::StateSettings) {
    use crate::config::StateBackend;
    let remote = s.backend != StateBackend::Local;
    let at = |field: &str| format!("/settings/state/{field}");
    let mut bad = |field: &str, message: String, hint: &str| {
        c.at(
            at(field),
            K::InvalidStateSettings,
            message,
            Some(hint.to_string()),
        )
    };
    match (&s.bucket, remote) {
        (None, true) => bad(
            "backend",
            format!("backend `{:?}` needs a bucket", s.backend).to_lowercase(),
            "add `bucket: NAME` (the container name for azure)",
        ),
        (Some(b), true)
            if b.is_empty() || b.contains('/') || b.chars().any(char::is_whitespace) =>
        {
            bad(
                "bucket",
                format!("`{b}` is not a bucket name"),
                "write the bare bucket name, without `s3://` or slashes",
            )
        }
        _ => {}
    }
    if !s.prefix.is_empty()
        && (!s.prefix.ends_with('/') || s.prefix.starts_with('/') || s.prefix.contains("//"))
    {
        bad(
            "prefix",
            format!(
                "prefix `{}` must end with `/` and not start with one",
                s.prefix
            ),
            "e.g. `prefix: descope/`",
        );
    }
    if let Some(e) = &s.endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) || e.len() < 10 {
            bad(
                "endpoint",
                format!("`{e}` is not an http(s) URL"),
                "e.g. `endpoint: http://127.0.0.1:9000` for an S3-compatible server",
            );
        } else if s.backend == StateBackend::Gcs {
            bad(
                "endpoint",
                "the gcs backend takes no endpoint".into(),
                "remove `endpoint`",
            );
        }
    }
    if s.region.is_some() && s.backend != StateBackend::S3 {
        bad(
            "region",
            "only the s3 backend takes a region".into(),
            "remove `region`",
        );
    }
    if s.account.is_some() && s.backend != StateBackend::Azure {
        bad(
            "account",
            "only the azure backend takes an account".into(),
            "remove `account`",
        );
    }
    if let Some(l) = &s.lock_lease {
        match humantime::parse_duration(l) {
            Ok(d)
                if d >= std::time::Duration::from_secs(1)
                    && d <= std::time::Duration::from_secs(3600) => {}
            _ => bad(
                "lock_lease",
                format!("`{l}` is not a lease between 1s and 1h"),
                "e.g. `lock_lease: 60s`",
            ),
        }
    }
    if !remote
        && (s.bucket.is_some()
            || s.endpoint.is_some()
            || !s.prefix.is_empty()
            || s.lock_lease.is_some())
    {
        bad(
            "backend",
            "the local backend takes no bucket, prefix, endpoint or lock_lease".into(),
            "set `backend: s3` (or gcs, azure), or remove the other fields",
        );
    }
}
fn name_length(c: &mut Ctx, pointer: String, what: &str, name: &str) {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.trim().is_empty() {
        c.at(
            pointer,
            K::InvalidName,
            format!("{what} name must be 1 to {MAX_NAME_CHARS} characters (it has {n})"),
            None,
        );
    }
}

/// RFC 1035 preferred name syntax, relaxed as RFC 1123 does to allow a leading digit
/// (`3m.com`); at least two labels, since a self-provisioning domain is a registered domain.
pub fn valid_domain(d: &str) -> bool {
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = d.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

fn tenants(c: &mut Ctx, d: &Decoded, pattern: Option<&Regex>, ids: &BTreeSet<String>) {
    let cfg = &d.config;
    let mut seen_id: HashMap<&str, Location> = HashMap::new();
    let mut seen_name: HashMap<&str, Location> = HashMap::new();
    let mut seen_domain: HashMap<String, (Location, &str)> = HashMap::new();
    for (t, &i) in cfg.tenants.iter().zip(&d.tenants) {
        let base = format!("/tenants/{i}");
        if let Some(re) = pattern {
            if !re.is_match(&t.id) {
                c.at(
                    format!("{base}/id"),
                    K::InvalidTenantId,
                    format!(
                        "tenant id `{}` does not match settings.tenant_id_pattern `{}`",
                        t.id,
                        re.as_str()
                    ),
                    Some(
                        "use lowercase letters, digits and `-`, or set settings.tenant_id_pattern"
                            .into(),
                    ),
                );
            }
        }
        name_length(c, format!("{base}/name"), "tenant", &t.name);
        if let Some(first) = seen_id.get(t.id.as_str()) {
            let m = format!("tenant id `{}` is already used at {first}", t.id);
            c.at(format!("{base}/id"), K::DuplicateId, m, None);
        } else {
            seen_id.insert(&t.id, c.loc(&format!("{base}/id")));
        }
        if let Some(first) = seen_name.get(t.name.as_str()) {
            let m = format!("tenant name `{}` is already used at {first}", t.name);
            c.at(
                format!("{base}/name"),
                K::DuplicateName,
                m,
                Some("tenant names are unique in a project".into()),
            );
        } else {
            seen_name.insert(&t.name, c.loc(&format!("{base}/name")));
        }
        for (j, dom) in t.domains.iter().flatten().enumerate() {
            let p = format!("{base}/domains/{j}");
            if !valid_domain(dom) {
                c.at(
                    p.clone(),
                    K::InvalidDomain,
                    format!("`{dom}` is not a domain name"),
                    Some(
                        "write a bare domain such as `acme.com` (no scheme, path, `@` or wildcard)"
                            .into(),
                    ),
                );
            }
            let key = dom.to_ascii_lowercase();
            if let Some((first, owner)) = seen_domain.get(&key) {
                let m = format!("domain `{dom}` already belongs to tenant `{owner}` at {first}");
                c.at(
                    p,
                    K::DuplicateDomain,
                    m,
                    Some("a self-provisioning domain can belong to one tenant only".into()),
                );
            } else {
                seen_domain.insert(key, (c.loc(&p), &t.id));
            }
        }
        if let Some(parent) = &t.parent {
            if !ids.contains(parent) {
                c.at(
                    format!("{base}/parent"),
                    K::UnknownParent,
                    format!("parent tenant `{parent}` is not in the configuration"),
                    did_you_mean(parent, ids.iter().map(String::as_str)),
                );
            }
        }
        ignore_changes(c, &base, crate::kinds::tenant::KIND, &t.ignore_changes);
    }
    nesting(c, d);
}

/// Parent cycles (reported once, on the cycle's first tenant) and nesting deeper than allowed.
fn nesting(c: &mut Ctx, d: &Decoded) {
    let tenants = &d.config.tenants;
    let parent_of: BTreeMap<&str, &str> = tenants
        .iter()
        .filter_map(|t| Some((t.id.as_str(), t.parent.as_deref()?)))
        .collect();
    let ids: std::collections::HashSet<&str> = tenants.iter().map(|t| t.id.as_str()).collect();
    let mut reported_cycles: BTreeSet<Vec<&str>> = BTreeSet::new();
    for (t, &i) in tenants.iter().zip(&d.tenants) {
        let mut chain = vec![t.id.as_str()];
        let mut cur = t.id.as_str();
        let mut cycle = None;
        while let Some(&p) = parent_of.get(cur) {
            if let Some(at) = chain.iter().position(|x| *x == p) {
                cycle = Some(chain[at..].to_vec());
                break;
            }
            chain.push(p);
            cur = p;
        }
        match cycle {
            Some(members) => {
                if members.first() == Some(&t.id.as_str()) {
                    let mut key = members.clone();
                    key.sort();
                    if reported_cycles.insert(key) {
                        let mut path = members.clone();
                        path.push(t.id.as_str());
                        c.at(
                            format!("/tenants/{i}/parent"),
                            K::ParentCycle,
                            format!("tenant parents form a cycle: {}", path.join(" -> ")),
                            None,
                        );
                    }
                }
            }
            None => {
                // Only chains that end in a known root count; an unknown parent is reported already.
                let root_known = ids.contains(cur);
                if root_known && chain.len() > MAX_TENANT_DEPTH {
                    let mut path = chain.clone();
                    path.reverse();
                    c.at(
                        format!("/tenants/{i}/parent"),
                        K::TooDeep,
                        format!(
                            "tenant is nested {} levels deep ({}); Descope allows {MAX_TENANT_DEPTH} (root, child, grandchild)",
                            chain.len(),
                            path.join(" > ")
                        ),
                        None,
                    );
                }
            }
        }
    }
}

fn permissions(c: &mut Ctx, d: &Decoded) {
    let mut seen: HashMap<&str, Location> = HashMap::new();
    let declared: BTreeSet<&str> = d
        .config
        .permissions
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for (p, &i) in d.config.permissions.iter().zip(&d.permissions) {
        let base = format!("/permissions/{i}");
        renamed_from(c, &base, "permission", &p.renamed_from, |old| {
            declared.contains(old)
        });
        name_length(c, format!("{base}/name"), "permission", &p.name);
        if let Some(first) = seen.get(p.name.as_str()) {
            let m = format!("permission `{}` is already declared at {first}", p.name);
            c.at(format!("{base}/name"), K::DuplicatePermission, m, None);
        } else {
            seen.insert(&p.name, c.loc(&format!("{base}/name")));
        }
        ignore_changes(c, &base, crate::kinds::permission::KIND, &p.ignore_changes);
    }
}

fn roles(c: &mut Ctx, d: &Decoded, tenant_ids: &BTreeSet<String>, perms: &BTreeSet<String>) {
    let mut seen: HashMap<(Option<&str>, &str), Location> = HashMap::new();
    let declared: BTreeSet<(Option<&str>, &str)> = d
        .config
        .roles
        .iter()
        .map(|r| (r.tenant.as_deref(), r.name.as_str()))
        .collect();
    for (r, &i) in d.config.roles.iter().zip(&d.roles) {
        let base = format!("/roles/{i}");
        renamed_from(c, &base, "role", &r.renamed_from, |old| {
            declared.contains(&(r.tenant.as_deref(), old)) || old.contains('/')
        });
        name_length(c, format!("{base}/name"), "role", &r.name);
        if r.name.contains('/') {
            c.at(
                format!("{base}/name"),
                K::SlashInRoleName,
                format!("role name `{}` contains `/`", r.name),
                Some("`/` separates tenant and role in addresses (role.<tenant>/<name>); choose another character".into()),
            );
        }
        let key = (r.tenant.as_deref(), r.name.as_str());
        if let Some(first) = seen.get(&key) {
            let m = format!("role `{}` is already declared at {first}", r.name);
            c.at(format!("{base}/name"), K::DuplicateRole, m, None);
        } else {
            seen.insert(key, c.loc(&format!("{base}/name")));
        }
        if let Some(t) = &r.tenant {
            if !tenant_ids.contains(t) {
                c.at(
                    format!("{base}/tenant"),
                    K::UnknownTenant,
                    format!("tenant `{t}` is not in the configuration"),
                    did_you_mean(t, tenant_ids.iter().map(String::as_str)),
                );
            }
        }
        for (j, p) in r.permissions.iter().flatten().enumerate() {
            if !perms.contains(p) && !is_system_permission(p) {
                c.at(
                    format!("{base}/permissions/{j}"),
                    K::UnknownPermission,
                    format!("permission `{p}` is not declared under `permissions`"),
                    did_you_mean(p, perms.iter().map(String::as_str))
                        .or_else(|| Some(format!("declare it: permissions: [{{name: \"{p}\"}}]"))),
                );
            }
        }
        ignore_changes(c, &base, crate::kinds::role::KIND, &r.ignore_changes);
    }
}

/// Each `renamed_from` entry names an old name that the configuration no longer declares (a
/// live object of that name is renamed, never kept next to its new self); `taken` says
/// whether a name is declared (or otherwise unusable) in the entry's scope.
fn renamed_from(
    c: &mut Ctx,
    base: &str,
    what: &str,
    old_names: &[String],
    taken: impl Fn(&str) -> bool,
) {
    let mut seen = BTreeSet::new();
    for (j, old) in old_names.iter().enumerate() {
        let at = format!("{base}/renamed_from/{j}");
        if old.trim().is_empty() {
            c.at(
                at,
                K::InvalidName,
                "an empty name in `renamed_from`".into(),
                None,
            );
        } else if !seen.insert(old.as_str()) {
            c.at(
                at,
                K::InvalidValue,
                format!("`{old}` is listed twice in `renamed_from`"),
                None,
            );
        } else if taken(old) {
            c.at(
                at,
                K::InvalidValue,
                format!("`renamed_from` names `{old}`, which is a {what} this configuration declares (or cannot be one)"),
                Some(format!(
                    "a {what} renamed from `{old}` replaces it: remove `{old}` from the configuration, or from `renamed_from`"
                )),
            );
        }
    }
}

/// A default role is the tenant's own role of that name, else a project role, else a
/// Descope built-in role that every project has.
fn default_roles(c: &mut Ctx, d: &Decoded, json: &Json) {
    let roles: BTreeSet<(String, String)> = json
        .get("roles")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let name = r.get("name")?.as_str()?.to_string();
                    let tenant = r
                        .get("tenant")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_string();
                    Some((tenant, name))
                })
                .collect()
        })
        .unwrap_or_default();
    for (t, &i) in d.config.tenants.iter().zip(&d.tenants) {
        for (j, name) in t.default_roles.iter().flatten().enumerate() {
            let exists = roles.contains(&(t.id.clone(), name.clone()))
                || roles.contains(&(String::new(), name.clone()))
                || is_builtin_role(name);
            if !exists {
                let candidates: Vec<&str> = roles
                    .iter()
                    .filter(|(rt, _)| rt.is_empty() || *rt == t.id)
                    .map(|(_, n)| n.as_str())
                    .collect();
                c.at(
                    format!("/tenants/{i}/default_roles/{j}"),
                    K::UnknownDefaultRole,
                    format!(
                        "default role `{name}` is neither a role of tenant `{}` nor a project role",
                        t.id
                    ),
                    did_you_mean(name, candidates),
                );
            }
        }
    }
}

fn ignore_changes(c: &mut Ctx, base: &str, kind: Kind, fields: &[String]) {
    let allowed = crate::kinds::of(kind).managed_fields();
    for (j, f) in fields.iter().enumerate() {
        if !allowed.contains(&f.as_str()) {
            c.at(
                format!("{base}/ignore_changes/{j}"),
                K::InvalidIgnoreChanges,
                format!("`{f}` is not a field of a {kind}"),
                did_you_mean(f, allowed.iter().copied())
                    .or_else(|| Some(format!("a {kind} has: {}", allowed.join(", ")))),
            );
        }
    }
}

fn flows_and_theme(c: &mut Ctx, d: &Decoded, base_dir: &Path) {
    let mut seen: HashMap<&str, Location> = HashMap::new();
    for (f, &i) in d.config.flows.iter().zip(&d.flows) {
        let base = format!("/flows/{i}");
        if let Some(first) = seen.get(f.id.as_str()) {
            let m = format!("flow `{}` is already declared at {first}", f.id);
            c.at(format!("{base}/id"), K::DuplicateFlow, m, None);
        } else {
            seen.insert(&f.id, c.loc(&format!("{base}/id")));
        }
        json_file(c, format!("{base}/file"), base_dir, &f.file, "flow");
        ignore_changes(c, &base, crate::kinds::flow::KIND, &f.ignore_changes);
    }
    if let Some(t) = &d.config.theme {
        json_file(c, "/theme/file".into(), base_dir, &t.file, "theme");
        ignore_changes(c, "/theme", crate::kinds::theme::KIND, &t.ignore_changes);
    }
}

fn json_file(c: &mut Ctx, pointer: String, base_dir: &Path, rel: &str, what: &str) {
    let path = base_dir.join(rel);
    let read = crate::util::input::inside(base_dir, rel, InputFile::Document)
        .and_then(|p| crate::util::input::read(&p, InputFile::Document));
    match read {
        Err(e) => c.at(
            pointer,
            K::MissingFile,
            format!("{what} file {e}"),
            Some(
                "paths are relative to the configuration file and stay inside its directory".into(),
            ),
        ),
        Ok(bytes) => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                c.at(
                    pointer,
                    K::InvalidJson,
                    format!("{what} file `{}` is not JSON: {e}", path.display()),
                    Some("flows and the theme are JSON documents as Descope exports them".into()),
                );
            }
        }
    }
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        for ok in ["acme.com", "3m.com", "a-b.co.uk", "ACME.COM"] {
            assert!(valid_domain(ok), "{ok}");
        }
        for bad in [
            "acme",
            "-a.com",
            "a-.com",
            "a..com",
            "http://a.com",
            "*.a.com",
            "a.123",
            "a@b.com",
            "",
        ] {
            assert!(!valid_domain(bad), "{bad}");
        }
    }

    fn problems(yaml: &str) -> Vec<(K, String)> {
        let dir = std::env::temp_dir().join(format!("descope-mgmt-checks-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!(
            "{:x}.yaml",
            yaml.len() * 31 + yaml.bytes().map(usize::from).sum::<usize>()
        ));
        std::fs::write(&path, yaml).unwrap();
        let opts = crate::config::LoadOptions {
            path: path.clone(),
            env: None,
            vars: crate::config::VarSource::Map(Default::default()),
        };
        let out = match crate::config::load(&opts) {
            Ok(_) => Vec::new(),
            Err(ds) => ds
                .iter()
                .map(|d| (d.kind, d.address.clone().unwrap_or_default()))
                .collect(),
        };
        let _ = std::fs::remove_file(path);
        out
    }

    fn tenants(list: &[(&str, Option<&str>)]) -> String {
        let mut s = String::from("version: 1\ntenants:\n");
        for (id, parent) in list {
            s.push_str(&format!("  - id: {id}\n    name: N {id}\n"));
            if let Some(p) = parent {
                s.push_str(&format!("    parent: {p}\n"));
            }
        }
        s
    }

    #[test]
    fn nesting_limits_and_cycles() {
        // Three levels are fine; the fourth and fifth are each too deep.
        let five = tenants(&[
            ("aaa", None),
            ("bbb", Some("aaa")),
            ("ccc", Some("bbb")),
            ("ddd", Some("ccc")),
            ("eee", Some("ddd")),
        ]);
        assert_eq!(
            problems(&five),
            [
                (K::TooDeep, "tenant.ddd".into()),
                (K::TooDeep, "tenant.eee".into())
            ]
        );
        // Under an unknown parent the depth is unknown: only the unknown parent is reported.
        let lost = tenants(&[
            ("bbb", Some("zzz")),
            ("ccc", Some("bbb")),
            ("ddd", Some("ccc")),
        ]);
        assert_eq!(problems(&lost), [(K::UnknownParent, "tenant.bbb".into())]);
        // A three-tenant cycle is reported once, and a self-parent too.
        let cyc = tenants(&[
            ("aaa", Some("ccc")),
            ("bbb", Some("aaa")),
            ("ccc", Some("bbb")),
            ("sss", Some("sss")),
        ]);
        assert_eq!(
            problems(&cyc),
            [
                (K::ParentCycle, "tenant.aaa".into()),
                (K::ParentCycle, "tenant.sss".into())
            ]
        );
    }
}
