//! The FGA schema kind (`fga_schema`, the DSL from a file) end to end through the executable:
//! plan with a line diff, apply, no changes after (line endings and trailing whitespace do not
//! count), drift, backup restore, a removed section that deletes nothing, export to a file and
//! the export applied to a blank project, and file errors with their position.

use descope_emulator::EmulatorOptions;

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
fga_schema:
  file: authz/schema.fga
";

const DSL: &str = "model AuthZ 1.0

type user

type org
  relation member: user
  relation admin: user

type doc
  relation parent: org
  relation owner: user
  relation viewer: user

  permission can_view: viewer | owner
";

/// Every file under `from` into `to`'s directory (an export with its flows and theme).
fn copy_dir(from: &std::path::Path, to: &TestEnv, rel: &std::path::Path) {
    for entry in std::fs::read_dir(from.join(rel)).unwrap() {
        let entry = entry.unwrap();
        let rel = rel.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(from, to, &rel);
        } else {
            to.write(&rel, &std::fs::read_to_string(from.join(&rel)).unwrap());
        }
    }
}

fn live_dsl(w: &TestEnv) -> String {
    w.emu().data().fga_schema.dsl
}

#[test]
fn the_schema_is_planned_as_a_line_diff_applied_drifted_restored_and_exported() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);
    w.write("authz/schema.fga", DSL);

    let (code, out, err) = w.run_text(&["plan", "-out", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+ fga_schema"), "{out}");
    assert!(out.contains("+   relation admin: user"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_dsl(&w), DSL);

    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        (code, out.contains("No changes")),
        (0, true),
        "{out}\n{err}"
    );
    // Windows line endings and trailing blanks are no change.
    let crlf = DSL.replace('\n', "  \r\n") + "\r\n\r\n";
    w.write("authz/schema.fga", &crlf);
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // One changed line: a unified diff with its context, in text and in markdown.
    let edited = DSL.replace(
        "relation viewer: user",
        "relation viewer: user | org#member",
    );
    w.write("authz/schema.fga", &edited);
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/b.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ fga_schema"), "{out}");
    assert!(out.contains("@@ -9,6 +9,6 @@"), "{out}");
    assert!(out.contains("-   relation viewer: user\n"), "{out}");
    assert!(
        out.contains("+   relation viewer: user | org#member"),
        "{out}"
    );
    assert!(out.contains("    relation owner: user"), "context: {out}");
    assert!(
        !out.contains("type user"),
        "only a few lines of context: {out}"
    );
    let (code, md, err) = w.run_text(&["show", "plans/b.plan", "--format", "markdown"]);
    assert_eq!(code, 0, "{md}\n{err}");
    assert!(
        md.contains("\n+   relation viewer: user | org#member\n"),
        "{md}"
    );
    assert!(md.contains("\n-   relation viewer: user\n"), "{md}");
    let (code, out, err) = w.run_text(&["apply", "plans/b.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_dsl(&w), edited);

    // The apply's backup holds the schema as it was; restoring it brings that back.
    let (code, out, err) = w.run_text(&["backup", "list"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let backup = out
        .lines()
        // The first apply's backup holds nothing (a create); this one holds the schema.
        .find(|l| l.ends_with(".json") && l.contains(" 1  "))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no backup listed:\n{out}"))
        .to_string();
    let (code, out, err) = w.run_text(&["backup", "restore", &backup, "-out", "r.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("~ fga_schema"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "r.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_dsl(&w), DSL);

    // A console edit is drift, and the plan writes the file's schema back.
    w.emu()
        .mutate(|d| d.fga_schema.dsl = "model AuthZ 1.0\n\ntype user\n".into());
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("fga_schema"), "{out}");
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/c.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+ type org"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/c.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_dsl(&w), edited);

    // Export writes the DSL next to the config; applied to a blank project it reproduces it.
    let (code, out, err) = w.run_text(&["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    assert!(yaml.contains("fga_schema:\n  file: authz.fga"), "{yaml}");
    assert_eq!(
        std::fs::read_to_string(w.path("exp/authz.fga")).unwrap(),
        edited
    );
    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    copy_dir(&w.path("exp"), &blank, std::path::Path::new(""));
    let (code, out, err) = blank.run_text(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_dsl(&blank), edited);
    let (code, out, err) = blank.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        (code, out.contains("No changes")),
        (0, true),
        "{out}\n{err}"
    );

    // No call clears a schema: a config without the section deletes nothing.
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("- fga_schema"), "{out}");
}

#[test]
fn a_missing_or_empty_schema_file_is_reported_where_it_is_named() {
    let w = TestEnv::new();
    w.write_config("version: 1\nfga_schema:\n  file: nowhere.fga\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:3:9") && err.contains("nowhere.fga"),
        "{err}"
    );

    w.write("empty.fga", "\n  \n");
    w.write_config("version: 1\nfga_schema:\n  file: empty.fga\n  protec: true\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:3:9") && err.contains("empty"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:4:3") && err.contains("protect"),
        "{err}"
    );

    w.write_config("version: 1\nfga_schema:\n  file: ../outside.fga\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("descope.yaml:3:9"), "{err}");
}
