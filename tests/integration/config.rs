//! The configuration loader and the `validate`, `schema` and `completions` commands, tested
//! through the library API and the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use descope_mgmt::config::{
    self, load, resolve_credentials, validate_all, ConfigError, DiagnosticKind, Diagnostics,
    LoadOptions, LoadedConfig, VarSource,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::util::{descope_mgmt, TestEnv};

const EXAMPLE_ENVS: [&str; 5] = ["test", "devtest", "dev", "staging", "prod"];

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(rel)
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/descope.yaml")
}

fn example_keys() -> Vec<(String, String)> {
    EXAMPLE_ENVS
        .iter()
        .map(|e| {
            (
                format!("DESCOPE_{}_KEY", e.to_uppercase()),
                format!("key-for-{e}-0123456789"),
            )
        })
        .collect()
}

/// The binary with a clean environment: nothing from the developer's shell leaks in.
fn bin(dir: &Path) -> Command {
    let mut cmd = Command::from_std(descope_mgmt());
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

/// Write `files` (path, content) into a fresh directory.
fn tree(files: &[(&str, &str)]) -> TestEnv {
    let t = TestEnv::new();
    for (rel, content) in files {
        t.write(rel, content);
    }
    t
}

fn vars(pairs: &[(&str, &str)]) -> VarSource {
    VarSource::from_pairs(pairs.iter().copied())
}

fn load_env(path: &Path, env: Option<&str>, v: VarSource) -> Result<LoadedConfig, Diagnostics> {
    load(&LoadOptions {
        path: path.to_path_buf(),
        env: env.map(str::to_string),
        vars: v,
    })
}

/// (file relative to `root`:line:column, address, kind) for comparison with golden lists.
fn triples(ds: &Diagnostics, root: &Path) -> Vec<(String, String, String)> {
    ds.clone()
        .sorted()
        .iter()
        .map(|d| {
            let file = d
                .file
                .strip_prefix(root)
                .unwrap_or(&d.file)
                .display()
                .to_string();
            (
                format!("{file}:{}:{}", d.line, d.column),
                d.address.clone().unwrap_or_default(),
                d.kind.as_str().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Forty mistakes

const FORTY: [(&str, &str, &str); 40] = [
    ("descope.yaml:3:10", "", "unsupported_version"),
    ("descope.yaml:5:15", "settings", "invalid_rate_limit"),
    ("descope.yaml:6:3", "settings", "unknown_key"),
    ("descope.yaml:15:5", "environment.lab", "unknown_key"),
    ("descope.yaml:16:21", "environment.lab", "literal_secret"),
    ("descope.yaml:17:14", "environment.lab", "missing_file"),
    (
        "descope.yaml:20:11",
        "permission.read",
        "duplicate_permission",
    ),
    ("descope.yaml:21:5", "", "missing_field"),
    ("descope.yaml:21:5", "", "unknown_key"),
    (
        "descope.yaml:23:22",
        "permission.write",
        "invalid_ignore_changes",
    ),
    ("descope.yaml:26:25", "role.viewer", "unknown_permission"),
    ("descope.yaml:27:11", "role.viewer", "duplicate_role"),
    ("descope.yaml:28:11", "role.ops/admin", "slash_in_role_name"),
    ("descope.yaml:30:13", "role.nope/auditor", "unknown_tenant"),
    ("descope.yaml:32:18", "role.typed", "invalid_type"),
    ("descope.yaml:34:9", "tenant.Acme_Corp", "invalid_tenant_id"),
    ("descope.yaml:38:27", "tenant.root-a", "invalid_domain"),
    ("descope.yaml:40:11", "tenant.root-b", "duplicate_name"),
    ("descope.yaml:41:15", "tenant.root-b", "duplicate_domain"),
    ("descope.yaml:42:9", "tenant.root-a", "duplicate_id"),
    ("descope.yaml:52:13", "tenant.great", "too_deep"),
    ("descope.yaml:55:13", "tenant.orphan", "unknown_parent"),
    ("descope.yaml:58:13", "tenant.cyc-a", "parent_cycle"),
    ("descope.yaml:63:11", "tenant.unnamed", "invalid_name"),
    (
        "descope.yaml:66:29",
        "tenant.def-roles",
        "unknown_default_role",
    ),
    ("descope.yaml:69:5", "tenant.keys", "unknown_key"),
    ("descope.yaml:72:18", "tenant.sso", "invalid_type"),
    (
        "descope.yaml:75:5",
        "tenant.remover",
        "remove_outside_overlay",
    ),
    (
        "descope.yaml:78:22",
        "tenant.ignorer",
        "invalid_ignore_changes",
    ),
    ("descope.yaml:80:11", "tenant.badvar", "invalid_variable"),
    ("descope.yaml:83:5", "", "duplicate_key"),
    ("descope.yaml:86:11", "flow.sign-in", "missing_file"),
    ("descope.yaml:88:11", "flow.broken", "invalid_json"),
    ("descope.yaml:89:9", "flow.broken", "duplicate_flow"),
    ("descope.yaml:93:3", "theme", "unknown_key"),
    ("descope.yaml:94:1", "", "unknown_key"),
    ("envs/ci.yaml:1:1", "", "overlay_version"),
    (
        "envs/ci.yaml:3:5",
        "tenant.ghost-tenant",
        "overlay_remove_unknown",
    ),
    (
        "envs/ci.yaml:6:11",
        "tenant.from-overlay",
        "missing_variable",
    ),
    ("envs/ci.yaml:8:5", "tenant.child", "unknown_key"),
];

const CI_KEY: &str = "ci-key-value-never-shown-7f3a";
const LAB_LITERAL_KEY: &str = "K2literalLabKey0123456789";

#[test]
fn forty_mistakes_give_exactly_the_expected_diagnostics() {
    let dir = fixture("mistakes");
    let ds = validate_all(&dir.join("descope.yaml"), &vars(&[("CI_KEY", CI_KEY)])).unwrap_err();
    let mut want: Vec<(String, String, String)> = FORTY
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    want.sort();
    let mut got = triples(&ds, &dir);
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn forty_mistakes_via_the_binary_exit_1_and_print_every_one_without_secrets() {
    let dir = fixture("mistakes");
    let out = bin(&dir)
        .env("CI_KEY", CI_KEY)
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for (loc, address, kind) in FORTY {
        let head = if address.is_empty() {
            format!("{loc}: error[{kind}] ")
        } else {
            format!("{loc}: error[{kind}] {address}: ")
        };
        assert!(stderr.contains(&head), "missing `{head}` in:\n{stderr}");
    }
    assert!(stderr.trim_end().ends_with("40 errors"), "{stderr}");
    assert!(
        stderr.contains("hint: did you mean `parallelism`?"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(CI_KEY) && !stderr.contains(LAB_LITERAL_KEY),
        "{stderr}"
    );
    // Sorted by file, line, column.
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(": error[")).collect();
    assert_eq!(lines.len(), 40);
    assert!(lines[0].starts_with("descope.yaml:3:10") && lines[39].starts_with("envs/ci.yaml:8:5"));
}

// ---------------------------------------------------------------------------------------------
// The example

#[test]
fn the_example_validates_for_every_environment() {
    let dir = example().parent().unwrap().to_path_buf();
    let out = bin(&dir)
        .envs(example_keys())
        .arg("validate")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for env in EXAMPLE_ENVS {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{env}: valid ("))),
            "{stdout}"
        );
        let one = bin(&dir)
            .envs(example_keys())
            .args(["validate", "--env", env])
            .output()
            .unwrap();
        assert_eq!(
            one.status.code(),
            Some(0),
            "{env}: {}",
            String::from_utf8_lossy(&one.stderr)
        );
    }
    // DESCOPE_ENV selects one environment like --env.
    let one = bin(&dir)
        .envs(example_keys())
        .env("DESCOPE_ENV", "prod")
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&one.stdout).lines().count(), 1);
}

#[test]
fn the_example_without_its_keys_names_each_missing_variable() {
    let dir = example().parent().unwrap().to_path_buf();
    // Validation never needs a key (a pull-request check has none)...
    let out = bin(&dir)
        .args(["validate", "--env", "prod"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...talking to Descope does, and names the one variable it needs.
    let out = bin(&dir).args(["plan", "--env", "prod"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error[missing_variable] environment.prod: secret variable `DESCOPE_PROD_KEY`"
        ),
        "{stderr}"
    );
    // Other environments' keys are not needed for prod.
    assert!(!stderr.contains("DESCOPE_DEV_KEY"), "{stderr}");
}

#[test]
fn the_example_is_rich_enough_to_exercise_the_planner() {
    let l = load_env(
        &example(),
        Some("prod"),
        VarSource::from_pairs(example_keys()),
    )
    .unwrap();
    assert!(l.config.tenants.len() >= 10);
    let depth3 = l
        .config
        .tenants
        .iter()
        .any(|t| t.id == "acme-emea-berlin" && t.parent.as_deref() == Some("acme-emea"));
    assert!(depth3);
    assert!(l.config.roles.iter().any(|r| r.tenant.is_some()));
    assert!(l.config.roles.iter().any(|r| r.tenant.is_none()));
    let flow = l.read_json(&l.config.flows[0].file).unwrap();
    assert!(flow["flow"]["dsl"].is_object() && flow["screens"].as_array().unwrap().len() >= 2);
    let theme = l.read_json(&l.config.theme.as_ref().unwrap().file).unwrap();
    assert!(theme["theme"]["cssTemplate"].is_object());
}

// ---------------------------------------------------------------------------------------------
// Overlays

const BASE: &str = "\
version: 1
environments:
  prod:
    overlay: envs/prod.yaml
  dev: {}
permissions:
  - name: read
roles:
  - name: viewer
    permissions: [read]
  - name: viewer
    tenant: acme
    description: base
tenants:
  - id: acme
    name: Acme
    domains: [acme.com, acme.org]
    custom_attributes:
      plan: gold
      seats: 10
  - id: globex
    name: Globex
";

const PROD: &str = "\
tenants:
  - id: acme
    domains: [acme.io]
    custom_attributes:
      seats: 500
  - id: globex
    remove: true
  - id: initech
    name: Initech
roles:
  - name: viewer
    tenant: acme
    description: prod
";

#[test]
fn overlays_merge_by_key_replace_lists_merge_maps_and_remove() {
    let dir = tree(&[("descope.yaml", BASE), ("envs/prod.yaml", PROD)]);
    let path = dir.root().join("descope.yaml");
    let l = load_env(&path, Some("prod"), vars(&[])).unwrap();
    let ids: Vec<&str> = l.config.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["acme", "initech"]);
    let acme = &l.config.tenants[0];
    assert_eq!(acme.name, "Acme");
    assert_eq!(acme.domains.as_deref(), Some(&["acme.io".to_string()][..]));
    let attrs = acme.custom_attributes.as_ref().unwrap();
    assert_eq!(attrs["plan"], serde_json::json!("gold"));
    assert_eq!(attrs["seats"], serde_json::json!(500));
    // Roles merge by (tenant, name): the project role of the same name is untouched.
    let descs: Vec<_> = l
        .config
        .roles
        .iter()
        .map(|r| (r.tenant.clone(), r.description.clone()))
        .collect();
    assert_eq!(
        descs,
        [(None, None), (Some("acme".into()), Some("prod".into()))]
    );

    // Positions of overlay values point into the overlay file; base values into the base
    // (seen through the diagnostics that report them: the loaded config keeps no positions).
    let bad = tree(&[
        (
            "descope.yaml",
            &BASE.replace("    permissions: [read]", "    permissions: [missing]"),
        ),
        (
            "envs/prod.yaml",
            &PROD.replace("[acme.io]", "[not_a_domain!]"),
        ),
    ]);
    let ds = load_env(&bad.root().join("descope.yaml"), Some("prod"), vars(&[])).unwrap_err();
    let at = |kind: &str| {
        let d =
            ds.0.iter()
                .find(|d| d.kind.as_str() == kind)
                .unwrap_or_else(|| panic!("no {kind} in {ds:?}"));
        (d.location().file.clone(), d.location().line)
    };
    assert_eq!(at("invalid_domain"), (bad.root().join("envs/prod.yaml"), 3));
    assert_eq!(
        at("unknown_permission"),
        (bad.root().join("descope.yaml"), 10)
    );

    // The digest covers the unresolved base bytes followed by the overlay's.
    let mut h = Sha256::new();
    h.update(BASE.as_bytes());
    h.update(PROD.as_bytes());
    assert_eq!(l.source_digest, hex::encode(h.finalize()));

    // Another environment sees the base alone.
    let dev = load_env(&path, Some("dev"), vars(&[])).unwrap();
    assert_eq!(dev.config.tenants.len(), 2);
    assert_eq!(dev.environment, "dev");
    assert_ne!(dev.source_digest, l.source_digest);
}

#[test]
fn overlay_problems_point_into_the_overlay_file() {
    let dir = tree(&[
        ("descope.yaml", BASE),
        (
            "envs/prod.yaml",
            "version: 1\ntenants:\n  - id: acme\n    nmae: x\n  - id: nobody\n    remove: true\n",
        ),
    ]);
    let ds = load_env(&dir.root().join("descope.yaml"), Some("prod"), vars(&[])).unwrap_err();
    assert_eq!(
        triples(&ds, dir.root()),
        [
            (
                "envs/prod.yaml:1:1".into(),
                "".into(),
                "overlay_version".into()
            ),
            (
                "envs/prod.yaml:4:5".into(),
                "tenant.acme".into(),
                "unknown_key".into()
            ),
            (
                "envs/prod.yaml:5:5".into(),
                "tenant.nobody".into(),
                "overlay_remove_unknown".into()
            ),
        ]
    );
}

#[test]
fn environments_must_be_chosen_and_exist() {
    let dir = tree(&[("descope.yaml", BASE), ("envs/prod.yaml", PROD)]);
    let path = dir.root().join("descope.yaml");
    let none = load_env(&path, None, vars(&[])).unwrap_err();
    assert_eq!(none.0[0].kind, DiagnosticKind::UnknownEnvironment);
    assert!(
        none.0[0].hint.as_deref().unwrap().contains("dev, prod")
            || none.0[0].hint.as_deref().unwrap().contains("prod, dev")
    );
    let typo = load_env(&path, Some("prd"), vars(&[])).unwrap_err();
    assert_eq!(typo.0[0].hint.as_deref(), Some("did you mean `prod`?"));
    // Without environments the only one is `default`.
    let plain = tree(&[("descope.yaml", "version: 1\n")]);
    let l = load_env(&plain.root().join("descope.yaml"), None, vars(&[])).unwrap();
    assert_eq!((l.environment.as_str(), l.env.is_none()), ("default", true));
    assert!(load_env(
        &plain.root().join("descope.yaml"),
        Some("default"),
        vars(&[])
    )
    .is_ok());
    assert!(load_env(&plain.root().join("descope.yaml"), Some("prod"), vars(&[])).is_err());
}

// ---------------------------------------------------------------------------------------------
// Variables and secrets

const VARS: &str = "\
version: 1
environments:
  dev:
    vars:
      SSO: \"true\"
      PAR: \"3\"
settings:
  parallelism: ${PAR}
tenants:
  - id: acme
    name: \"${PAR}\"
    enforce_sso: ${SSO}
    domains: [\"acme.${SUFFIX:-example.com}\"]
    custom_attributes:
      region: ${REGION}
      token: ${secret:TOKEN}
";

#[test]
fn variables_are_typed_defaulted_and_looked_up_in_vars_then_environment() {
    let dir = tree(&[("descope.yaml", VARS)]);
    let path = dir.root().join("descope.yaml");
    let l = load_env(
        &path,
        Some("dev"),
        vars(&[("REGION", "eu"), ("TOKEN", "tok-123"), ("PAR", "9")]),
    )
    .unwrap();
    // Exactly `${VAR}` takes the YAML type of its text; quoted stays text; vars beat the environment.
    assert_eq!(l.config.settings.parallelism, Some(3));
    assert_eq!(l.config.tenants[0].name, "3");
    assert_eq!(l.config.tenants[0].enforce_sso, Some(true));
    assert_eq!(
        l.config.tenants[0].domains.as_deref(),
        Some(&["acme.example.com".to_string()][..])
    );
    let attrs = l.config.tenants[0].custom_attributes.as_ref().unwrap();
    assert_eq!(attrs["region"], serde_json::json!("eu"));
    assert_eq!(attrs["token"], serde_json::json!("tok-123"));
    assert_eq!(
        l.secrets,
        BTreeMap::from([(
            "/tenants/0/custom_attributes/token".to_string(),
            "TOKEN".to_string()
        )])
    );
    assert!(l.is_secret("/tenants/0/custom_attributes"));
    assert!(!format!("{l:?}").contains("tok-123"));
}

#[test]
fn a_missing_variable_is_reported_where_it_is_used() {
    let dir = tree(&[("descope.yaml", VARS)]);
    let ds = load_env(
        &dir.root().join("descope.yaml"),
        Some("dev"),
        vars(&[("TOKEN", "tok-value-1")]),
    )
    .unwrap_err();
    assert_eq!(
        triples(&ds, dir.root()),
        [(
            "descope.yaml:15:15".into(),
            "tenant.acme".into(),
            "missing_variable".into()
        )]
    );
    assert!(ds.0[0].message.contains("`REGION`"));
}

#[test]
fn secret_values_never_appear_in_diagnostics() {
    let secret = "S3cr3t_Value that-must-not-leak";
    let dir = tree(&[(
        "descope.yaml",
        "version: 1\nsettings:\n  rate_limit: \"${secret:TOKEN}\"\ntenants:\n  - id: \"${secret:TOKEN}\"\n    name: x\n  - id: ok-tenant\n    name: y\n    enforce_sso: ${secret:TOKEN}\n",
    )]);
    let ds = load_env(
        &dir.root().join("descope.yaml"),
        None,
        vars(&[("TOKEN", secret)]),
    )
    .unwrap_err();
    let kinds: Vec<_> = ds.iter().map(|d| d.kind).collect();
    assert!(kinds.contains(&DiagnosticKind::InvalidType));
    assert!(kinds.contains(&DiagnosticKind::InvalidRateLimit));
    assert!(kinds.contains(&DiagnosticKind::InvalidTenantId));
    let shown = format!("{ds}\n{ds:?}");
    assert!(!shown.contains(secret), "{shown}");
}

#[test]
fn a_literal_management_key_is_refused_without_echoing_it() {
    let dir = tree(&[(
        "descope.yaml",
        "version: 1\nenvironments:\n  prod:\n    management_key: K2abcdefLiteral\n",
    )]);
    let ds = load_env(&dir.root().join("descope.yaml"), Some("prod"), vars(&[])).unwrap_err();
    assert_eq!(
        triples(&ds, dir.root()),
        [(
            "descope.yaml:4:21".into(),
            "environment.prod".into(),
            "literal_secret".into()
        )]
    );
    assert!(!format!("{ds}").contains("K2abcdefLiteral"));
}

// ---------------------------------------------------------------------------------------------
// Credentials

fn creds_config(env_body: &str) -> (TestEnv, PathBuf) {
    let text = format!("version: 1\nenvironments:\n  prod:\n{env_body}");
    let dir = tree(&[("descope.yaml", &text)]);
    let p = dir.root().join("descope.yaml");
    (dir, p)
}

#[test]
fn credentials_come_from_the_environment_entry_or_the_sdk_variables() {
    let (_d, p) = creds_config(
        "    project_id: P2aAc4T2V93bddihGEx2Ryhc8e5Z\n    management_key: ${secret:PROD_KEY}\n",
    );
    let v = vars(&[("PROD_KEY", "the-prod-key")]);
    let l = load_env(&p, Some("prod"), v.clone()).unwrap();
    let c = resolve_credentials(&l, &v).unwrap();
    assert_eq!(c.project_id, "P2aAc4T2V93bddihGEx2Ryhc8e5Z");
    assert_eq!(c.management_key.expose(), "the-prod-key");
    assert_eq!(c.base_url, "https://api.descope.com");
    assert_eq!(
        l.secrets
            .get("/environments/prod/management_key")
            .map(String::as_str),
        Some("PROD_KEY")
    );
    let debug = format!("{l:?} {:?} {:?} {c:?}", l.env, l.config);
    assert!(!debug.contains("the-prod-key"), "{debug}");

    // Same project in both places is fine; a different one is an error naming both.
    let same = vars(&[
        ("PROD_KEY", "k"),
        ("DESCOPE_PROJECT_ID", "P2aAc4T2V93bddihGEx2Ryhc8e5Z"),
    ]);
    assert!(resolve_credentials(&l, &same).is_ok());
    let other = vars(&[("PROD_KEY", "k"), ("DESCOPE_PROJECT_ID", "P2zzzOTHER")]);
    let e = resolve_credentials(&l, &other).unwrap_err();
    assert!(matches!(e, ConfigError::ConflictingProject { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("P2aAc4T2V93bddihGEx2Ryhc8e5Z")
            && msg.contains("P2zzzOTHER")
            && msg.contains("DESCOPE_PROJECT_ID")
    );
    assert!(!msg.contains("the-prod-key"));
}

#[test]
fn credentials_fall_back_and_say_which_variable_to_set() {
    let (_d, p) = creds_config("    base_uri: http://127.0.0.1:9/\n");
    let l = load_env(&p, Some("prod"), vars(&[])).unwrap();
    let e = resolve_credentials(&l, &vars(&[])).unwrap_err();
    assert!(e.to_string().contains("DESCOPE_PROJECT_ID"), "{e}");
    let e = resolve_credentials(&l, &vars(&[("DESCOPE_PROJECT_ID", "P2x")])).unwrap_err();
    assert!(e.to_string().contains("DESCOPE_MANAGEMENT_KEY"), "{e}");
    let env = vars(&[
        ("DESCOPE_PROJECT_ID", "P2x"),
        ("DESCOPE_MANAGEMENT_KEY", "mk-secret"),
    ]);
    let c = resolve_credentials(&l, &env).unwrap();
    assert_eq!(
        (c.project_id.as_str(), c.base_url.as_str()),
        ("P2x", "http://127.0.0.1:9")
    );
    assert!(!format!("{c:?}").contains("mk-secret"));
    let conflict = vars(&[
        ("DESCOPE_PROJECT_ID", "P2x"),
        ("DESCOPE_MANAGEMENT_KEY", "mk-secret"),
        ("DESCOPE_BASE_URI", "https://api.descope.com"),
    ]);
    let e = resolve_credentials(&l, &conflict).unwrap_err();
    assert!(matches!(e, ConfigError::ConflictingBaseUri { .. }));
    assert!(
        e.to_string().contains("http://127.0.0.1:9/")
            && e.to_string().contains("https://api.descope.com")
    );
    // Regional rule when no base URL is configured anywhere.
    let (_d2, p2) = creds_config("    project_id: Puse1ABCDEFGHIJKLMNOPQRSTUVWXYZ01\n");
    let l2 = load_env(&p2, Some("prod"), vars(&[])).unwrap();
    let c2 = resolve_credentials(&l2, &vars(&[("DESCOPE_MANAGEMENT_KEY", "k")])).unwrap();
    assert_eq!(c2.base_url, "https://api.use1.descope.com");
}

// ---------------------------------------------------------------------------------------------
// Other rules

#[test]
fn malformed_yaml_is_reported_with_its_position() {
    let dir = tree(&[(
        "descope.yaml",
        "version: 1\ntenants:\n  - id: [a, b\n    name: x\n",
    )]);
    let ds = load_env(&dir.root().join("descope.yaml"), None, vars(&[])).unwrap_err();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds.0[0].kind, DiagnosticKind::YamlSyntax);
    assert!(ds.0[0].line >= 3, "{}", ds);
    let missing = load_env(&dir.root().join("nope.yaml"), None, vars(&[])).unwrap_err();
    assert_eq!(missing.0[0].kind, DiagnosticKind::Io);
}

#[test]
fn an_invalid_tenant_id_pattern_is_itself_the_diagnostic() {
    let dir = tree(&[(
        "descope.yaml",
        "version: 1\nsettings:\n  tenant_id_pattern: \"^[a-z\"\ntenants:\n  - id: ANY_thing\n    name: x\n",
    )]);
    let ds = load_env(&dir.root().join("descope.yaml"), None, vars(&[])).unwrap_err();
    assert_eq!(
        triples(&ds, dir.root()),
        [(
            "descope.yaml:3:22".into(),
            "settings".into(),
            "invalid_pattern".into()
        )]
    );
}

#[test]
fn default_roles_resolve_tenant_role_then_project_role_then_builtin() {
    let dir = tree(&[(
        "descope.yaml",
        "version: 1\nroles:\n  - name: local\n    tenant: a-t\n  - name: global\n  - name: other\n    tenant: b-t\ntenants:\n  - id: a-t\n    name: A\n    default_roles: [local, global, Tenant Admin, other]\n  - id: b-t\n    name: B\n",
    )]);
    let ds = load_env(&dir.root().join("descope.yaml"), None, vars(&[])).unwrap_err();
    assert_eq!(
        triples(&ds, dir.root()),
        [(
            "descope.yaml:11:50".into(),
            "tenant.a-t".into(),
            "unknown_default_role".into()
        )]
    );
}

#[test]
fn read_json_reports_positions_in_the_document() {
    let dir = tree(&[
        ("descope.yaml", "version: 1\n"),
        ("f.json", "{\n  \"a\": ,\n}"),
    ]);
    let l = load_env(&dir.root().join("descope.yaml"), None, vars(&[])).unwrap();
    let d = l.read_json("f.json").unwrap_err();
    assert_eq!((d.kind, d.line), (DiagnosticKind::InvalidJson, 2));
    assert_eq!(
        l.read_json("missing.json").unwrap_err().kind,
        DiagnosticKind::MissingFile
    );
}

// ---------------------------------------------------------------------------------------------
// schema and completions

#[test]
fn schema_is_json_with_the_config_properties() {
    let out = bin(Path::new(env!("CARGO_MANIFEST_DIR")))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["tenants"].is_object());
    assert!(schema["properties"]["environments"].is_object());
    assert_eq!(schema, config::json_schema());
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bin(Path::new(env!("CARGO_MANIFEST_DIR")))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("validate"),
            "{shell}"
        );
    }
    let out = bin(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Robustness: whatever the bytes, `load` answers instead of panicking.

fn load_bytes(bytes: &[u8]) -> bool {
    let dir = TestEnv::new();
    let p = dir.config_path();
    std::fs::write(&p, bytes).unwrap();
    let v = VarSource::from_pairs(example_keys());
    let _ = validate_all(&p, &v);
    load_env(&p, Some("prod"), v).is_ok()
}

fn example_bytes() -> Vec<u8> {
    std::fs::read(example()).unwrap()
}

proptest! {
    // PROPTEST_CASES=5000 for a longer run.
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96), ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_bytes(&bytes);
    }

    #[test]
    fn truncations_never_panic(cut in 0usize..10_000) {
        let b = example_bytes();
        load_bytes(&b[..cut.min(b.len())]);
    }

    #[test]
    fn mutations_never_panic(edits in proptest::collection::vec((0usize..10_000, any::<u8>(), 0u8..3), 1..8)) {
        let mut b = example_bytes();
        for (at, byte, op) in edits {
            let i = at % (b.len() + 1);
            match op {
                0 => b.insert(i, byte),
                1 if i < b.len() => { b.remove(i); }
                _ if i < b.len() => b[i] = byte,
                _ => {}
            }
        }
        load_bytes(&b);
    }

    #[test]
    fn structural_characters_never_panic(s in "[-:\\[\\]{}&*!|>'\"%@`#,? \n a-z0-9$]{0,300}") {
        load_bytes(s.as_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// settings.state

#[test]
fn state_settings_mistakes_are_diagnosed_with_their_positions() {
    let t = tree(&[(
        "descope.yaml",
        "version: 1\nsettings:\n  state:\n    backend: s3\n    prefix: descope\n    endpoint: ftp://x\n    account: acme\n    lock_lease: forever\nenvironments:\n  dev: {}\n",
    )]);
    let ds = validate_all(&t.path("descope.yaml"), &vars(&[])).unwrap_err();
    let mut got = triples(&ds, t.root());
    got.sort();
    let mut want: Vec<(String, String, String)> = [
        "descope.yaml:4:14", // backend: s3 without a bucket
        "descope.yaml:5:13", // prefix without a trailing `/`
        "descope.yaml:6:15", // not an http(s) URL
        "descope.yaml:7:14", // account is for azure
        "descope.yaml:8:17", // not a duration
    ]
    .iter()
    .map(|l| {
        (
            l.to_string(),
            "settings".to_string(),
            "invalid_state_settings".to_string(),
        )
    })
    .collect();
    want.sort();
    assert_eq!(got, want);

    // An unknown backend or key is a type error at its position, like any other setting.
    let t = tree(&[(
        "descope.yaml",
        "version: 1\nsettings:\n  state: {backend: dropbox, bucket: b}\nenvironments:\n  dev: {}\n",
    )]);
    let ds = validate_all(&t.path("descope.yaml"), &vars(&[])).unwrap_err();
    let got = triples(&ds, t.root());
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0.starts_with("descope.yaml:3:"), "{got:?}");

    // A valid one loads, and the local backend stays the default.
    let t = tree(&[(
        "descope.yaml",
        "version: 1\nsettings:\n  state: {backend: s3, bucket: acme-state, prefix: descope/, region: eu-west-1}\nenvironments:\n  dev: {}\n",
    )]);
    validate_all(&t.path("descope.yaml"), &vars(&[])).unwrap();
}
