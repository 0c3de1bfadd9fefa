//! SSO applications (`sso_app.<id>`, top-level `sso_apps:`) and third-party applications
//! (`third_party_app.<name>`, top-level `third_party_apps:`) end to end through the executable:
//! plan, apply, no changes after, the full-override trap, create-only fields as replaces,
//! drift, prune, protect, export to a blank project, backup restore, validation, and the
//! application secrets Descope hands out never reaching a file or an output.

use std::path::Path;

use descope_emulator::{EmulatorOptions, StoredApp};
use serde_json::{json, Value};

use crate::util::TestEnv;

const SSO: &str = r#"version: 1
settings: {rate_limit: 1000/1}
roles:
  - name: wiki-editors
sso_apps:
  - id: portal
    name: Portal
    description: Customer portal
    login_page_url: https://portal.example.com/login
    oidc:
      approved_redirect_urls: [https://portal.example.com/cb]
      force_pkce: true
  - id: wiki
    name: Wiki
    saml:
      entity_id: https://wiki.example.com
      acs_url: https://wiki.example.com/acs
      certificate: "-----BEGIN CERTIFICATE-----\nMIIBwiki\n-----END CERTIFICATE-----"
      attribute_mapping: [{name: email, value: email}]
      groups_mapping: [{name: editors, filter_type: roles, roles: [wiki-editors]}]
"#;

fn run(w: &TestEnv, args: &[&str], outputs: &mut String) -> (i32, String, String) {
    let out = w.cmd(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    outputs.push_str(&stdout);
    outputs.push_str(&stderr);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn app<'a>(apps: &'a [StoredApp], id: &str) -> &'a Value {
    &apps.iter().find(|a| a.id == id).expect("app exists").app
}

/// Every file under `dir`, as text.
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// No application secret the emulator holds is in any file of the test's directory (plans,
/// state, journal, audit log, backups, exports) or in anything the tool printed.
fn assert_no_secret(w: &TestEnv, outputs: &str) {
    let data = w.emu().data();
    let secrets: Vec<String> = data
        .sso_apps
        .iter()
        .chain(&data.third_party_apps)
        .map(|a| a.cleartext.clone())
        .collect();
    assert!(!secrets.is_empty());
    let mut all = Vec::new();
    files(w.root(), &mut all);
    for s in &secrets {
        assert!(!outputs.contains(s.as_str()), "a secret in the output");
        for (path, text) in &all {
            assert!(!text.contains(s.as_str()), "a secret in {path}");
        }
    }
}

#[test]
fn sso_apps_are_planned_applied_kept_replaced_drifted_pruned_and_protected() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut outputs = String::new();
    w.write_config(SSO);
    let (code, out, err) = run(&w, &["plan", "-out", "plans/a.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("+ sso_app.portal") && out.contains("+ sso_app.wiki"),
        "{out}"
    );
    let (code, out, err) = run(&w, &["apply", "plans/a.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("GET /v1/mgmt/sso/idp/app/secret?id=portal"),
        "apply says where the secret is: {out}"
    );
    let data = w.emu().data();
    let portal = app(&data.sso_apps, "portal");
    assert_eq!(portal["appType"], "oidc");
    assert_eq!(portal["oidcSettings"]["forcePkce"], true);
    let wiki = app(&data.sso_apps, "wiki");
    assert_eq!(
        wiki["samlSettings"]["groupsMapping"][0]["roles"][0]["name"],
        "wiki-editors"
    );
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "no changes after apply: {out}\n{err}");

    // The full-override trap: a field the config leaves alone survives an update.
    w.emu().mutate(|d| {
        let a = d.sso_apps.iter_mut().find(|a| a.id == "portal").unwrap();
        a.app["logo"] = json!("https://cdn.example.com/logo.png");
    });
    w.write_config(&SSO.replace("Customer portal", "The customer portal"));
    let (code, out, err) = run(&w, &["plan", "-out", "plans/b.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ sso_app.portal"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/b.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let data = w.emu().data();
    let portal = app(&data.sso_apps, "portal");
    assert_eq!(portal["description"], "The customer portal");
    assert_eq!(portal["logo"], "https://cdn.example.com/logo.png");
    assert_eq!(
        portal["oidcSettings"]["clientId"], "portal",
        "the client id stays"
    );

    // Drift: a change made in the console shows, and is planned back.
    w.emu().mutate(|d| {
        let a = d.sso_apps.iter_mut().find(|a| a.id == "wiki").unwrap();
        a.app["samlSettings"]["acsUrl"] = json!("https://evil.example.com/acs");
    });
    let (code, out, err) = run(&w, &["drift"], &mut outputs);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("sso_app.wiki"), "{out}");
    let config = SSO.replace("Customer portal", "The customer portal");
    let (code, out, err) = run(&w, &["plan", "-out", "plans/c.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("~ sso_app.wiki") && out.contains("acs_url"),
        "{out}"
    );
    run(&w, &["apply", "plans/c.plan"], &mut outputs);
    assert_eq!(
        app(&w.emu().data().sso_apps, "wiki")["samlSettings"]["acsUrl"],
        "https://wiki.example.com/acs"
    );

    // The OIDC client id is set only at creation: a change is a replace, refused unless allowed.
    let with_client = config.replace(
        "      force_pkce: true\n",
        "      force_pkce: true\n      client_id: imported-client\n",
    );
    w.write_config(&with_client);
    let (code, out, err) = run(&w, &["plan"], &mut outputs);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("--allow-replace sso_app.portal"),
        "{out}\n{err}"
    );
    let (code, out, err) = run(
        &w,
        &[
            "plan",
            "--allow-replace",
            "sso_app.portal",
            "-out",
            "plans/d.plan",
        ],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("-/+ sso_app.portal") && out.contains("only at creation"),
        "{out}"
    );
    let (code, out, err) = run(&w, &["apply", "plans/d.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let data = w.emu().data();
    let portal = app(&data.sso_apps, "portal");
    assert_eq!(portal["oidcSettings"]["clientId"], "imported-client");
    assert_eq!(portal["description"], "The customer portal");
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");

    // One made in the console is left alone, and deleted only with --prune sso_app.
    w.emu().mutate(|d| {
        d.sso_apps.push(StoredApp {
            id: "console".into(),
            app: json!({"id": "console", "name": "Console", "description": "", "enabled": true,
                "logo": "", "appType": "oidc", "samlSettings": null, "customAttributes": {},
                "oidcSettings": {"loginPageUrl": "", "issuer": "i", "discoveryUrl": "d",
                    "forceAuthentication": false, "clientId": "console"}}),
            cleartext: "console-secret-value-0123456789".into(),
        })
    });
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(
        &w,
        &["plan", "--prune", "sso_app", "-out", "plans/e.plan"],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- sso_app.console"), "{out}");
    run(&w, &["apply", "plans/e.plan"], &mut outputs);
    assert!(w.emu().data().sso_apps.iter().all(|a| a.id != "console"));

    // protect: a plan that would delete it is an error.
    let protected = with_client.replace("  - id: wiki\n", "  - id: wiki\n    protect: true\n");
    w.write_config(&protected);
    let (code, out, err) = run(&w, &["plan", "-out", "plans/f.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    run(&w, &["apply", "plans/f.plan"], &mut outputs);
    let without_wiki = protected
        .split("  - id: wiki\n")
        .next()
        .unwrap()
        .to_string();
    w.write_config(&without_wiki);
    let (code, out, err) = run(&w, &["plan"], &mut outputs);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("sso_app.wiki"),
        "{out}\n{err}"
    );
    assert!(w.emu().data().sso_apps.iter().any(|a| a.id == "wiki"));

    let mut all = Vec::new();
    files(w.root(), &mut all);
    for kind in ["journal", "audit", "backups", "plans", "state.json"] {
        assert!(all.iter().any(|(p, _)| p.contains(kind)), "{kind} scanned");
    }
    assert_no_secret(&w, &outputs);
}

/// The backup files `backup list` shows.
fn backups(w: &TestEnv, outputs: &mut String) -> Vec<String> {
    let (_, out, _) = run(w, &["backup", "list"], outputs);
    out.lines()
        .filter(|l| l.trim_end().ends_with(".json"))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

/// The exported kinds under test, for a blank project (flows and the theme stay behind).
fn blank_config(exported: &Value) -> String {
    let mut c = json!({"version": 1, "settings": {"rate_limit": "1000/1"}});
    for key in ["roles", "sso_apps", "third_party_apps"] {
        if let Some(v) = exported.get(key) {
            c[key] = v.clone();
        }
    }
    serde_yaml_ng::to_string(&c).unwrap()
}

#[test]
fn sso_apps_export_to_a_blank_project_and_restore_from_a_backup() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut outputs = String::new();
    w.write_config(SSO);
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");

    let (code, out, err) = run(&w, &["export", "--out", "exp"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let apps = exported["sso_apps"].as_array().expect("sso_apps exported");
    assert_eq!(apps.len(), 2, "{yaml}");

    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    blank.write_config(&blank_config(&exported));
    let (code, out, err) = run(&blank, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&blank, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "the export reproduces the project: {out}\n{err}");
    let (a, b) = (w.emu().data(), blank.emu().data());
    for id in ["portal", "wiki"] {
        let (mut x, mut y) = (app(&a.sso_apps, id).clone(), app(&b.sso_apps, id).clone());
        for v in [&mut x, &mut y] {
            // Role ids are each project's own.
            if let Some(g) = v["samlSettings"]["groupsMapping"].as_array_mut() {
                for g in g {
                    g["roles"][0]["id"] = json!("");
                }
            }
        }
        assert_eq!(x, y, "{id} field by field");
    }

    // The config changes an app; the backup that apply takes holds it as it was.
    let before = backups(&w, &mut outputs);
    w.write_config(&SSO.replace("name: Wiki", "name: Team wiki"));
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(app(&w.emu().data().sso_apps, "wiki")["name"], "Team wiki");
    let backup = backups(&w, &mut outputs)
        .into_iter()
        .find(|b| !before.contains(b))
        .expect("the apply took a backup");
    let (code, out, err) = run(
        &w,
        &["backup", "restore", &backup, "-out", "plans/restore.plan"],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ sso_app.wiki"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/restore.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(app(&w.emu().data().sso_apps, "wiki")["name"], "Wiki");

    assert_no_secret(&w, &outputs);
    assert_no_secret(&blank, &outputs);
}

#[test]
fn bad_sso_apps_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
sso_apps:
  - id: portal
    name: Portal
    oidc: {client_type: secretive}
  - id: portal
    name: Wiki
    saml:
      groups_mapping: [{name: g, roles: [nobody]}]
  - id: bare
    name: Bare
  - id: links
    name: Links
    login_page_url: not a url
    saml: {certificate: MIIBnotarmoured}
",
    );
    let mut outputs = String::new();
    let (code, out, err) = run(&w, &["validate"], &mut outputs);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:5:25") && err.contains("secretive"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:6:9") && err.contains("twice"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:9:42") && err.contains("nobody"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:10:5") && err.contains("`oidc:`"),
        "{err}"
    );
}

const THIRD: &str = r#"version: 1
settings: {rate_limit: 1000/1}
third_party_apps:
  - name: Partner
    description: A partner's app
    login_page_url: https://partner.example.com/login
    approved_callback_urls: [https://partner.example.com/cb]
    permissions_scopes:
      - {name: read, description: Read access, values: [Tenant Admin]}
  - name: Analytics
    attributes_scopes:
      - {name: profile, values: [email]}
"#;

fn third<'a>(apps: &'a [StoredApp], name: &str) -> &'a StoredApp {
    apps.iter()
        .find(|a| a.app["name"] == name)
        .expect("app exists")
}

#[test]
fn third_party_apps_are_planned_applied_kept_drifted_pruned_protected_exported_and_restored() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut outputs = String::new();
    w.write_config(THIRD);
    let (code, out, err) = run(&w, &["plan", "-out", "plans/a.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("+ third_party_app.Partner") && out.contains("+ third_party_app.Analytics"),
        "{out}"
    );
    let (code, out, err) = run(&w, &["apply", "plans/a.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("/v1/mgmt/thirdparty/app/secret"), "{out}");
    let data = w.emu().data();
    let partner = third(&data.third_party_apps, "Partner");
    assert_eq!(
        partner.app["permissionsScopes"][0]["values"],
        json!(["Tenant Admin"])
    );
    let id = partner.id.clone();
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "no changes after apply: {out}\n{err}");

    // The full-override trap: fields the config leaves alone survive an update, which keeps
    // the id Descope gave the app.
    w.emu().mutate(|d| {
        let a = d
            .third_party_apps
            .iter_mut()
            .find(|a| a.app["name"] == "Partner")
            .unwrap();
        a.app["logo"] = json!("https://cdn.example.com/p.png");
        a.app["scopeClaimMapping"] = json!([{"scope": "read", "claims": {"r": "x"}}]);
    });
    w.write_config(&THIRD.replace("A partner's app", "The partner's app"));
    let (code, out, err) = run(&w, &["plan", "-out", "plans/b.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ third_party_app.Partner"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/b.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let data = w.emu().data();
    let partner = third(&data.third_party_apps, "Partner");
    assert_eq!(partner.id, id);
    assert_eq!(partner.app["description"], "The partner's app");
    assert_eq!(partner.app["logo"], "https://cdn.example.com/p.png");
    assert_eq!(partner.app["scopeClaimMapping"][0]["scope"], "read");
    let config = THIRD.replace("A partner's app", "The partner's app");

    // Drift: a change made in the console shows, and is planned back.
    w.emu().mutate(|d| {
        let a = d
            .third_party_apps
            .iter_mut()
            .find(|a| a.app["name"] == "Analytics")
            .unwrap();
        a.app["attributesScopes"] = json!([]);
    });
    let (code, out, err) = run(&w, &["drift"], &mut outputs);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("third_party_app.Analytics"), "{out}");
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        third(&w.emu().data().third_party_apps, "Analytics").app["attributesScopes"][0]["name"],
        "profile"
    );

    // Export to a blank project reproduces the apps, field by field but for ids.
    let (code, out, err) = run(&w, &["export", "--out", "exp"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(
        exported["third_party_apps"].as_array().map(Vec::len),
        Some(2),
        "{yaml}"
    );
    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    blank.write_config(&blank_config(&exported));
    let (code, out, err) = run(&blank, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&blank, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    for name in ["Partner", "Analytics"] {
        let strip = |a: &StoredApp| {
            let mut v = a.app.clone();
            for k in ["id", "clientId", "scopeClaimMapping", "logo"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(
            strip(third(&w.emu().data().third_party_apps, name)),
            strip(third(&blank.emu().data().third_party_apps, name)),
            "{name}"
        );
    }

    // Backup restore: the backup the next apply takes holds the app as it was.
    let (_, out, _) = run(&w, &["backup", "list"], &mut outputs);
    let before: Vec<String> = out.lines().map(str::to_string).collect();
    w.write_config(&config.replace("Read access", "Read everything"));
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, out, _) = run(&w, &["backup", "list"], &mut outputs);
    let backup = out
        .lines()
        .filter(|l| l.trim_end().ends_with(".json") && !before.iter().any(|b| b == l))
        .find_map(|l| l.split_whitespace().last())
        .expect("the apply took a backup")
        .to_string();
    let (code, out, err) = run(
        &w,
        &["backup", "restore", &backup, "-out", "plans/restore.plan"],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ third_party_app.Partner"), "{out}");
    run(&w, &["apply", "plans/restore.plan"], &mut outputs);
    assert_eq!(
        third(&w.emu().data().third_party_apps, "Partner").app["permissionsScopes"][0]
            ["description"],
        "Read access"
    );

    // A deleted app comes back from the backup taken before the delete, under a new id,
    // with what the config does not manage (its scope-claim mapping) as it was.
    let before = backups(&w, &mut outputs);
    w.write_config(&config.replace("  - name: Partner\n", "  - name: Gone\n"));
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(w
        .emu()
        .data()
        .third_party_apps
        .iter()
        .all(|a| a.app["name"] != "Partner"));
    let backup = backups(&w, &mut outputs)
        .into_iter()
        .find(|b| !before.contains(b))
        .expect("the apply took a backup");
    let (code, out, err) = run(
        &w,
        &["backup", "restore", &backup, "-out", "plans/undelete.plan"],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+ third_party_app.Partner"), "{out}");
    let (code, out, err) = run(&w, &["apply", "plans/undelete.plan"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let data = w.emu().data();
    let back = third(&data.third_party_apps, "Partner");
    assert_ne!(back.id, id);
    assert_eq!(back.app["scopeClaimMapping"][0]["scope"], "read");
    assert_eq!(
        back.app["permissionsScopes"][0]["description"],
        "Read access"
    );
    for a in data
        .third_party_apps
        .iter()
        .filter(|a| a.app["name"] == "Gone")
    {
        let gone = a.id.clone();
        w.emu()
            .mutate(|d| d.third_party_apps.retain(|x| x.id != gone));
    }

    // One made in the console is left alone, and deleted (by its id) only with --prune.
    w.write_config(&config);
    w.emu().mutate(|d| {
        d.third_party_apps.push(StoredApp {
            id: "TPAconsole".into(),
            app: json!({"id": "TPAconsole", "name": "Console", "clientId": "c"}),
            cleartext: "console-third-party-secret-0123456789".into(),
        })
    });
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(
        &w,
        &["plan", "--prune", "third_party_app", "-out", "plans/p.plan"],
        &mut outputs,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("- third_party_app.Console"), "{out}");
    run(&w, &["apply", "plans/p.plan"], &mut outputs);
    assert!(w
        .emu()
        .data()
        .third_party_apps
        .iter()
        .all(|a| a.id != "TPAconsole"));

    // protect, then removal from the config: refused; without protect: deleted.
    let protected = config.replace(
        "  - name: Analytics\n",
        "  - name: Analytics\n    protect: true\n",
    );
    w.write_config(&protected);
    run(&w, &["apply", "--auto-approve"], &mut outputs);
    let without = protected
        .split("  - name: Analytics\n")
        .next()
        .unwrap()
        .to_string();
    w.write_config(&without);
    let (code, out, err) = run(&w, &["plan"], &mut outputs);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        format!("{out}{err}").contains("third_party_app.Analytics"),
        "{out}\n{err}"
    );
    w.write_config(&config);
    run(&w, &["apply", "--auto-approve"], &mut outputs);
    w.write_config(
        config
            .split(
                "  - name: Analytics
",
            )
            .next()
            .unwrap(),
    );
    let (code, out, err) = run(&w, &["apply", "--auto-approve"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("1 deleted"), "{out}");
    assert_eq!(w.emu().data().third_party_apps.len(), 1);

    assert_no_secret(&w, &outputs);
    assert_no_secret(&blank, &outputs);
}

#[test]
fn bad_third_party_apps_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
third_party_apps:
  - name: Partner
    default_audience: everyone
  - name: Partner
    scopes: []
",
    );
    let mut outputs = String::new();
    let (code, out, err) = run(&w, &["validate"], &mut outputs);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:4:23") && err.contains("everyone"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:6:5") && err.contains("scopes"),
        "{err}"
    );
}

#[test]
fn apps_made_in_the_console_are_adopted_by_export() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut outputs = String::new();
    w.emu().mutate(|d| {
        d.sso_apps.push(StoredApp {
            id: "console-app".into(),
            app: json!({"id": "console-app", "name": "Console app", "description": "made by hand",
                "enabled": true, "logo": "", "appType": "saml", "oidcSettings": null,
                "customAttributes": {},
                "samlSettings": {"loginPageUrl": "", "useMetadataInfo": true,
                    "metadataUrl": "https://sp.example.com/md", "entityId": "", "acsUrl": "",
                    "certificate": "", "attributeMapping": [], "groupsMapping": [],
                    "acsAllowedCallbacks": ["https://sp.example.com/b", "https://sp.example.com/a"],
                    "idpEntityId": "e", "forceAuthentication": false}}),
            cleartext: "console-sso-secret-0123456789abcdef".into(),
        });
        d.third_party_apps.push(StoredApp {
            id: "TPAhand".into(),
            app: json!({"id": "TPAhand", "name": "Hand made", "clientId": "c", "forcePkce": true,
                "approvedCallbackUrls": ["https://h.example.com/cb"]}),
            cleartext: "console-tpa-secret-0123456789abcdef".into(),
        });
    });
    let (code, out, err) = run(&w, &["export", "--out", ".", "--adopt"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&w, &["state", "list"], &mut outputs);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("sso_app.console-app") && out.contains("third_party_app.Hand made"),
        "{out}"
    );
    let yaml = std::fs::read_to_string(w.path("descope.yaml")).unwrap();
    let (code, out, err) = run(&w, &["plan", "--detailed-exitcode"], &mut outputs);
    assert_eq!(
        code, 0,
        "the adopted export plans no change: {out}\n{err}\n{yaml}"
    );
    assert_no_secret(&w, &outputs);
}
