//! Tenant SSO configurations (`tenant_sso.<tenant>/<sso-id>`, an `sso:` map in a tenant entry)
//! end to end through the executable: SAML, SAML by metadata and OIDC, several per tenant; the
//! write-only OIDC client secret; Descope's update traps; drift; export to a blank project;
//! backup restore; validation.

use std::path::Path;

use descope_emulator::EmulatorOptions;
use serde_json::{json, Value};

use crate::util::TestEnv;

const SECRET: &str = "oidc-client-secret-value-7f3a";
const SECRET_2: &str = "rotated-oidc-secret-value-91bc";

fn config(cert_file: &str) -> String {
    format!(
        "version: 1
settings: {{rate_limit: 1000/1}}
roles:
  - name: Admin
  - name: Viewer
tenants:
  - id: acme
    name: Acme
    sso:
      default:
        domains: [acme.com]
        redirect_url: https://app.example.com/sso/done
        saml:
          idp_url: https://acme.okta.com/app/x/sso/saml
          entity_id: http://www.okta.com/x
          cert_file: {cert_file}
          attribute_mapping: {{email: email, name: displayName, group: groups, custom_attributes: {{dept: department}}}}
          role_mappings: [{{groups: [admins], role: Admin}}]
          default_sso_roles: [Viewer]
          sign_requests: false
      okta-eu:
        display_name: Acme EU
        domains: [acme.eu]
        saml_metadata:
          metadata_url: https://acme-eu.okta.com/app/y/sso/saml/metadata
          role_mappings: [{{groups: [eu-admins], role: Admin}}]
      google:
        display_name: Acme Google
        oidc:
          name: Google
          client_id: abc.apps.googleusercontent.com
          client_secret: \"${{secret:ACME_OIDC_SECRET}}\"
          auth_url: https://accounts.google.com/o/oauth2/v2/auth
          token_url: https://oauth2.googleapis.com/token
          user_data_url: https://openidconnect.googleapis.com/v1/userinfo
          jwks_url: https://www.googleapis.com/oauth2/v3/certs
          issuer: https://accounts.google.com
          scope: [openid, email]
          attribute_mapping: {{login_id: sub, email: email}}
          use_pkce: true
"
    )
}

fn run_with(w: &TestEnv, args: &[&str], secret: &str) -> (i32, String, String) {
    let out = w
        .cmd(args)
        .env("ACME_OIDC_SECRET", secret)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(w: &TestEnv, args: &[&str]) -> (i32, String, String) {
    run_with(w, args, SECRET)
}

fn sso(w: &TestEnv, tenant: &str, id: &str) -> descope_emulator::SsoConfig {
    w.emu()
        .data()
        .sso_config(tenant, id)
        .cloned()
        .unwrap_or_else(|| panic!("no SSO configuration {tenant}/{id}"))
}

fn with_cert(w: &TestEnv) {
    w.write(
        "certs/acme.pem",
        include_str!("../fixtures/certs/valid.pem"),
    );
    w.write_config(&config("certs/acme.pem"));
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every file under `dir`, as text, for scanning.
fn all_text(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_text(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

fn assert_no_secret(w: &TestEnv, outputs: &str) {
    for s in [SECRET, SECRET_2] {
        assert!(!outputs.contains(s), "a secret was printed");
        let mut files = String::new();
        all_text(&w.path("state"), &mut files);
        all_text(&w.path("plans"), &mut files);
        all_text(&w.path("exp"), &mut files);
        assert!(!files.contains(s), "a secret reached a file");
    }
}

#[test]
fn saml_metadata_and_oidc_are_planned_applied_and_kept_in_sync() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    with_cert(&w);
    let mut outputs = String::new();
    let mut step = |w: &TestEnv, args: &[&str], secret: &str, want: i32| {
        let (code, out, err) = run_with(w, args, secret);
        outputs.push_str(&out);
        outputs.push_str(&err);
        assert_eq!(code, want, "{args:?}\n{out}\n{err}");
        format!("{out}\n{err}")
    };

    let out = step(&w, &["plan", "-out", "plans/a.plan"], SECRET, 0);
    for a in [
        "tenant_sso.acme/default",
        "tenant_sso.acme/okta-eu",
        "tenant_sso.acme/google",
    ] {
        assert!(out.contains(&format!("+ {a}")), "{out}");
    }
    step(&w, &["apply", "plans/a.plan"], SECRET, 0);

    // SAML: the wire shapes and traps (docs/descope-api.md §11).
    let d = sso(&w, "acme", "");
    assert_eq!(d.auth_type, "saml");
    assert_eq!(d.saml["idpSSOUrl"], "https://acme.okta.com/app/x/sso/saml");
    assert!(d.saml["idpCertificate"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(d.saml["groupsMapping"][0]["role"]["name"], "Admin");
    assert_eq!(d.saml["defaultSSORoles"], json!(["Viewer"]));
    assert_eq!(d.saml["attributeMapping"]["name"], "displayName");
    assert!(d.disable_sign_request);
    assert_eq!(d.domains, ["acme.com"]);
    let tenant = w.emu().data().tenant("acme").unwrap().clone();
    assert_eq!(
        (tenant.auth_type.as_str(), tenant.domains.clone()),
        ("saml", vec!["acme.com".to_string()])
    );
    let eu = sso(&w, "acme", "okta-eu");
    assert_eq!(eu.display_name, "Acme EU");
    assert_eq!(
        eu.saml["idpMetadataUrl"],
        "https://acme-eu.okta.com/app/y/sso/saml/metadata"
    );
    // OIDC: the secret went to Descope, and only there.
    let g = sso(&w, "acme", "google");
    assert_eq!(g.client_secret, SECRET);
    assert!(g.use_pkce);
    assert_eq!(g.oidc["clientId"], "abc.apps.googleusercontent.com");
    let state = std::fs::read_to_string(w.path("state/default/state.json")).unwrap();
    assert!(state.contains("\"/oidc/client_secret\""), "{state}");
    assert!(state.contains("ACME_OIDC_SECRET"), "{state}");

    // The same config and secret: nothing to do.
    let out = step(&w, &["plan", "--detailed-exitcode"], SECRET, 0);
    assert!(out.contains("No changes"), "{out}");

    // A new secret value is one update of that configuration, sending the new value.
    let out = step(&w, &["plan", "-out", "plans/b.plan"], SECRET_2, 0);
    assert!(out.contains("~ tenant_sso.acme/google"), "{out}");
    assert!(!out.contains("tenant_sso.acme/default"), "{out}");
    step(&w, &["apply", "plans/b.plan"], SECRET_2, 0);
    assert_eq!(sso(&w, "acme", "google").client_secret, SECRET_2);
    step(&w, &["plan", "--detailed-exitcode"], SECRET_2, 0);

    // The GO trap: another change to the SAML configuration keeps request signing off, and
    // the default SSO roles trap: emptying them in the config clears them.
    let cfg = config("certs/acme.pem")
        .replace("domains: [acme.com]", "domains: [acme.com, acme.org]")
        .replace("          default_sso_roles: [Viewer]\n", "");
    w.write_config(&cfg);
    let out = step(&w, &["plan", "-out", "plans/c.plan"], SECRET_2, 0);
    assert!(out.contains("~ tenant_sso.acme/default"), "{out}");
    step(&w, &["apply", "plans/c.plan"], SECRET_2, 0);
    let d = sso(&w, "acme", "");
    assert!(
        d.disable_sign_request,
        "an update turned request signing back on"
    );
    assert_eq!(d.saml["defaultSSORoles"], json!([]));
    assert_eq!(d.domains, ["acme.com", "acme.org"]);
    step(&w, &["plan", "--detailed-exitcode"], SECRET_2, 0);

    // A console change is drift, named by its address; drift says what it cannot see.
    w.emu().mutate(|d| {
        let c = d
            .sso
            .iter_mut()
            .find(|c| c.tenant_id == "acme" && c.sso_id == "okta-eu")
            .unwrap();
        c.saml.insert(
            "idpMetadataUrl".into(),
            json!("https://evil.example.com/metadata"),
        );
    });
    let out = step(&w, &["drift"], SECRET_2, 2);
    assert!(out.contains("tenant_sso.acme/okta-eu"), "{out}");
    assert!(
        out.contains("/oidc/client_secret"),
        "drift must say it cannot see the client secret: {out}"
    );
    let out = step(&w, &["plan", "-out", "plans/d.plan"], SECRET_2, 0);
    assert!(out.contains("~ tenant_sso.acme/okta-eu"), "{out}");
    step(&w, &["apply", "plans/d.plan"], SECRET_2, 0);
    assert_eq!(
        sso(&w, "acme", "okta-eu").saml["idpMetadataUrl"],
        "https://acme-eu.okta.com/app/y/sso/saml/metadata"
    );

    // Removing a configuration from the config deletes it; the backup brings it back.
    w.write_config(&cfg.replace(
        "      okta-eu:\n        display_name: Acme EU\n        domains: [acme.eu]\n        saml_metadata:\n          metadata_url: https://acme-eu.okta.com/app/y/sso/saml/metadata\n          role_mappings: [{groups: [eu-admins], role: Admin}]\n",
        "",
    ));
    let out = step(&w, &["plan", "-out", "plans/e.plan"], SECRET_2, 0);
    assert!(out.contains("- tenant_sso.acme/okta-eu"), "{out}");
    step(&w, &["apply", "plans/e.plan"], SECRET_2, 0);
    assert!(w.emu().data().sso_config("acme", "okta-eu").is_none());
    // Several backups may share a second: the one taken before the delete holds the
    // configuration as it was last applied.
    let backup = std::fs::read_dir(w.path("state/default/backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            text.contains("tenant_sso.acme/okta-eu") && !text.contains("evil.example.com")
        })
        .expect("a backup taken before the delete")
        .to_string_lossy()
        .into_owned();
    let out = step(
        &w,
        &["backup", "restore", &backup, "-out", "plans/r.plan"],
        SECRET_2,
        0,
    );
    assert!(out.contains("+ tenant_sso.acme/okta-eu"), "{out}");
    step(&w, &["apply", "plans/r.plan"], SECRET_2, 0);
    let eu = sso(&w, "acme", "okta-eu");
    assert_eq!(
        eu.saml["idpMetadataUrl"],
        "https://acme-eu.okta.com/app/y/sso/saml/metadata"
    );
    assert_eq!(eu.saml["groupsMapping"][0]["groups"], json!(["eu-admins"]));
    // Back in the config: a backup never holds request signing, so the plan sets it once.
    w.write_config(&cfg);
    let out = step(&w, &["plan", "-out", "plans/f.plan"], SECRET_2, 0);
    assert!(out.contains("~ tenant_sso.acme/okta-eu"), "{out}");
    step(&w, &["apply", "plans/f.plan"], SECRET_2, 0);
    step(&w, &["plan", "--detailed-exitcode"], SECRET_2, 0);

    assert_no_secret(&w, &outputs);
}

#[test]
fn an_exported_project_applies_to_a_blank_one_with_no_changes_left() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    with_cert(&w);
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&w, &["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    assert!(
        yaml.contains("${secret:ACME_GOOGLE_CLIENT_SECRET}"),
        "{yaml}"
    );
    assert!(
        format!("{out}{err}").contains("ACME_GOOGLE_CLIENT_SECRET"),
        "export must name the variables to set: {out}\n{err}"
    );
    assert!(!yaml.contains(SECRET), "{yaml}");

    // A blank project gets the exported config; the secret comes from the environment.
    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    copy_dir(&w.path("exp"), blank.root());
    let go = |args: &[&str]| {
        let out = blank
            .cmd(args)
            .env("ACME_GOOGLE_CLIENT_SECRET", SECRET)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, all) = go(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{all}\n{yaml}");
    let (code, all) = go(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{all}\n{yaml}");
    let copied = blank.emu().data();
    let g = copied.sso_config("acme", "google").unwrap();
    assert_eq!(g.client_secret, SECRET);
    let d = copied.sso_config("acme", "").unwrap();
    assert_eq!(d.saml["idpSSOUrl"], "https://acme.okta.com/app/x/sso/saml");
    assert_eq!(d.saml["defaultSSORoles"], json!(["Viewer"]));
}

#[test]
fn an_adopted_configuration_plans_one_update_that_sets_its_secret() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    with_cert(&w);
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Forget what the last apply sent: the secret can no longer be compared.
    std::fs::remove_file(w.path("state/default/state.json")).unwrap();
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("~ tenant_sso.acme/google"), "{out}");
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn an_expiring_certificate_warns_without_stopping_the_plan() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write(
        "certs/old.pem",
        include_str!("../fixtures/certs/expired.pem"),
    );
    w.write_config(&config("certs/old.pem"));
    let (code, out, err) = run(&w, &["plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("tenant_sso.acme/default") && err.contains("expired on 2021-01-01"),
        "{err}"
    );
}

#[test]
fn bad_sso_blocks_are_reported_at_their_place_in_the_file() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
roles:
  - name: Admin
tenants:
  - id: acme
    name: Acme
    sso:
      default:
        saml:
          idp_url: https://idp
          entity_id: e
          cert: not a certificate
          role_mappings: [{groups: [g], role: Admni}]
      other:
        display_name: Other
      third:
        oidc: {client_id: x}
      fourth:
        saml_metadata: {metadata_url: https://m, sign_request: true}
",
    );
    let (code, out, err) = run(&w, &["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    // The unknown key, with a suggestion.
    assert!(
        err.contains("descope.yaml:19:") && err.contains("did you mean `sign_requests`"),
        "{err}"
    );
    // A certificate without PEM armour.
    assert!(
        err.contains("descope.yaml:12:17") && err.contains("not a PEM certificate"),
        "{err}"
    );
    // A role that is not declared, with a suggestion.
    assert!(
        err.contains("descope.yaml:13:") && err.contains("role `Admni`") && err.contains("Admin"),
        "{err}"
    );
    // No protocol at all, and a missing required field.
    assert!(
        err.contains("descope.yaml:15:9") && err.contains("needs one of `saml`"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:17:") && err.contains("`name` is missing"),
        "{err}"
    );
}

#[test]
fn a_literal_client_secret_is_refused() {
    crate::util::a_literal_secret_is_refused(
        "version: 1
settings: {rate_limit: 1000/1}
tenants:
  - id: acme
    name: Acme
    sso:
      google:
        oidc: {name: Google, client_id: x, client_secret: plain-text}
",
        "plain-text",
    );
}

#[test]
fn the_schema_describes_the_sso_block() {
    let w = TestEnv::new();
    let (code, out, _) = run(&w, &["schema"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&out).unwrap();
    assert!(
        schema
            .pointer("/$defs/TenantConfig/properties/sso")
            .is_some(),
        "{out}"
    );
}

#[test]
fn a_console_configuration_is_left_alone_unless_pruned() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    with_cert(&w);
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    w.emu().mutate(|d| {
        d.sso.push(descope_emulator::SsoConfig {
            tenant_id: "acme".into(),
            sso_id: "console".into(),
            display_name: "Made by hand".into(),
            auth_type: "none".into(),
            ..Default::default()
        })
    });
    // A tenant rename in the config is no drift of its SSO configurations.
    w.write_config(&config("certs/acme.pem").replace("name: Acme\n", "name: Acme Inc\n"));
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("tenant_sso.acme/console"),
        "reported as unmanaged: {out}"
    );
    let (code, out, err) = run(&w, &["drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(
        &w,
        &["plan", "--prune", "tenant_sso", "-out", "plans/p.plan"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- tenant_sso.acme/console"), "{out}");
    assert!(!out.contains("- tenant_sso.acme/default"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/p.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(w.emu().data().sso_config("acme", "console").is_none());
}

#[test]
fn a_configuration_from_a_template_is_planned_applied_and_kept_in_sync() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write(
        "certs/okta.pem",
        include_str!("../fixtures/certs/valid.pem"),
    );
    w.write_config(
        "version: 1
settings: {rate_limit: 1000/1}
roles:
  - name: Viewer
sso_templates:
  okta-saml:
    display_name: \"${tenant.name} Okta\"
    domains: [\"${tenant.id}.example.com\"]
    saml:
      idp_url: \"https://example.okta.com/app/${tenant.vars.okta_app}/sso/saml\"
      entity_id: \"http://www.okta.com/${tenant.vars.okta_app}\"
      cert_file: certs/okta.pem
      default_sso_roles: [Viewer]
tenants:
  - id: acme
    name: Acme
    sso:
      default: {template: okta-saml, vars: {okta_app: 0oa1}}
  - id: globex
    name: Globex
    sso:
      eu: {template: okta-saml, vars: {okta_app: 0oa2}, domains: [globex.eu]}
",
    );
    let (code, out, err) = run(&w, &["plan", "-out", "plans/t.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+ tenant_sso.acme/default"), "{out}");
    assert!(out.contains("+ tenant_sso.globex/eu"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/t.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let acme = sso(&w, "acme", "");
    assert_eq!(
        acme.saml["idpSSOUrl"],
        "https://example.okta.com/app/0oa1/sso/saml"
    );
    assert_eq!(acme.domains, ["acme.example.com"]);
    let eu = sso(&w, "globex", "eu");
    assert_eq!(eu.display_name, "Globex Okta");
    assert_eq!(eu.saml["idpEntityId"], "http://www.okta.com/0oa2");
    assert_eq!(eu.domains, ["globex.eu"]);
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn a_tenant_removed_from_the_config_takes_its_configurations_along() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    with_cert(&w);
    let (code, out, err) = run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    w.write_config(
        "version: 1\nsettings: {rate_limit: 1000/1}\nroles:\n  - name: Admin\n  - name: Viewer\n",
    );
    let (code, out, err) = run(&w, &["plan", "-out", "plans/gone.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- tenant.acme"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/gone.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(w.emu().data().sso.is_empty());
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let state = std::fs::read_to_string(w.path("state/default/state.json")).unwrap();
    assert!(!state.contains("tenant_sso."), "{state}");
}

#[test]
fn export_reads_every_tenant_and_says_how_far_it_got() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.emu().mutate(|d| {
        for i in 0..30 {
            d.tenants.push(descope_emulator::Tenant {
                id: format!("t{i:02}"),
                name: format!("T{i:02}"),
                auth_type: "none".into(),
                ..Default::default()
            });
        }
    });
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let (code, out, err) = run(&w, &["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("reading SSO configurations: 0 of 30 tenants"),
        "{out}\n{err}"
    );
    let reads = w
        .emu()
        .log()
        .into_iter()
        .filter(|e| e.path == "/v2/mgmt/sso/settings/all")
        .count();
    assert_eq!(reads, 30);
}
