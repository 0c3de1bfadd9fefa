//! export, drift, backup and state, through the real binary against in-process emulators
//! (loopback, port 0): what they write, what a later plan or apply makes of it, exit codes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use descope_emulator::{EmulatorOptions, Permission, ProjectData, Role, Tenant};
use descope_mgmt::config::Config;
use descope_mgmt::ops::drift::DriftReport;
use descope_mgmt::resource::strip_defaults;
use serde_json::{json, Map, Value};

use crate::util::TestEnv;

/// The binary in `dir`, pointed at `p` through the SDKs' variables, with a budget that never
/// waits (the emulator has no rate limit here).
fn bin(dir: &Path, p: &TestEnv) -> Command {
    let mut cmd = p.bin(&["--rate-limit", "100000/60"]);
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, p: &TestEnv, args: &[&str]) -> Run {
    let out = bin(dir, p).args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs and insists on the exit code, showing everything the command said when it differs.
fn ok(dir: &Path, p: &TestEnv, args: &[&str], code: i32) -> Run {
    let r = run(dir, p, args);
    assert_eq!(
        r.code, code,
        "descope-mgmt {args:?} exited {}\nstdout:\n{}\nstderr:\n{}",
        r.code, r.stdout, r.stderr
    );
    r
}

const CFG: &str = "exp/descope.yaml";

fn tenant(id: &str, name: &str, parent: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: name.into(),
        parent: parent.into(),
        created_time: 1_700_000_000,
        ..Default::default()
    }
}

fn role(name: &str, tenant: &str, description: &str, perms: &[&str]) -> Role {
    Role {
        id: format!("ROL-{tenant}-{name}"),
        name: name.into(),
        tenant_id: tenant.into(),
        description: description.into(),
        permission_names: perms.iter().map(|s| s.to_string()).collect(),
        created_time: 1_700_000_000,
        ..Default::default()
    }
}

/// A project as an admin might have built it in the console: three levels of tenants with
/// domains, attributes, SSO and disabled flags and default roles; project and tenant roles;
/// permissions; two flows and the theme changed from Descope's seed.
fn seed(p: &TestEnv) {
    p.emu().mutate(|d| {
        for (name, desc) in [
            ("projects.read", "View projects"),
            ("projects.write", "Edit projects"),
            ("billing.read", ""),
        ] {
            d.permissions.push(Permission {
                id: format!("PERM-{name}"),
                name: name.into(),
                description: desc.into(),
                system_default: false,
            });
        }
        let mut acme = tenant("acme", "Acme", "");
        acme.self_provisioning_domains = vec!["acme.com".into(), "acme.io".into()];
        acme.custom_attributes =
            Map::from_iter([("plan".into(), json!("gold")), ("seats".into(), json!(500))]);
        acme.default_roles = vec!["viewer".into()];
        let mut emea = tenant("acme-emea", "Acme EMEA", "acme");
        emea.enforce_sso = true;
        emea.default_roles = vec!["auditor".into(), "Tenant Admin".into()];
        let berlin = tenant("acme-emea-berlin", "Acme Berlin", "acme-emea");
        let mut globex = tenant("globex", "Globex", "");
        globex.disabled = true;
        globex.self_provisioning_domains = vec!["globex.com".into()];
        d.tenants.extend([acme, emea, berlin, globex]);
        d.roles.extend([
            role("viewer", "", "Read only", &["projects.read"]),
            role(
                "editor",
                "",
                "Edits",
                &["projects.read", "projects.write", "User Admin"],
            ),
            role("auditor", "acme-emea", "EMEA auditors", &["billing.read"]),
            role("viewer", "globex", "Globex viewers", &[]),
        ]);
        let sign_in = d.flows.iter_mut().find(|f| f.id == "sign-in").unwrap();
        sign_in.description = "Our own sign in".into();
        sign_in.dsl["tasks"] = json!([{"id": "t1", "type": "otp"}, {"id": "t2", "type": "end"}]);
        let step_up = d.flows.iter_mut().find(|f| f.id == "step-up").unwrap();
        step_up.screens[0]["htmlTemplate"] = json!({"title": "Confirm it is you"});
        d.theme.css_template =
            json!({"light": {"primary": "#123456"}, "dark": {"primary": "#abcdef"}});
    });
}

/// Everything the configuration manages, in comparable form: generated ids, times and
/// versions left out, lists sorted, default values dropped as Descope may omit them.
fn managed_view(d: &ProjectData) -> Value {
    let mut tenants: Vec<Value> = d
        .tenants
        .iter()
        .map(|t| {
            let mut domains = t.self_provisioning_domains.clone();
            domains.sort();
            let mut roles = t.default_roles.clone();
            roles.sort();
            json!({"id": t.id, "name": t.name, "domains": domains, "attrs": t.custom_attributes,
                   "parent": t.parent, "sso": t.enforce_sso, "disabled": t.disabled,
                   "default_roles": roles})
        })
        .collect();
    tenants.sort_by_key(|v| v["id"].to_string());
    let mut roles: Vec<Value> = d
        .roles
        .iter()
        .map(|r| {
            let mut perms = r.permission_names.clone();
            perms.sort();
            json!({"name": r.name, "tenant": r.tenant_id, "description": r.description,
                   "permissions": perms, "default": r.default, "private": r.private})
        })
        .collect();
    roles.sort_by_key(|v| format!("{}/{}", v["tenant"], v["name"]));
    let mut permissions: Vec<Value> = d
        .permissions
        .iter()
        .map(|p| json!({"name": p.name, "description": p.description, "system": p.system_default}))
        .collect();
    permissions.sort_by_key(|v| v["name"].to_string());
    let mut flows: Vec<Value> = d
        .flows
        .iter()
        .map(|f| {
            strip_defaults(
                &json!({"id": f.id, "name": f.name, "description": f.description,
                   "disabled": f.disabled, "dsl": f.dsl, "screens": f.screens}),
            )
        })
        .collect();
    flows.sort_by_key(|v| v["id"].to_string());
    json!({"tenants": tenants, "roles": roles, "permissions": permissions, "flows": flows,
           "theme": strip_defaults(&d.theme.css_template)})
}

fn flow_doc(p: &TestEnv, id: &str) -> Value {
    let d = p.emu().data();
    let f = d.flow(id).unwrap();
    strip_defaults(
        &json!({"name": f.name, "description": f.description, "dsl": f.dsl,
                           "screens": f.screens}),
    )
}

/// The exported file as `Config`, with the kinds' own sections (password policy, tenant
/// settings) kept aside in `sections` the way the loader keeps them.
fn read_config(dir: &Path) -> Config {
    let mut json: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join(CFG)).unwrap()).unwrap();
    let sections =
        descope_mgmt::config::Sections::extract(&mut json, &descope_mgmt::kinds::config_sections());
    let mut cfg: Config = serde_json::from_value(json).unwrap();
    cfg.sections = sections;
    cfg
}

fn write_config(dir: &Path, c: &Config) {
    let mut yaml = serde_yaml_ng::to_value(c).unwrap();
    c.sections.insert_into(&mut yaml);
    std::fs::write(dir.join(CFG), serde_yaml_ng::to_string(&yaml).unwrap()).unwrap();
}

/// With `DESCOPE_TEST_STATE=s3` (the suite's second run in CI): the adopted state moves to a
/// bucket with `state migrate` and the configuration points there from now on.
fn state_on_s3_if_asked(dir: &Path, p: &mut TestEnv) {
    if !crate::moto::suite_on_s3() {
        return;
    }
    assert!(p.use_s3("10s"), "DESCOPE_TEST_STATE=s3 needs moto_server");
    let b = p.s3.clone().unwrap();
    ok(
        dir,
        p,
        &[
            "state",
            "migrate",
            "--config",
            CFG,
            "--env",
            "dev",
            "--to",
            &b.url(),
            "--endpoint",
            &b.endpoint,
        ],
        0,
    );
    let mut cfg = read_config(dir);
    cfg.settings.state = Some(descope_mgmt::config::StateSettings {
        backend: descope_mgmt::config::StateBackend::S3,
        bucket: Some(b.name.clone()),
        prefix: b.prefix.clone(),
        region: Some("us-east-1".into()),
        endpoint: Some(b.endpoint.clone()),
        account: None,
        lock_lease: Some(b.lease.clone()),
    });
    write_config(dir, &cfg);
}

fn plan_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["plan", "--config", CFG, "--env", "dev"];
    v.extend_from_slice(extra);
    v
}

// ---------------------------------------------------------------------------------------------

#[test]
fn export_validates_plans_to_nothing_and_rebuilds_the_project_elsewhere() {
    let source = TestEnv::start_blocking(EmulatorOptions::default());
    let dir = source.root();
    seed(&source);

    let r = ok(dir, &source, &["export", "--env", "dev", "--out", "exp"], 0);
    assert!(r.stdout.contains("exp/descope.yaml"), "{}", r.stdout);
    let yaml = std::fs::read_to_string(dir.join(CFG)).unwrap();
    assert!(yaml.contains("${secret:DESCOPE_MANAGEMENT_KEY}"), "{yaml}");
    assert!(!yaml.contains(source.emu().management_key()));
    // Descope's own permissions and roles stay out; the user's are all there.
    let cfg = read_config(dir);
    let names: Vec<&str> = cfg.permissions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["billing.read", "projects.read", "projects.write"]);
    assert!(cfg.roles.iter().all(|r| r.name != "Tenant Admin"));
    assert_eq!(cfg.roles.len(), 4);
    assert_eq!(cfg.flows.len(), source.emu().data().flows.len());
    assert_eq!(
        cfg.environments["dev"].project_id.as_deref(),
        Some(source.emu().project_id())
    );
    for f in &cfg.flows {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("exp").join(&f.file)).unwrap())
                .unwrap();
        assert_eq!(doc["flow"]["id"], f.id, "v1 form as Descope exports it");
        assert!(doc["flow"].get("etag").is_none(), "server fields left out");
    }
    assert!(dir.join("exp/theme.json").exists());

    ok(
        dir,
        &source,
        &["validate", "--config", CFG, "--env", "dev"],
        0,
    );
    let r = ok(dir, &source, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // A re-export of an unchanged project rewrites nothing.
    let r = ok(dir, &source, &["export", "--env", "dev", "--out", "exp"], 0);
    assert!(!r.stdout.contains("wrote"), "{}", r.stdout);

    // The same files applied to a fresh project reproduce every managed field.
    let target = TestEnv::start_blocking(EmulatorOptions::default());
    assert_ne!(
        managed_view(&source.emu().data()),
        managed_view(&target.emu().data())
    );
    let state = target.state_path();
    let state_dir = state.to_str().unwrap();
    ok(
        dir,
        &target,
        &[
            "apply",
            "--config",
            CFG,
            "--env",
            "dev",
            "--auto-approve",
            "--state-dir",
            state_dir,
        ],
        0,
    );
    assert_eq!(
        managed_view(&source.emu().data()),
        managed_view(&target.emu().data())
    );
    let r = ok(
        dir,
        &target,
        &plan_args(&["--detailed-exitcode", "--state-dir", state_dir]),
        0,
    );
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

#[test]
fn a_flow_screen_edit_plans_one_import_and_a_backup_restore_brings_it_back() {
    let mut p = TestEnv::start_blocking(EmulatorOptions::default());
    let root = p.root().to_path_buf();
    let dir = root.as_path();
    seed(&p);
    ok(
        dir,
        &p,
        &["export", "--env", "dev", "--out", "exp", "--adopt"],
        0,
    );
    state_on_s3_if_asked(dir, &mut p);
    let original = flow_doc(&p, "sign-up-or-in");

    let file = dir.join("exp/flows/sign-up-or-in.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let screen_id = doc["screens"][1]["id"].as_str().unwrap().to_string();
    doc["screens"][1]["htmlTemplate"] = json!({"title": "A brand new welcome"});
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    let r = ok(
        dir,
        &p,
        &plan_args(&["-out", "edit.plan", "--detailed-exitcode"]),
        2,
    );
    assert!(r.stdout.contains("~ flow.sign-up-or-in"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("screens[{screen_id}]")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("0 to create, 1 to update, 0 to delete"),
        "{}",
        r.stdout
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("edit.plan")).unwrap()).unwrap();
    assert_eq!(plan["changes"].as_array().unwrap().len(), 1);

    ok(dir, &p, &["apply", "edit.plan", "--config", CFG], 0);
    let edited = flow_doc(&p, "sign-up-or-in");
    assert_ne!(edited, original);
    assert_eq!(
        p.emu().data().flow("sign-up-or-in").unwrap().screens[1]["htmlTemplate"],
        json!({"title": "A brand new welcome"})
    );

    // The apply's backup holds the flow as it was; restoring it is a plan like any other.
    let r = ok(
        dir,
        &p,
        &["backup", "list", "--config", CFG, "--env", "dev"],
        0,
    );
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("dev") && l.ends_with(".json"))
        .unwrap_or_else(|| panic!("no backup listed:\n{}", r.stdout));
    assert!(line.contains(" 1  "), "one resource backed up: {line}");
    let backup = line.split_whitespace().last().unwrap().to_string();
    let before_restore = p.emu().data();
    let r = ok(
        dir,
        &p,
        &[
            "backup",
            "restore",
            &backup,
            "-out",
            "restore.plan",
            "--config",
            CFG,
            "--env",
            "dev",
        ],
        0,
    );
    assert!(r.stdout.contains("~ flow.sign-up-or-in"), "{}", r.stdout);
    assert_eq!(
        p.emu().data(),
        before_restore,
        "restore writes a plan, never to Descope"
    );
    // Same format as `plan -out`: show reads it, apply verifies and carries it out.
    ok(dir, &p, &["show", "restore.plan"], 0);
    ok(dir, &p, &["apply", "restore.plan", "--config", CFG], 0);
    assert_eq!(flow_doc(&p, "sign-up-or-in"), original);
    // Applied plans are used once.
    ok(dir, &p, &["apply", "restore.plan", "--config", CFG], 3);
}

#[test]
fn backup_restore_recreates_deleted_resources_and_reverts_updates() {
    let mut p = TestEnv::start_blocking(EmulatorOptions::default());
    let root = p.root().to_path_buf();
    let dir = root.as_path();
    seed(&p);
    ok(
        dir,
        &p,
        &["export", "--env", "dev", "--out", "exp", "--adopt"],
        0,
    );
    state_on_s3_if_asked(dir, &mut p);
    let before = managed_view(&p.emu().data());

    // Remove a tenant role and a leaf tenant, and rename a tenant, through the config.
    let mut cfg = read_config(dir);
    cfg.tenants.retain(|t| t.id != "acme-emea-berlin");
    cfg.roles.retain(|r| r.tenant.as_deref() != Some("globex"));
    cfg.tenants
        .iter_mut()
        .find(|t| t.id == "acme")
        .unwrap()
        .name = "Acme Renamed".into();
    write_config(dir, &cfg);
    ok(dir, &p, &plan_args(&["-out", "change.plan"]), 0);
    ok(dir, &p, &["apply", "change.plan", "--config", CFG], 0);
    assert!(p.emu().data().tenant("acme-emea-berlin").is_none());
    assert_eq!(p.emu().data().tenant("acme").unwrap().name, "Acme Renamed");

    let r = ok(
        dir,
        &p,
        &["backup", "list", "--config", CFG, "--env", "dev"],
        0,
    );
    let backup = r
        .stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(".json"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    let r = ok(
        dir,
        &p,
        &[
            "backup", "restore", &backup, "-out", "r.plan", "--config", CFG, "--env", "dev",
        ],
        0,
    );
    assert!(
        r.stdout.contains("+ tenant.acme-emea-berlin"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("+ role.globex/viewer"), "{}", r.stdout);
    assert!(r.stdout.contains("~ tenant.acme"), "{}", r.stdout);
    ok(dir, &p, &["apply", "r.plan", "--config", CFG], 0);
    assert_eq!(managed_view(&p.emu().data()), before);

    // A backup of another environment is refused before anything is read or written.
    let state = p.state("dev");
    let saved = state
        .store()
        .read(&state.key(&format!("backups/{backup}")))
        .unwrap()
        .unwrap();
    let mut other: Value = serde_json::from_slice(&saved).unwrap();
    other["environment"] = json!("prod");
    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, serde_json::to_string(&other).unwrap()).unwrap();
    let r = run(
        dir,
        &p,
        &[
            "backup",
            "restore",
            "foreign.json",
            "-out",
            "f.plan",
            "--config",
            CFG,
            "--env",
            "dev",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("backup of environment `prod`, not `dev`"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("f.plan").exists());
}

#[test]
fn drift_exit_codes_and_reports() {
    let p = TestEnv::start_blocking(EmulatorOptions::default());
    let dir = p.root();
    seed(&p);
    ok(
        dir,
        &p,
        &["export", "--env", "dev", "--out", "exp", "--adopt"],
        0,
    );
    let drift = |format: &str| {
        run(
            dir,
            &p,
            &["drift", "--config", CFG, "--env", "dev", "--format", format],
        )
    };

    // In sync.
    let r = drift("text");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("No drift"), "{}", r.stdout);

    // Unmanaged only: listed, exit code unchanged.
    p.emu()
        .mutate(|d| d.tenants.push(tenant("initech", "Initech", "")));
    let r = drift("text");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Unmanaged"), "{}", r.stdout);
    assert!(r.stdout.contains("tenant.initech"), "{}", r.stdout);
    let report: DriftReport = serde_json::from_str(&drift("json").stdout).unwrap();
    assert!(report.in_sync);
    assert_eq!(report.format_version, 1);
    assert_eq!(report.unmanaged, ["tenant.initech".parse().unwrap()]);

    // Changed in the console: exit 2, naming the resource and the field, in every format.
    p.emu().mutate(|d| {
        d.tenant_mut("acme").unwrap().name = "Acme (edited by hand)".into();
        d.roles
            .iter_mut()
            .find(|r| r.name == "editor")
            .unwrap()
            .default = true;
    });
    let r = drift("text");
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("~ tenant.acme"), "{}", r.stdout);
    assert!(
        r.stdout.contains("name: live \"Acme (edited by hand)\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("Changed outside descope-mgmt"),
        "{}",
        r.stdout
    );
    // A field the config does not manage shows only as changed outside the tool.
    assert!(
        r.stdout
            .contains("role.editor: live object no longer matches"),
        "{}",
        r.stdout
    );

    let r = drift("json");
    assert_eq!(r.code, 2);
    let report: DriftReport = serde_json::from_str(&r.stdout).unwrap();
    assert!(!report.in_sync);
    assert_eq!(report.differences.len(), 1);
    let d = &report.differences[0];
    assert_eq!(d.address.to_string(), "tenant.acme");
    assert_eq!(d.fields[0].field, "name");
    assert_eq!(d.fields[0].live, Some(json!("Acme (edited by hand)")));
    assert_eq!(d.fields[0].config, Some(json!("Acme")));
    let outside: Vec<String> = report
        .changed_outside
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(outside, ["role.editor", "tenant.acme"]);

    let r = drift("markdown");
    assert_eq!(r.code, 2);
    assert!(r
        .stdout
        .starts_with("### descope-mgmt drift: `dev` — drift detected"));
    assert!(
        r.stdout.contains("| `tenant.acme` | update | name |"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("- `role.editor` — modified"),
        "{}",
        r.stdout
    );

    // A flow changed by hand: the drift names the screen.
    p.emu().mutate(|d| {
        let f = d.flows.iter_mut().find(|f| f.id == "step-up").unwrap();
        f.screens[0]["htmlTemplate"] = json!({"title": "changed in the console"});
    });
    let report: DriftReport = serde_json::from_str(&drift("json").stdout).unwrap();
    let flow = report
        .differences
        .iter()
        .find(|d| d.address.to_string() == "flow.step-up")
        .unwrap();
    assert!(
        flow.fields[0].paths.iter().any(|p| p.contains("screens[")),
        "{:?}",
        flow.fields
    );

    // Errors are exit 1.
    let r = run(
        dir,
        &p,
        &["drift", "--config", "missing.yaml", "--env", "dev"],
    );
    assert_eq!(r.code, 1);
}

#[test]
fn state_rm_import_and_adopt_decide_what_a_removal_deletes() {
    let p = TestEnv::start_blocking(EmulatorOptions::default());
    let dir = p.root();
    seed(&p);

    // Without --adopt nothing is managed: dropping a tenant from the config deletes nothing.
    ok(dir, &p, &["export", "--env", "dev", "--out", "exp"], 0);
    let full = read_config(dir);
    let mut cfg = full.clone();
    cfg.tenants.retain(|t| t.id != "globex");
    cfg.roles.retain(|r| r.tenant.as_deref() != Some("globex"));
    let r = ok(
        dir,
        &p,
        &["state", "list", "--config", CFG, "--env", "dev"],
        0,
    );
    assert_eq!(r.stdout, "");
    write_config(dir, &cfg);
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(!r.stdout.contains("- tenant.globex"), "{}", r.stdout);

    // With --adopt every exported address is managed, so the same removal is a delete.
    ok(
        dir,
        &p,
        &["export", "--env", "dev", "--out", "exp", "--adopt"],
        0,
    );
    write_config(dir, &cfg);
    let r = ok(
        dir,
        &p,
        &["state", "list", "--config", CFG, "--env", "dev"],
        0,
    );
    for a in [
        "tenant.globex",
        "role.globex/viewer",
        "flow.sign-in",
        "theme",
        "permission.billing.read",
    ] {
        assert!(r.stdout.lines().any(|l| l == a), "{a} in\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("Tenant Admin"), "{}", r.stdout);
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 2);
    assert!(r.stdout.contains("- tenant.globex"), "{}", r.stdout);
    assert!(r.stdout.contains("- role.globex/viewer"), "{}", r.stdout);

    let r = ok(
        dir,
        &p,
        &[
            "state",
            "show",
            "tenant.globex",
            "--config",
            CFG,
            "--env",
            "dev",
        ],
        0,
    );
    assert!(r.stdout.contains("fingerprint: sha256:"), "{}", r.stdout);

    // state rm: no longer managed, so not deleted; the live tenant is untouched.
    for a in ["tenant.globex", "role.globex/viewer"] {
        ok(
            dir,
            &p,
            &["state", "rm", a, "--config", CFG, "--env", "dev"],
            0,
        );
    }
    assert!(p.emu().data().tenant("globex").is_some());
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    let r = run(
        dir,
        &p,
        &[
            "state",
            "rm",
            "tenant.globex",
            "--config",
            CFG,
            "--env",
            "dev",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("tenant.globex is not managed"),
        "{}",
        r.stderr
    );

    // state import of an address the config does not name is refused: managed and absent
    // from the config, the next plan would delete it.
    let import_globex = [
        "state",
        "import",
        "tenant.globex",
        "--config",
        CFG,
        "--env",
        "dev",
    ];
    let r = run(dir, &p, &import_globex);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("tenant.globex is not in the configuration"),
        "{}",
        r.stderr
    );
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);

    // Named in the config again, it can be imported: managed, so a later removal deletes it.
    write_config(dir, &full);
    ok(dir, &p, &import_globex, 0);
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
    write_config(dir, &cfg);
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 2);
    assert!(r.stdout.contains("- tenant.globex"), "{}", r.stdout);

    // Importing what the config names but the project does not hold names it.
    let mut nowhere = full.clone();
    let mut t = full.tenants[0].clone();
    t.id = "nowhere".into();
    t.name = "Nowhere".into();
    t.domains = None;
    nowhere.tenants.push(t);
    write_config(dir, &nowhere);
    let r = run(
        dir,
        &p,
        &[
            "state",
            "import",
            "tenant.nowhere",
            "--config",
            CFG,
            "--env",
            "dev",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("tenant.nowhere does not exist"),
        "{}",
        r.stderr
    );
    let r = run(
        dir,
        &p,
        &["state", "import", "bogus", "--config", CFG, "--env", "dev"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`bogus` is not a resource address"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_multi_env_example_checks_drift_in_every_environment() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/multi-env");
    let raw: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(example.join("descope.yaml")).unwrap())
            .unwrap();
    for env in ["test", "devtest", "dev", "staging", "prod"] {
        // Each environment names its own project; its emulator answers for that one.
        let project_id = raw["environments"][env]["project_id"].as_str().unwrap();
        let p = TestEnv::start_blocking(EmulatorOptions {
            project_id: project_id.to_string(),
            ..EmulatorOptions::default()
        });
        let key_var = format!("DESCOPE_{}_KEY", env.to_uppercase());
        let config = example.join("descope.yaml");
        let config = config.to_str().unwrap();
        let state = p.root().join("state");
        let state = state.to_str().unwrap();
        let args = |cmd: &[&'static str]| {
            let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            v.extend(["--config", config, "--env", env, "--state-dir", state].map(String::from));
            v
        };
        let go = |cmd: &[&'static str]| {
            bin(p.root(), &p)
                .env_remove("DESCOPE_PROJECT_ID")
                .env(&key_var, p.emu().management_key())
                .args(args(cmd))
                .output()
                .unwrap()
        };
        let out = go(&["drift"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{env}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = go(&["apply", "--auto-approve"]);
        assert!(
            out.status.success(),
            "{env}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = go(&["drift"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{env}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let prod_only = p.emu().data().tenant("cyberdyne").is_some();
        assert_eq!(
            prod_only,
            env == "prod",
            "{env}: the prod overlay adds cyberdyne"
        );
    }
}

#[test]
fn export_fits_generated_ids_escapes_dollar_braces_and_tolerates_omitted_defaults() {
    let p = TestEnv::start_blocking(EmulatorOptions {
        omit_defaults: true,
        ..EmulatorOptions::default()
    });
    let dir = p.root();
    p.emu().mutate(|d| {
        let mut t = tenant("T2xYz9AbCdEf", "Generated", "");
        t.custom_attributes = Map::from_iter([("note".into(), json!("costs ${PRICE}"))]);
        d.tenants.push(t);
        d.tenants
            .push(tenant("T2child_1.a", "Child", "T2xYz9AbCdEf"));
        d.permissions.push(Permission {
            id: "PERM-x".into(),
            name: "x.read".into(),
            description: "literal ${NOT_A_VAR}".into(),
            system_default: false,
        });
    });
    ok(dir, &p, &["export", "--env", "dev", "--out", "exp"], 0);
    let yaml = std::fs::read_to_string(dir.join(CFG)).unwrap();
    assert!(
        yaml.contains("$${PRICE}") && yaml.contains("$${NOT_A_VAR}"),
        "{yaml}"
    );
    let cfg = read_config(dir);
    let pattern = regex::Regex::new(&cfg.settings.tenant_id_pattern).unwrap();
    assert_ne!(cfg.settings.tenant_id_pattern, "^[a-z0-9-]{3,50}$");
    assert!(pattern.is_match("T2xYz9AbCdEf") && pattern.is_match("T2child_1.a"));
    ok(dir, &p, &["validate", "--config", CFG, "--env", "dev"], 0);
    let r = ok(dir, &p, &plan_args(&["--detailed-exitcode"]), 0);
    assert!(r.stdout.contains("No changes"), "{}", r.stdout);
}

/// A theme kept in Descope's v2 form (`styles`) goes through plan, apply, plan again, drift
/// and a second apply of a changed style: every command reads and fingerprints it alike, so
/// nothing looks changed outside the tool and nothing is stale.
#[test]
fn a_v2_theme_plans_applies_and_stays_in_sync() {
    let p = TestEnv::start_blocking(EmulatorOptions::default());
    let d = p.root();
    p.write_theme(&json!({"theme": {"styles": {"light": {"colors": {"primary": "#5b3df5"}}}}}));
    p.write_config("version: 1\nenvironments:\n  dev: {}\ntheme: {file: theme.json}\n");
    let cfg = ["--config", "descope.yaml", "--env", "dev"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = extra.to_vec();
        v.extend_from_slice(&cfg);
        v
    };
    let planned = ok(d, &p, &with(&["plan", "-out", "t.plan"]), 0);
    assert!(planned.stdout.contains("~ theme"), "{}", planned.stdout);
    ok(d, &p, &with(&["apply", "t.plan"]), 0);
    assert_eq!(
        p.emu().data().theme_export_v2()["theme"]["styles"]["light"]["colors"]["primary"],
        "#5b3df5"
    );
    ok(d, &p, &with(&["plan", "--detailed-exitcode"]), 0);
    ok(d, &p, &with(&["drift"]), 0);

    p.write_theme(&json!({"theme": {"styles": {"light": {"colors": {"primary": "#000000"}}}}}));
    ok(
        d,
        &p,
        &with(&["plan", "-out", "t2.plan", "--detailed-exitcode"]),
        2,
    );
    ok(d, &p, &with(&["apply", "t2.plan"]), 0);
    ok(d, &p, &with(&["drift"]), 0);
}

/// A custom attribute the config takes from `${secret:VAR}` is exported as that reference,
/// never as its value, and the exported config plans to no changes with the variable set.
#[test]
fn export_writes_secret_attributes_as_references() {
    let p = TestEnv::start_blocking(EmulatorOptions::default());
    let d = p.root();
    p.write_config("version: 1\nenvironments:\n  dev: {}\ntenants:\n  - id: acme\n    name: Acme\n    custom_attributes: {token: \"${secret:ACME_TOKEN}\", plan: gold}\n");
    let secret = "s3cr3t-token-value-0042";
    let with_secret = |args: &[&str]| {
        let out = bin(d, &p)
            .env("ACME_TOKEN", secret)
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "the secret was printed: {all}");
        (out.status.code().unwrap_or(-1), all)
    };
    let (code, all) = with_secret(&["apply", "--env", "dev", "--auto-approve"]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        p.emu().data().tenant("acme").unwrap().custom_attributes["token"],
        json!(secret)
    );

    let (code, all) = with_secret(&["export", "--env", "dev", "--out", "exp"]);
    assert_eq!(code, 0, "{all}");
    let yaml = std::fs::read_to_string(d.join("exp/descope.yaml")).unwrap();
    assert!(!yaml.contains(secret), "{yaml}");
    assert!(yaml.contains("${secret:ACME_TOKEN}"), "{yaml}");
    let (code, all) = with_secret(&[
        "plan",
        "--config",
        "exp/descope.yaml",
        "--env",
        "dev",
        "--detailed-exitcode",
    ]);
    assert_eq!(code, 0, "{all}");
}

/// `delete_cascade: true` is remembered in state.json like `protect`: when the tenant later
/// leaves the config, its delete still cascades (and says so), instead of silently not.
#[test]
fn a_removed_tenant_is_deleted_with_the_cascade_its_config_asked_for() {
    let p = TestEnv::start_blocking(EmulatorOptions::default());
    let d = p.root();
    let cfg = ["--config", "descope.yaml", "--env", "dev"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = extra.to_vec();
        v.extend_from_slice(&cfg);
        v
    };
    p.write_config("version: 1\nenvironments:\n  dev: {}\ntenants:\n  - {id: gone-co, name: Gone, delete_cascade: true}\n  - {id: kept-co, name: Kept}\n");
    ok(d, &p, &with(&["apply", "--auto-approve"]), 0);
    let state = std::fs::read_to_string(d.join("state/dev/state.json")).unwrap();
    assert!(state.contains("\"delete_cascade\": true"), "{state}");

    p.write_config(
        "version: 1\nenvironments:\n  dev: {}\ntenants:\n  - {id: kept-co, name: Kept}\n",
    );
    let planned = ok(d, &p, &with(&["plan", "-out", "rm.plan"]), 0);
    assert!(
        planned
            .stdout
            .contains("tenant.gone-co will be DELETED with its users"),
        "{}",
        planned.stdout
    );
    let shown = ok(d, &p, &["show", "rm.plan", "--format", "json"], 0);
    let json: Value = serde_json::from_str(&shown.stdout).unwrap();
    let change = &json["changes"][0];
    assert_eq!(change["address"], "tenant.gone-co");
    assert_eq!(change["action"], "delete");
    assert_eq!(change["cascade"], true);
    ok(d, &p, &with(&["apply", "rm.plan"]), 0);
    assert!(p.emu().data().tenant("gone-co").is_none());
}
