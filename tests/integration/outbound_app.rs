//! The outbound application kind (`outbound_app.<id>`, a top-level `outbound_apps:` list) end
//! to end through the executable: plan, apply, no changes after, the write-only client secret
//! (unchanged variable: nothing; changed: an update), drift, prune, export to a blank project,
//! backup restore, validation, and no secret value in any file or output.

use descope_emulator::EmulatorOptions;
use serde_json::{json, Value};

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
outbound_apps:
  - id: google
    name: Google Calendar
    description: Calendar access
    client_id: google-client
    client_secret: ${secret:GOOGLE_CLIENT_SECRET}
    authorization_url: https://accounts.google.com/o/oauth2/v2/auth
    authorization_url_params:
      - {name: hd, value: example.com}
    token_url: https://oauth2.googleapis.com/token
    default_scopes: [calendar.readonly, openid]
    pkce: true
    access_type: offline
    prompt: [select_account, consent]
  - id: slack
    name: Slack
";

const FIRST: &str = "first-secret-value-4f1a9c";
const SECOND: &str = "second-secret-value-7b2e0d";

struct Run {
    code: i32,
    out: String,
    err: String,
}

/// Every output of every run, for the secret scan at the end.
#[derive(Default)]
struct Outputs(String);

impl Outputs {
    fn run(&mut self, w: &TestEnv, args: &[&str]) -> Run {
        let out = w.cmd(args).output().unwrap();
        let r = Run {
            code: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.0.push_str(&r.out);
        self.0.push_str(&r.err);
        r
    }

    fn ok(&mut self, w: &TestEnv, args: &[&str]) -> String {
        let r = self.run(w, args);
        assert_eq!(r.code, 0, "{args:?}\n{}\n{}", r.out, r.err);
        r.out
    }
}

/// The backup files `backup list` shows.
fn backups(list: String) -> std::collections::BTreeSet<String> {
    list.lines()
        .filter(|l| l.ends_with(".json"))
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect()
}

fn app(w: &TestEnv, id: &str) -> Option<descope_emulator::OutboundApp> {
    w.emu().data().outbound_app(id).cloned()
}

/// Every file under `dir` (state, plans, backups, journal, audit log, exports) as text.
fn all_files(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn outbound_apps_are_planned_applied_rotated_drifted_pruned_exported_and_restored() {
    let mut w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut o = Outputs::default();
    w.vars.insert("GOOGLE_CLIENT_SECRET".into(), FIRST.into());
    w.write_config(CONFIG);

    let out = o.ok(&w, &["plan", "-out", "plans/a.plan"]);
    assert!(
        out.contains("+ outbound_app.google") && out.contains("+ outbound_app.slack"),
        "{out}"
    );
    o.ok(&w, &["apply", "plans/a.plan"]);
    let google = app(&w, "google").expect("created with the chosen id");
    assert_eq!(google.client_secret, FIRST);
    assert_eq!(
        google.authorization_url_params,
        [json!({"name": "hd", "value": "example.com"})]
    );
    assert_eq!(google.default_scopes, ["calendar.readonly", "openid"]);
    assert_eq!(
        (google.pkce, google.access_type.as_str()),
        (true, "offline")
    );
    assert_eq!(google.prompt, ["consent", "select_account"]);

    // The same variable value: no changes, although Descope never returns the secret.
    let out = o.ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");

    // A new value in the variable: one update, which keeps what the config leaves out.
    w.emu().mutate(|d| {
        let a = d
            .outbound_apps
            .iter_mut()
            .find(|a| a.id == "google")
            .unwrap();
        a.logo = "https://example.com/logo.png".into();
    });
    w.vars.insert("GOOGLE_CLIENT_SECRET".into(), SECOND.into());
    let out = o.ok(&w, &["plan", "-out", "plans/b.plan"]);
    assert!(
        out.contains("~ outbound_app.google") && out.contains("client_secret"),
        "{out}"
    );
    assert!(!out.contains("outbound_app.slack"), "{out}");
    o.ok(&w, &["apply", "plans/b.plan"]);
    let google = app(&w, "google").unwrap();
    assert_eq!(google.client_secret, SECOND);
    assert_eq!(google.logo, "https://example.com/logo.png");
    assert_eq!(google.description, "Calendar access");
    let out = o.ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");

    // A description changed in the console is drift; drift says it cannot see the secret.
    w.emu().mutate(|d| {
        let a = d
            .outbound_apps
            .iter_mut()
            .find(|a| a.id == "google")
            .unwrap();
        a.description = "edited in the console".into();
    });
    let r = o.run(&w, &["drift"]);
    assert_eq!(r.code, 2, "{}\n{}", r.out, r.err);
    assert!(r.out.contains("outbound_app.google"), "{}", r.out);
    assert!(
        format!("{}{}", r.out, r.err).contains("write-only"),
        "{}\n{}",
        r.out,
        r.err
    );
    o.ok(&w, &["plan", "-out", "plans/c.plan"]);
    o.ok(&w, &["apply", "plans/c.plan"]);
    assert_eq!(app(&w, "google").unwrap().description, "Calendar access");
    assert_eq!(app(&w, "google").unwrap().client_secret, SECOND);

    // One made in the console is reported, left alone, and deleted only with --prune.
    w.emu().mutate(|d| {
        d.outbound_apps.push(descope_emulator::OutboundApp {
            id: "console".into(),
            name: "Console app".into(),
            ..Default::default()
        })
    });
    let out = o.ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("outbound_app.console"), "{out}");
    let out = o.ok(
        &w,
        &["plan", "--prune", "outbound_app", "-out", "plans/d.plan"],
    );
    assert!(out.contains("- outbound_app.console"), "{out}");
    o.ok(&w, &["apply", "plans/d.plan"]);
    assert!(app(&w, "console").is_none());

    // Dropped from the config: deleted; the backup taken before brings it back.
    w.write_config(&CONFIG.replace("  - id: slack\n    name: Slack\n", ""));
    let out = o.ok(&w, &["plan", "-out", "plans/e.plan"]);
    assert!(out.contains("- outbound_app.slack"), "{out}");
    let before = backups(o.ok(&w, &["backup", "list"]));
    o.ok(&w, &["apply", "plans/e.plan"]);
    assert!(app(&w, "slack").is_none());
    // Backups made within one second do not sort by time: the new one is the one to restore.
    let after = backups(o.ok(&w, &["backup", "list"]));
    let backup = after
        .difference(&before)
        .next()
        .expect("apply made a backup")
        .clone();
    let out = o.ok(&w, &["backup", "restore", &backup, "-out", "plans/r.plan"]);
    assert!(out.contains("+ outbound_app.slack"), "{out}");
    o.ok(&w, &["apply", "plans/r.plan"]);
    assert_eq!(app(&w, "slack").unwrap().name, "Slack");

    // Export: the secret as a placeholder with a visible name; applied to a blank project with
    // that variable set, the same apps, and no changes after.
    let out = o.ok(&w, &["export", "--out", "exp"]);
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let apps = exported["outbound_apps"].as_array().expect(&yaml);
    let google = apps.iter().find(|a| a["id"] == "google").expect(&yaml);
    assert_eq!(
        google["client_secret"], "${secret:OUTBOUND_APP_GOOGLE_CLIENT_SECRET}",
        "{out}\n{yaml}"
    );
    assert_eq!(google["token_url"], "https://oauth2.googleapis.com/token");

    let mut blank = TestEnv::start_blocking(EmulatorOptions::default());
    blank
        .vars
        .insert("OUTBOUND_APP_GOOGLE_CLIENT_SECRET".into(), SECOND.into());
    // The kind's section of the export (its flows and theme are other kinds' business).
    let section = json!({
        "version": 1,
        "settings": {"rate_limit": "1000/1"},
        "outbound_apps": exported["outbound_apps"],
    });
    blank.write_config(&serde_yaml_ng::to_string(&section).unwrap());
    o.ok(&blank, &["plan", "-out", "plans/a.plan"]);
    o.ok(&blank, &["apply", "plans/a.plan"]);
    let out = o.ok(&blank, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");
    for id in ["google", "slack"] {
        let (mut a, mut b) = (app(&w, id).unwrap(), app(&blank, id).unwrap());
        // The original's logo was set in the console and exported like every field.
        a.client_secret.clear();
        b.client_secret.clear();
        assert_eq!(a, b, "{id}");
    }
    assert_eq!(app(&blank, "google").unwrap().client_secret, SECOND);

    // No secret value anywhere: every file either tool run wrote, and every output.
    let mut files = String::new();
    all_files(w.root(), &mut files);
    all_files(blank.root(), &mut files);
    for secret in [FIRST, SECOND] {
        assert!(!files.contains(secret), "a secret value reached a file");
        assert!(!o.0.contains(secret), "a secret value reached the output");
    }
}

#[test]
fn bad_outbound_apps_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
outbound_apps:
  - id: google
    name: Google
    token_url: not a url
  - id: google
    name: Other
    acess_type: offline
",
    );
    let out = w.cmd(&["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("descope.yaml:5:16") && err.contains("URL"),
        "{err}"
    );
    assert!(err.contains("descope.yaml:6:9"), "{err}");
    assert!(
        err.contains("descope.yaml:8:5") && err.contains("access_type"),
        "{err}"
    );
}

#[test]
fn a_literal_client_secret_is_refused() {
    let err = crate::util::a_literal_secret_is_refused(
        "version: 1
settings: {rate_limit: 1000/1}
outbound_apps:
  - id: google
    name: Google
    client_secret: literal-value
",
        "literal-value",
    );
    assert!(err.contains("outbound_app.google"), "{err}");
}

/// An app adopted from the live project has no record of its secret: the first plan sets it
/// (one update), and the next plans nothing.
#[test]
fn an_adopted_app_gets_its_secret_set_once() {
    let mut w = TestEnv::start_blocking(EmulatorOptions::default());
    w.emu().mutate(|d| {
        d.outbound_apps.push(descope_emulator::OutboundApp {
            id: "github".into(),
            name: "GitHub".into(),
            client_id: "gh-client".into(),
            client_secret: "set-in-the-console".into(),
            ..Default::default()
        })
    });
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let mut o = Outputs::default();
    o.ok(&w, &["export", "--out", "exp", "--adopt"]);
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let section = json!({
        "version": 1,
        "settings": {"rate_limit": "1000/1"},
        "outbound_apps": exported["outbound_apps"],
    });
    w.write_config(&serde_yaml_ng::to_string(&section).unwrap());
    w.vars
        .insert("OUTBOUND_APP_GITHUB_CLIENT_SECRET".into(), FIRST.into());
    let out = o.ok(&w, &["plan", "-out", "plans/a.plan"]);
    assert!(
        out.contains("~ outbound_app.github") && out.contains("client_secret"),
        "{out}"
    );
    o.ok(&w, &["apply", "plans/a.plan"]);
    let github = app(&w, "github").unwrap();
    assert_eq!(
        (github.client_secret.as_str(), github.client_id.as_str()),
        (FIRST, "gh-client")
    );
    let out = o.ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");
    assert!(!o.0.contains(FIRST));
}

/// `protect: true` on an app: dropping it from the config is a refused plan, no plan file.
#[test]
fn a_protected_app_is_never_planned_for_deletion() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut o = Outputs::default();
    w.write_config(
        "version: 1
settings: {rate_limit: 1000/1}
outbound_apps:
  - id: slack
    name: Slack
    protect: true
",
    );
    o.ok(&w, &["plan", "-out", "plans/a.plan"]);
    o.ok(&w, &["apply", "plans/a.plan"]);
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let r = o.run(&w, &["plan", "-out", "plans/b.plan"]);
    assert_eq!(r.code, 1, "{}\n{}", r.out, r.err);
    assert!(
        r.err.contains("outbound_app.slack") && r.err.contains("protected"),
        "{}",
        r.err
    );
    assert!(!w.path("plans/b.plan").exists());
    assert!(app(&w, "slack").is_some());
}
