//! The project kind (`project`, a top-level `project:` block) end to end through the
//! executable: plan, apply, no changes after, drift, export to a blank project, backup restore,
//! validation.

use descope_emulator::EmulatorOptions;
use serde_json::{json, Value};

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
project:
  name: Acme Production
  tags: [prod, eu]
";

fn ok(w: &TestEnv, args: &[&str]) -> String {
    let (code, out, err) = w.run_text(args);
    assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
    out
}

/// The backup files `backup list` shows.
fn backups(list: String) -> std::collections::BTreeSet<String> {
    list.lines()
        .filter(|l| l.ends_with(".json"))
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect()
}

fn project(w: &TestEnv) -> (String, Vec<String>) {
    let p = w.emu().data().project;
    (p.name, p.tags)
}

#[test]
fn the_project_is_planned_applied_drifted_exported_and_restored() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);
    let out = ok(&w, &["plan", "-out", "plans/a.plan"]);
    assert!(out.contains("~ project"), "{out}");
    ok(&w, &["apply", "plans/a.plan"]);
    assert_eq!(
        project(&w),
        (
            "Acme Production".to_string(),
            vec!["eu".into(), "prod".into()]
        )
    );

    // Tags are a set: another order is no change.
    w.write_config(&CONFIG.replace("[prod, eu]", "[eu, prod]"));
    let out = ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");

    // A tag removed in the console is drift, and planned back with one call (the name is
    // unchanged, so it is not sent).
    w.emu().mutate(|d| d.project.tags = vec!["prod".into()]);
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("project") && out.contains("tags"), "{out}");
    let out = ok(&w, &["plan", "-out", "plans/b.plan"]);
    assert!(out.contains("~ project"), "{out}");
    let writes_before = w.emu().counters().writes("/v1/mgmt/project/update/name");
    ok(&w, &["apply", "plans/b.plan"]);
    assert_eq!(project(&w).1, ["eu", "prod"]);
    assert_eq!(
        w.emu().counters().writes("/v1/mgmt/project/update/name"),
        writes_before
    );

    // Renamed through the config; a restore of the backup taken before brings the name back.
    w.write_config(&CONFIG.replace("Acme Production", "Acme Renamed"));
    ok(&w, &["plan", "-out", "plans/c.plan"]);
    let before = backups(ok(&w, &["backup", "list"]));
    ok(&w, &["apply", "plans/c.plan"]);
    assert_eq!(project(&w).0, "Acme Renamed");
    // Backups made within one second do not sort by time: the new one is the one to restore.
    let after = backups(ok(&w, &["backup", "list"]));
    let backup = after
        .difference(&before)
        .next()
        .expect("apply made a backup")
        .clone();
    let out = ok(&w, &["backup", "restore", &backup, "-out", "plans/r.plan"]);
    assert!(out.contains("~ project"), "{out}");
    ok(&w, &["apply", "plans/r.plan"]);
    assert_eq!(project(&w).0, "Acme Production");

    // Removing the block stops managing the project: nothing is deleted.
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let out = ok(&w, &["plan", "--detailed-exitcode"]);
    assert!(!out.contains("- project"), "{out}");

    // Export, then apply the export to a blank project: the same name and tags, no changes after.
    let out = ok(&w, &["export", "--out", "exp"]);
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(
        exported["project"]["name"], "Acme Production",
        "{out}\n{yaml}"
    );
    assert_eq!(
        exported["project"]["tags"],
        serde_json::json!(["eu", "prod"])
    );

    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    // The kind's section of the export (its flows and theme are other kinds' business).
    let section = json!({
        "version": 1,
        "settings": {"rate_limit": "1000/1"},
        "project": exported["project"],
    });
    blank.write_config(&serde_yaml_ng::to_string(&section).unwrap());
    ok(&blank, &["plan", "-out", "plans/a.plan"]);
    ok(&blank, &["apply", "plans/a.plan"]);
    assert_eq!(project(&blank), project(&w));
    let out = ok(&blank, &["plan", "--detailed-exitcode"]);
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn a_project_the_key_cannot_see_is_a_clear_error() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);
    let (code, out, err) = w.run_text(&["plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The emulator lists only the project it serves; another id in the list is not this one.
    w.emu()
        .mutate(|d| d.project.id = "P2someotherproject000000000".into());
    let (code, out, err) = w.run_text(&["plan"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("no project with id") && err.contains("project_id"),
        "{err}"
    );
}

#[test]
fn bad_project_blocks_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config("version: 1\nproject:\n  name: ''\n  tags: [prod, '']\n  tag: [x]\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("descope.yaml:3:9"), "{err}");
    assert!(err.contains("descope.yaml:4:16"), "{err}");
    assert!(
        err.contains("descope.yaml:5:3") && err.contains("tags"),
        "{err}"
    );
}
