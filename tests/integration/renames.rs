//! Renames without loss (`renamed_from:` on roles and permissions): one update with `newName`
//! that keeps the object (its id, so its users, the roles holding a permission, the default
//! roles naming a role), shown like Terraform's `moved`; state.json follows; the cases the user
//! must settle are errors.

use descope_emulator::EmulatorOptions;

use crate::util::TestEnv;

const BEFORE: &str = "version: 1
settings: {rate_limit: 1000/1}
permissions:
  - name: docs.read
roles:
  - name: Reader
    permissions: [docs.read]
  - name: Editor
    tenant: acme
tenants:
  - id: acme
    name: Acme
    default_roles: [Reader, Editor]
";

const AFTER: &str = "version: 1
settings: {rate_limit: 1000/1}
permissions:
  - name: documents.read
    renamed_from: [docs.read]
roles:
  - name: Viewer
    renamed_from: [Reader, Guest]
    description: Reads documents
    permissions: [documents.read]
  - name: Writer
    tenant: acme
    renamed_from: [Editor]
tenants:
  - id: acme
    name: Acme
    default_roles: [Viewer, Writer]
";

/// (id, created time) of the role `name` in `tenant` ("" for the project).
fn role_identity(w: &TestEnv, tenant: &str, name: &str) -> Option<(String, i64)> {
    let data = w.emu().data();
    data.roles
        .iter()
        .find(|r| r.name == name && r.tenant_id == tenant)
        .map(|r| (r.id.clone(), r.created_time))
}

#[test]
fn renamed_roles_and_permissions_keep_their_objects_and_what_refers_to_them() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(BEFORE);
    let (code, out, err) = w.run_text(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let reader = role_identity(&w, "", "Reader").expect("Reader created");
    let editor = role_identity(&w, "acme", "Editor").expect("Editor created");
    let permission_id = w
        .emu()
        .data()
        .permissions
        .iter()
        .find(|p| p.name == "docs.read")
        .unwrap()
        .id
        .clone();

    w.write_config(AFTER);
    let (code, out, err) = w.run_text(&["plan", "-out", "plans/r.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for moved in [
        "~ permission.docs.read -> permission.documents.read (renamed)",
        "~ role.Reader -> role.Viewer (renamed)",
        "~ role.acme/Editor -> role.acme/Writer (renamed)",
    ] {
        assert!(out.contains(moved), "{moved}:\n{out}");
    }
    assert!(out.contains("0 to create"), "{out}");
    assert!(out.contains("0 to delete"), "{out}");
    let (code, md, err) = w.run_text(&["show", "plans/r.plan", "--format", "markdown"]);
    assert_eq!(code, 0, "{md}\n{err}");
    assert!(
        md.contains("~ role.Reader -&gt; role.Viewer (renamed)"),
        "{md}"
    );

    let (code, out, err) = w.run_text(&["apply", "plans/r.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The same objects, renamed: ids and creation times kept, and what named them follows.
    assert_eq!(role_identity(&w, "", "Viewer"), Some(reader));
    assert_eq!(role_identity(&w, "acme", "Writer"), Some(editor));
    assert_eq!(role_identity(&w, "", "Reader"), None);
    let data = w.emu().data();
    let permission = data.permissions.iter().find(|p| p.name == "documents.read");
    assert_eq!(
        permission.map(|p| p.id.as_str()),
        Some(permission_id.as_str())
    );
    let viewer = data.roles.iter().find(|r| r.name == "Viewer").unwrap();
    assert_eq!(viewer.permission_names, ["documents.read"]);
    assert_eq!(viewer.description, "Reads documents");
    assert_eq!(
        data.tenant("acme").unwrap().default_roles,
        ["Viewer", "Writer"]
    );

    // state.json manages the new addresses only.
    let state = std::fs::read_to_string(w.path("state/default/state.json")).unwrap();
    assert!(state.contains("\"role.Viewer\"") && state.contains("\"role.acme/Writer\""));
    assert!(state.contains("\"permission.documents.read\""), "{state}");
    for old in ["role.Reader", "role.acme/Editor", "permission.docs.read"] {
        assert!(!state.contains(&format!("\"{old}\"")), "{old} in {state}");
    }

    // The apply's backup saved the renamed objects under their old addresses.
    let (code, out, err) = w.run_text(&["backup", "list"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let saved = out
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|f| f.ends_with(".json"))
        .map(|f| std::fs::read_to_string(w.path("state/default/backups").join(f)).unwrap())
        .find(|b| b.contains("\"role.Reader\""))
        .unwrap_or_else(|| panic!("no backup holds role.Reader:\n{out}"));
    assert!(saved.contains("\"permission.docs.read\""), "{saved}");

    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        (code, out.contains("No changes")),
        (0, true),
        "{out}\n{err}"
    );
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Once applied, `renamed_from` is harmless and can go.
    let plain = AFTER
        .replace("    renamed_from: [docs.read]\n", "")
        .replace("    renamed_from: [Reader, Guest]\n", "")
        .replace("    renamed_from: [Editor]\n", "");
    w.write_config(&plain);
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Both the old and the new name live: the user chooses which to delete.
    w.write_config(AFTER);
    w.emu().mutate(|d| {
        let mut again = d.roles.iter().find(|r| r.name == "Viewer").unwrap().clone();
        again.id = "ROLagain".into();
        again.name = "Reader".into();
        d.roles.push(again);
    });
    let (code, out, err) = w.run_text(&["plan"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("role.Viewer") && err.contains("role.Reader") && err.contains("delete"),
        "{err}"
    );
}

#[test]
fn with_neither_name_live_a_renamed_role_is_a_plain_create() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(AFTER);
    let (code, out, err) = w.run_text(&["plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+ role.Viewer"), "{out}");
    assert!(!out.contains("renamed"), "{out}");
}

#[test]
fn renamed_from_a_name_still_configured_is_a_config_error() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
permissions:
  - name: a
  - name: b
    renamed_from: [a]
roles:
  - name: x
    renamed_from: [y, x]
  - name: y
    tenant: acme
tenants:
  - id: acme
    name: Acme
",
    );
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:5:20") && err.contains("`a`"),
        "{err}"
    );
    // `y` is a tenant role: a project role may be renamed from a project role `y`.
    assert!(!err.contains("descope.yaml:8:20"), "{err}");
    assert!(err.contains("descope.yaml:8:23"), "{err}");
}
