//! `sso_templates` (docs/config.md, SSO templates): expansion at load time, its diagnostics, and
//! the example in `examples/sso-templates`, through the library `config` API and the binary.
//!
//! The `sso` key of a tenant entry belongs to the tenant SSO kind. Until that kind is in the
//! registry, a tenant's `sso` is an unknown key: the tests below then expect exactly those
//! `unknown_key` diagnostics and nothing else (so every template was expanded cleanly), and
//! once the kind's section is in the schema they expect a valid load with the expanded blocks.
//! `sso_section_registered` is the switch; nothing needs editing when the kind lands.

use std::path::{Path, PathBuf};

use descope_mgmt::config::{
    self, load, ConfigSection, DiagnosticKind, Diagnostics, LoadOptions, LoadedConfig, VarSource,
};
use serde_json::{json, Value};

use crate::util::{descope_mgmt, TestEnv};

const ENVS: [&str; 5] = ["test", "devtest", "dev", "staging", "prod"];

/// Where the tenant SSO kind's section sits; sections match on `within` and `key` only.
const SSO: ConfigSection = ConfigSection {
    within: Some("tenants"),
    key: "sso",
    schema: || json!({}),
};

/// Is the tenant SSO kind's section part of the configuration schema (the kind registered)?
fn sso_section_registered() -> bool {
    let schema = config::json_schema();
    let tenant = schema
        .pointer("/properties/tenants/items/$ref")
        .and_then(Value::as_str)
        .map(|r| r.trim_start_matches('#').to_string())
        .unwrap_or_default();
    schema
        .pointer(&format!("{tenant}/properties/sso"))
        .is_some()
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sso-templates")
}

fn example_keys() -> Vec<(String, String)> {
    ENVS.iter()
        .map(|e| {
            (
                format!("DESCOPE_{}_KEY", e.to_uppercase()),
                format!("key-for-{e}-0123456789"),
            )
        })
        .collect()
}

fn load_env(path: &Path, env: &str, vars: VarSource) -> Result<LoadedConfig, Diagnostics> {
    load(&LoadOptions {
        path: path.to_path_buf(),
        env: Some(env.to_string()),
        vars,
    })
}

/// Without the SSO kind: the only problems are `unknown key `sso`` on the tenants that have it.
fn only_unknown_sso(ds: &Diagnostics, tenants: usize) {
    let other: Vec<String> = ds
        .iter()
        .filter(|d| !(d.kind == DiagnosticKind::UnknownKey && d.message == "unknown key `sso`"))
        .map(ToString::to_string)
        .collect();
    assert!(other.is_empty(), "{}", other.join("\n"));
    assert_eq!(ds.len(), tenants, "{ds}");
}

fn sso_blocks(l: &LoadedConfig) -> Vec<(Option<String>, Value)> {
    l.config
        .sections
        .of(&SSO)
        .map(|v| (v.owner.clone(), v.value.clone()))
        .collect()
}

#[test]
fn the_sso_template_example_validates_in_every_environment() {
    let dir = example_dir();
    for env in ENVS {
        let out = descope_mgmt()
            .current_dir(&dir)
            .envs(example_keys())
            .args(["validate", "--env", env])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A template the example declares and does not use would warn.
        assert!(!stderr.contains("warning["), "{env}: {stderr}");
        if sso_section_registered() {
            assert_eq!(out.status.code(), Some(0), "{env}: {stderr}");
            assert!(
                String::from_utf8_lossy(&out.stdout).starts_with(&format!("{env}: valid (")),
                "{env}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "{env}: {stderr}");
            let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error[")).collect();
            assert_eq!(errors.len(), 2, "{env}: {stderr}");
            assert!(
                errors
                    .iter()
                    .all(|l| l.contains("error[unknown_key]") && l.contains("unknown key `sso`")),
                "{env}: {stderr}"
            );
        }
    }
}

#[test]
fn loading_the_example_yields_each_tenants_expanded_sso_block() {
    let path = example_dir().join("descope.yaml");
    let vars = VarSource::from_pairs(example_keys());
    for env in ENVS {
        let loaded = load_env(&path, env, vars.clone());
        if !sso_section_registered() {
            only_unknown_sso(&loaded.unwrap_err(), 2);
            continue;
        }
        let l = loaded.unwrap_or_else(|ds| panic!("{env}: {ds}"));
        let app = format!("0oa1{env}");
        let (org, path_word, host) = match env {
            "prod" => ("example.okta.com", "home", "app.example.com".to_string()),
            "staging" => ("example.okta.com", "app", format!("app.{env}.example.net")),
            _ => (
                "example-test.okta.com",
                "app",
                format!("app.{env}.example.net"),
            ),
        };
        let saml = |app: &str, group: &str| {
            json!({
                "idp_url": format!("https://{org}/{path_word}/{app}/sso/saml"),
                "entity_id": format!("http://www.okta.com/{app}"),
                "cert_file": "certs/okta.pem",
                "attribute_mapping": {"email": "email", "name": "displayName", "group": "groups"},
                "role_mappings": [{"groups": [group], "role": "customer-admin"}],
                "default_sso_roles": ["customer-viewer"],
                "sign_requests": true,
            })
        };
        let acme_domains = if env == "prod" {
            json!(["acme.com"])
        } else {
            json!(["acme-corp.example.com"])
        };
        assert_eq!(
            sso_blocks(&l),
            vec![
                (
                    Some("acme-corp".to_string()),
                    json!({"default": {
                        "display_name": "Acme Okta (SAML)",
                        "domains": acme_domains,
                        "redirect_url": format!("https://{host}/sso/acme-corp/done"),
                        "saml": saml(&app, "admins"),
                    }})
                ),
                (
                    Some("globex".to_string()),
                    json!({"default": {
                        "display_name": "Globex Okta",
                        "domains": ["globex.example.com"],
                        "redirect_url": format!("https://{host}/sso/globex/done"),
                        "saml": saml("0oa2globex", "globex-it"),
                    }})
                ),
            ],
            "{env}"
        );
    }
}

const TEMPLATED: &str = r#"version: 1
settings: {rate_limit: 1000/1}
environments:
  dev:
    project_id: P2devdevdevdevdevdevdevdevdev
    management_key: ${secret:DEV_KEY}
  prod:
    project_id: P2prodprodprodprodprodprodpro
    management_key: ${secret:PROD_KEY}
tenants:
  - id: acme
    name: Acme
    sso:
      default:
        template: google-oidc
        vars: {client: acme-client}
  - id: globex
    name: Globex
    sso:
      default:
        template: google-oidc
        vars: {client: globex-client}
sso_templates:
  google-oidc:
    display_name: ${tenant.name} Google
    oidc:
      name: Google
      client_id: ${tenant.vars.client}
      client_secret: ${secret:GOOGLE_SECRET}
      auth_url: https://accounts.google.com/o/oauth2/v2/auth
"#;

#[test]
fn a_secret_in_a_template_is_a_secret_in_every_tenant_that_uses_it() {
    let t = TestEnv::new();
    let path = t.write_config(TEMPLATED);
    let secret = "s3cr3t-google-value-7f1d";
    let vars = VarSource::from_pairs([
        ("DEV_KEY", "key-for-dev-0123456789"),
        ("GOOGLE_SECRET", secret),
    ]);
    match load_env(&path, "dev", vars) {
        Ok(l) => {
            assert!(sso_section_registered());
            assert_eq!(
                l.secrets
                    .iter()
                    .filter(|(p, _)| p.starts_with("/tenants/"))
                    .collect::<Vec<_>>(),
                [
                    (
                        &"/tenants/0/sso/default/oidc/client_secret".to_string(),
                        &"GOOGLE_SECRET".to_string()
                    ),
                    (
                        &"/tenants/1/sso/default/oidc/client_secret".to_string(),
                        &"GOOGLE_SECRET".to_string()
                    ),
                ]
            );
            assert!(!format!("{l:?}").contains(secret));
            let blocks = sso_blocks(&l);
            assert_eq!(blocks[1].1["default"]["oidc"]["client_id"], "globex-client");
        }
        Err(ds) => {
            only_unknown_sso(&ds, 2);
            assert!(!ds.to_string().contains(secret));
        }
    }
}

#[test]
fn template_mistakes_are_reported_at_file_line_column() {
    let t = TestEnv::new();
    let broken = TEMPLATED
        .replace(
            "template: google-oidc\n        vars: {client: globex-client}",
            "template: google-oidcc\n        vars: {client: globex-client}",
        )
        .replace("vars: {client: acme-client}", "vars: {clint: acme-client}")
        + "  nested:\n    template: google-oidc\n";
    t.write_config(&broken);
    let out = t.cmd(&["validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = |line: usize, column: usize, kind: &str| {
        format!("descope.yaml:{line}:{column}: error[{kind}]")
    };
    // The unknown name at the tenant's `template:` value, with a suggestion.
    assert!(
        stderr.contains(&format!(
            "{} tenant.globex: unknown SSO template `google-oidcc`\n  hint: did you mean `google-oidc`?",
            at(21, 19, "unknown_template")
        )),
        "{stderr}"
    );
    // A missing variable at the template line that uses it, naming the tenant.
    assert!(
        stderr.contains(&format!(
            "{} tenant.acme: `${{tenant.vars.client}}` is not set for tenant `acme` (sso `default`, template `google-oidc`)\n  hint: did you mean `clint`?",
            at(28, 18, "unknown_template_variable")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{} template `nested` names another template",
            at(32, 5, "nested_template")
        )),
        "{stderr}"
    );
    // One problem, one diagnostic: what expansion reported does not fail again later.
    assert!(!stderr.contains("invalid_variable"), "{stderr}");
}

#[test]
fn an_unused_template_warns_once_and_the_configuration_stays_valid() {
    let t = TestEnv::new();
    let plain = TEMPLATED
        .split("tenants:")
        .next()
        .unwrap()
        .to_string()
        + "tenants:\n  - id: acme\n    name: Acme\nsso_templates:\n  spare:\n    display_name: Spare\n";
    t.write_config(&plain);
    let out = t.cmd(&["validate"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("warning[unused_template]").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "descope.yaml:14:3: warning[unused_template] template `spare` is used by no tenant"
        ),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dev: valid ("));
    // The schema documents the key, so editors complete it.
    let schema = t.cmd(&["schema"]).output().unwrap();
    let schema: Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(
        schema
            .pointer("/properties/sso_templates/additionalProperties")
            .is_some(),
        "{schema}"
    );
}

#[test]
fn validate_print_shows_the_configuration_commands_see_with_secrets_masked() {
    let t = TestEnv::new();
    let secret = "s3cr3t-attribute-value-19ab";
    let plain = TEMPLATED.split("tenants:").next().unwrap().to_string()
        + "tenants:\n  - id: acme\n    name: ${NAME}\n    custom_attributes: {token: \"Bearer ${secret:TOKEN}\"}\n";
    t.write_config(&plain);
    let out = t
        .cmd(&["validate", "--env", "dev", "--print"])
        .env("NAME", "Acme Inc")
        .env("TOKEN", secret)
        .env("DEV_KEY", "key-for-dev-0123456789")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with("--- # environment dev\n"), "{stdout}");
    let printed: Value = serde_yaml_ng::from_str(&stdout).unwrap();
    assert_eq!(printed["tenants"][0]["name"], "Acme Inc");
    assert_eq!(
        printed["tenants"][0]["custom_attributes"]["token"],
        "(secret TOKEN)"
    );
    assert_eq!(
        printed["environments"]["dev"]["management_key"],
        "(secret DEV_KEY)"
    );
    assert!(!stdout.contains(secret) && !stderr.contains(secret));
    assert!(!stdout.contains("key-for-dev-0123456789"));
    // The summary moves to stderr, so stdout is YAML alone.
    assert!(stderr.contains("dev: valid ("), "{stderr}");

    if sso_section_registered() {
        t.write_config(TEMPLATED);
        let out = t
            .cmd(&["validate", "--env", "dev", "--print"])
            .env("GOOGLE_SECRET", "s3cr3t-google-value-7f1d")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = serde_yaml_ng::from_str(&stdout).unwrap();
        assert_eq!(
            printed["tenants"][1]["sso"]["default"]["oidc"],
            json!({
                "name": "Google",
                "client_id": "globex-client",
                "client_secret": "(secret GOOGLE_SECRET)",
                "auth_url": "https://accounts.google.com/o/oauth2/v2/auth",
            })
        );
        assert!(!stdout.contains("s3cr3t-google-value-7f1d"));
        assert!(!stdout.contains("sso_templates"));
    }
}
