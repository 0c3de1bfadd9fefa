//! Issue 5, "apply", end to end against the in-process emulator: the library directly
//! (`ops::plan::plan`, `ops::apply::apply`) and the real binary where the command-line contract
//! matters (exit codes, a process killed mid-apply, two applies racing for the lock).
//!
//! Every test starts its own emulator on 127.0.0.1:0 and works in its own temp dir.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use descope_emulator::{
    AfterCommitFault, Emulator, EmulatorOptions, Faults, HookEvent, HookPhase, LogEntry,
    ProjectData,
};
use descope_mgmt::apply::execute::OpOutcome;
use descope_mgmt::ops::apply::ApplyReport;
use descope_mgmt::ops::plan::{plan, PlanRequest};
use descope_mgmt::ops::OpError;
use descope_mgmt::plan::PlanFile;
use descope_mgmt::state::{Journal, OpStatus, StateFile};

use crate::util::{output, TestEnv};

pub(crate) const ENV: &str = "dev";
pub(crate) const KEY_VAR: &str = "EMU_MANAGEMENT_KEY";
pub(crate) const FAST: &str = "6000/60";

// ---------------------------------------------------------------------------------------------
// The desired project, as data (to write the YAML and to check the emulator against).

#[derive(Debug, Clone)]
pub(crate) struct TenantSpec {
    id: String,
    pub(crate) name: String,
    parent: Option<String>,
    domains: Vec<String>,
    default_roles: Vec<String>,
}

#[derive(Debug, Clone)]
struct RoleSpec {
    name: String,
    tenant: Option<String>,
    permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Desired {
    permissions: Vec<(String, String)>,
    roles: Vec<RoleSpec>,
    pub(crate) tenants: Vec<TenantSpec>,
}

impl Desired {
    /// `roots` root tenants, each with `children` children, each with `grand` grandchildren:
    /// three levels. Project roles over a few permissions, one tenant role per root, default
    /// roles on roots and children.
    pub(crate) fn new(roots: usize, children: usize, grand: usize) -> Desired {
        let permissions: Vec<(String, String)> = (0..6)
            .map(|i| (format!("perm-{i}"), format!("Permission number {i}")))
            .collect();
        let mut roles: Vec<RoleSpec> = (0..4)
            .map(|i| RoleSpec {
                name: format!("role-{i}"),
                tenant: None,
                permissions: vec![format!("perm-{i}"), format!("perm-{}", i + 1)],
            })
            .collect();
        let mut tenants = Vec::new();
        for r in 0..roots {
            let root = format!("t{r:02}");
            roles.push(RoleSpec {
                name: "local".into(),
                tenant: Some(root.clone()),
                permissions: vec!["perm-5".into()],
            });
            tenants.push(TenantSpec {
                id: root.clone(),
                name: format!("Tenant {root}"),
                parent: None,
                domains: vec![format!("{root}.example.test")],
                default_roles: vec!["role-0".into()],
            });
            for c in 0..children {
                let child = format!("{root}-c{c}");
                tenants.push(TenantSpec {
                    id: child.clone(),
                    name: format!("Tenant {child}"),
                    parent: Some(root.clone()),
                    domains: vec![],
                    default_roles: vec!["role-1".into()],
                });
                for g in 0..grand {
                    let gc = format!("{child}-g{g}");
                    tenants.push(TenantSpec {
                        id: gc.clone(),
                        name: format!("Tenant {gc}"),
                        parent: Some(child.clone()),
                        domains: vec![],
                        default_roles: vec![],
                    });
                }
            }
        }
        Desired {
            permissions,
            roles,
            tenants,
        }
    }

    /// One permission, one role, one tenant: the smallest plan with every kind of body.
    fn tiny() -> Desired {
        let mut d = Desired::new(1, 0, 0);
        d.permissions.truncate(2);
        d.roles.retain(|r| r.name == "role-0");
        d
    }

    fn tenant_mut(&mut self, id: &str) -> &mut TenantSpec {
        self.tenants.iter_mut().find(|t| t.id == id).unwrap()
    }

    fn yaml(&self, project_id: &str, rate: &str) -> String {
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut y = format!(
            "version: 1\nsettings:\n  rate_limit: {rate}\n  parallelism: 8\nenvironments:\n  {ENV}:\n    project_id: {project_id}\n    management_key: ${{secret:{KEY_VAR}}}\n"
        );
        y.push_str("permissions:\n");
        for (name, description) in &self.permissions {
            y.push_str(&format!(
                "  - name: {name}\n    description: {description}\n"
            ));
        }
        y.push_str("roles:\n");
        for r in &self.roles {
            y.push_str(&format!(
                "  - name: {}\n    description: The {} role\n    permissions: {}\n",
                r.name,
                r.name,
                list(&r.permissions)
            ));
            if let Some(t) = &r.tenant {
                y.push_str(&format!("    tenant: {t}\n"));
            }
        }
        y.push_str("tenants:\n");
        for t in &self.tenants {
            y.push_str(&format!("  - id: {}\n    name: {}\n", t.id, t.name));
            if let Some(p) = &t.parent {
                y.push_str(&format!("    parent: {p}\n"));
            }
            if !t.domains.is_empty() {
                y.push_str(&format!("    domains: {}\n", list(&t.domains)));
            }
            if !t.default_roles.is_empty() {
                y.push_str(&format!("    default_roles: {}\n", list(&t.default_roles)));
            }
        }
        y
    }

    /// The emulator holds exactly this (besides its built-ins).
    fn assert_live(&self, data: &ProjectData) {
        // A fresh project has no tenants of its own.
        assert_eq!(data.tenants.len(), self.tenants.len(), "tenant count");
        for t in &self.tenants {
            let live = data
                .tenant(&t.id)
                .unwrap_or_else(|| panic!("tenant {} missing", t.id));
            assert_eq!(live.name, t.name, "{}", t.id);
            assert_eq!(
                live.parent,
                t.parent.clone().unwrap_or_default(),
                "{}",
                t.id
            );
            assert_eq!(live.self_provisioning_domains, t.domains, "{}", t.id);
            assert_eq!(live.default_roles, t.default_roles, "{}", t.id);
        }
        for (name, description) in &self.permissions {
            let p = data
                .permission(name)
                .unwrap_or_else(|| panic!("permission {name} missing"));
            assert_eq!(&p.description, description);
        }
        for r in &self.roles {
            let tenant = r.tenant.clone().unwrap_or_default();
            let live = data
                .role(&r.name, &tenant)
                .unwrap_or_else(|| panic!("role {}/{} missing", tenant, r.name));
            assert_eq!(
                live.permission_names, r.permissions,
                "{}/{}",
                tenant, r.name
            );
        }
        let names: BTreeSet<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        let ours = data
            .roles
            .iter()
            .filter(|r| names.contains(r.name.as_str()))
            .count();
        assert_eq!(ours, self.roles.len(), "role count");
    }
}

// ---------------------------------------------------------------------------------------------
// One test's world: a `TestEnv` whose config names the project and takes the key from a
// secret variable (not the SDKs' variables), environment `dev`.

pub(crate) async fn world(opts: EmulatorOptions, desired: &Desired) -> TestEnv {
    world_with_rate(opts, desired, FAST).await
}

pub(crate) async fn world_with_rate(
    opts: EmulatorOptions,
    desired: &Desired,
    rate: &str,
) -> TestEnv {
    let mut w = TestEnv::start(opts).await;
    w.vars = BTreeMap::from([
        (KEY_VAR.to_string(), w.emu().management_key().to_string()),
        ("DESCOPE_BASE_URI".to_string(), w.emu().base_url()),
    ]);
    w.env = Some(ENV.to_string());
    // The whole suite runs once more with the state in a bucket (`.ci/run`).
    if crate::moto::suite_on_s3() {
        assert!(w.use_s3("10s"), "DESCOPE_TEST_STATE=s3 needs moto_server");
    }
    write_config(&w, desired, rate);
    w
}

pub(crate) fn write_config(w: &TestEnv, desired: &Desired, rate: &str) {
    let yaml = desired.yaml(w.emu().project_id(), rate);
    // On object storage when the world is set up for it (`TestEnv::use_s3`).
    let yaml = match w.state_settings() {
        Some(state) => yaml.replacen("settings:\n", &format!("settings:\n  state: {state}\n"), 1),
        None => yaml,
    };
    w.write_config(&yaml);
}

/// Plans and saves to `<dir>/<name>.plan`.
pub(crate) async fn plan_to(w: &TestEnv, name: &str) -> (PlanFile, PathBuf) {
    let path = w.path(format!("{name}.plan"));
    let outcome = w
        .plan(PlanRequest {
            out: Some(path.clone()),
            ..PlanRequest::default()
        })
        .await
        .expect("plan");
    (outcome.plan, path)
}

pub(crate) async fn plan_has_changes(w: &TestEnv) -> bool {
    let p = w.plan(PlanRequest::default()).await.expect("plan");
    if p.plan.has_changes() {
        eprintln!(
            "unexpected changes: {:?}",
            p.plan
                .changes
                .iter()
                .map(|c| format!("{:?} {}", c.action, c.address))
                .collect::<Vec<_>>()
        );
    }
    p.plan.has_changes()
}

/// The `descope-mgmt` binary against this world, as a user or CI would run it.
pub(crate) fn cli(w: &TestEnv, args: &[&str]) -> Command {
    cli_env(w, ENV, args)
}

pub(crate) fn cli_env(w: &TestEnv, env: &str, args: &[&str]) -> Command {
    let mut cmd = w.cmd(&["--config"]);
    cmd.arg(w.config_path())
        .arg("--env")
        .arg(env)
        .arg("--state-dir")
        .arg(w.state_path())
        .arg("--no-color")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

async fn run(w: &TestEnv, args: &[&str]) -> Output {
    output(cli(w, args)).await
}

async fn apply_cli(w: &TestEnv, plan: &Path) -> Output {
    run(w, &["apply", plan.to_str().unwrap()]).await
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Paths that change data (descope-api.md §4-7). Everything else is a read.
pub(crate) fn is_write_path(path: &str) -> bool {
    [
        "/create",
        "/update",
        "/delete",
        "/patch",
        "/batch",
        "/updateDefaultRoles",
        "/import",
        "/tenant/settings",
    ]
    .iter()
    .any(|s| path.ends_with(s))
}

fn writes_in(log: &[LogEntry]) -> Vec<&LogEntry> {
    log.iter()
        .filter(|e| e.method != "GET" && is_write_path(&e.path))
        .collect()
}

fn assert_success(report: &ApplyReport) {
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.outcome.is_success())
        .map(|r| format!("{} {:?}", r.address, r.outcome))
        .collect();
    assert!(failed.is_empty(), "failed operations: {failed:#?}");
}

/// Each planned create took effect exactly once. Tenants are created one request each, so the
/// committed count must equal the planned count exactly. Roles and permissions may go in batch
/// requests, so for them: they all exist, no delete was ever committed, and the emulator refuses
/// a duplicate name, so none can have been created twice.
pub(crate) fn assert_created_once(emu: &Emulator, desired: &Desired) {
    let c = emu.counters();
    assert_eq!(
        c.writes("/v1/mgmt/tenant/create"),
        desired.tenants.len() as u64,
        "tenant creates committed: {:?}",
        c.writes_committed
    );
    let deletes: u64 = c
        .writes_committed
        .iter()
        .filter(|(p, _)| p.contains("delete"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(deletes, 0, "{:?}", c.writes_committed);
    let default_role_ops = desired
        .tenants
        .iter()
        .filter(|t| !t.default_roles.is_empty())
        .count() as u64;
    assert_eq!(
        c.writes("/v1/mgmt/tenant/updateDefaultRoles"),
        default_role_ops,
        "default-role updates committed"
    );
    desired.assert_live(&emu.data());
}

// ---------------------------------------------------------------------------------------------
// Plan, apply, plan again.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_tenants_in_three_levels_apply_and_plan_again_is_empty() {
    // 10 roots × (1 + 3 children × (1 + 2 grandchildren)) = 100 tenants.
    let desired = Desired::new(10, 3, 2);
    assert_eq!(desired.tenants.len(), 100);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (plan_file, path) = plan_to(&w, "first").await;
    assert!(plan_file.changes.len() > 100 + desired.roles.len());

    let report = w.apply_in(&w.session(), &plan_file, &path).await.unwrap();
    assert_success(&report);
    assert!(!report.resumed);
    // Only creates: nothing live is changed, so a backup (if written) holds nothing.
    if let Some(b) = &report.backup {
        let backup = descope_mgmt::state::load_backup_at(&w.state(ENV), b).unwrap();
        assert!(backup.resources.is_empty(), "{:?}", backup.resources);
    }
    assert_eq!(report.rate_limited, 0);

    desired.assert_live(&w.emu().data());
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await, "plan again after apply");

    // The state records every configured address and the plan as used.
    let state = StateFile::load(&w.state(ENV)).unwrap();
    assert!(state.was_applied(&plan_file.digest));
    for t in &desired.tenants {
        assert!(state.is_managed(&format!("tenant.{}", t.id).parse().unwrap()));
    }
    // The journal ends with every operation done; one audit record.
    let journal = Journal::read(&w.state(ENV), &plan_file.digest).unwrap();
    assert!(journal.all_done(plan_file.changes.len()));
    let audit = descope_mgmt::state::read_audit(&w.state(ENV)).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].plan_digest, plan_file.digest.as_str());
}

// ---------------------------------------------------------------------------------------------
// Refusals: exit 3, and nothing written.

/// A byte changed anywhere in the plan file: the canonical-bytes check or the digest refuses it,
/// and the exit code is 3 whatever the byte became.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_modified_in_any_byte_is_refused_with_exit_3_before_any_request() {
    let desired = Desired::tiny();
    let w = world(EmulatorOptions::default(), &desired).await;
    let (_, path) = plan_to(&w, "small").await;
    let original = std::fs::read(&path).unwrap();
    let edited = w.path("edited.plan");

    // Every byte, flipped to another byte (library: the same check the CLI runs first).
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x01;
        std::fs::write(&edited, &bytes).unwrap();
        let err = PlanFile::read_verified(&edited)
            .map(|_| ())
            .expect_err(&format!("byte {i} flipped was accepted"));
        assert_eq!(
            OpError::from(err).exit_code(),
            3,
            "byte {i} ({:?}) flipped",
            original[i] as char
        );
    }

    // Through the binary: an edited value, whitespace, a byte that is not UTF-8, the digest
    // itself, a missing final newline. None of them reaches the network.
    let plan_text = String::from_utf8(original.clone()).unwrap();
    let name_at = plan_text.find("Tenant t00").unwrap();
    let digest_at = plan_text.find("\"digest\": \"sha256:").unwrap() + 20;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut b = original.clone();
    b[name_at + 7] = b'X';
    cases.push(("edited name", b));
    let mut b = original.clone();
    b.insert(name_at - 1, b' ');
    cases.push(("extra space", b));
    let mut b = original.clone();
    b[name_at] = 0xFF;
    cases.push(("not UTF-8", b));
    let mut b = original.clone();
    b[digest_at] = if b[digest_at] == b'0' { b'1' } else { b'0' };
    cases.push(("digest", b));
    let mut b = original.clone();
    b.pop();
    cases.push(("final newline", b));
    for (what, bytes) in cases {
        std::fs::write(&edited, &bytes).unwrap();
        let out = apply_cli(&w, &edited).await;
        assert_eq!(code(&out), 3, "{what}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("modified")
                || String::from_utf8_lossy(&out.stderr).contains("not a descope-mgmt plan"),
            "{what}: {}",
            text(&out)
        );
    }
    let requests_after_plan = w.emu().counters().requests;
    // Only the plan's own reads reached the emulator.
    assert!(writes_in(&w.emu().log()).is_empty());
    // The untouched file still applies.
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(w.emu().counters().requests > requests_after_plan);
}

/// Tenants t00..t02 are applied and managed; the next plan renames t00 and t01.
async fn applied_then_replanned(w: &TestEnv, desired: &mut Desired) -> (PlanFile, PathBuf) {
    let (p, path) = plan_to(w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());
    desired.tenant_mut("t00").name = "Renamed t00".into();
    desired.tenant_mut("t01").name = "Renamed t01".into();
    write_config(w, desired, FAST);
    let (p, path) = plan_to(w, "renames").await;
    let touched: BTreeSet<String> = p.changes.iter().map(|c| c.address.to_string()).collect();
    assert_eq!(
        touched,
        BTreeSet::from(["tenant.t00".to_string(), "tenant.t01".to_string()])
    );
    (p, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_touched_tenant_changed_since_planning_is_refused_with_exit_3_and_nothing_is_written() {
    let mut desired = Desired::new(3, 1, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (_, path) = applied_then_replanned(&w, &mut desired).await;

    // A console admin changes a field the config does not even manage, on a touched tenant:
    // the update would carry it (read-modify-write), so the plan is stale.
    w.emu()
        .mutate(|d| d.tenant_mut("t01").unwrap().enforce_sso = true);
    let seen = w.emu().log().len();
    let committed = w.emu().counters().writes_committed;
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tenant.t01"), "{stderr}");
    assert!(
        !stderr.contains("tenant.t00 "),
        "only the changed one is named: {stderr}"
    );
    assert!(stderr.contains("Nothing was written"), "{stderr}");
    let log = w.emu().log();
    assert!(log.len() > seen, "apply read the live project");
    assert_eq!(writes_in(&log[seen..]), Vec::<&LogEntry>::new());
    assert_eq!(w.emu().counters().writes_committed, committed);
    assert_eq!(w.emu().data().tenant("t00").unwrap().name, "Tenant t00");

    // The same through the library: a typed refusal, exit code 3.
    let err = w
        .apply_in(
            &w.session(),
            &PlanFile::read_verified(&path).unwrap(),
            &path,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(descope_mgmt::apply::verify::Refusal::Stale(s)) if s.len() == 1),
        "{err}"
    );
    assert_eq!(err.exit_code(), 3);

    // A managed field changed on a touched tenant, and a dependency deleted: refused too.
    w.emu().mutate(|d| {
        let t = d.tenant_mut("t01").unwrap();
        t.enforce_sso = false;
        t.name = "Changed in the console".into();
    });
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant.t01"));
    assert_eq!(writes_in(&w.emu().log()[seen..]), Vec::<&LogEntry>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_tenant_changed_only_warns_and_the_same_plan_twice_is_refused() {
    let mut desired = Desired::new(3, 1, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = applied_then_replanned(&w, &mut desired).await;

    // t02 is managed but not touched by this plan.
    w.emu()
        .mutate(|d| d.tenant_mut("t02").unwrap().enforce_sso = true);
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: tenant.t02 changed outside descope-mgmt"),
        "{stderr}"
    );
    assert!(!stderr.contains("tenant.t00 changed"), "{stderr}");
    let data = w.emu().data();
    assert_eq!(data.tenant("t00").unwrap().name, "Renamed t00");
    assert_eq!(data.tenant("t01").unwrap().name, "Renamed t01");
    assert!(
        data.tenant("t02").unwrap().enforce_sso,
        "untouched stays as the admin left it"
    );

    // The same plan again: used, refused, nothing written.
    let committed = w.emu().counters().writes_committed;
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already applied"),
        "{}",
        text(&out)
    );
    assert_eq!(w.emu().counters().writes_committed, committed);
    let err = w.apply_in(&w.session(), &p, &path).await.unwrap_err();
    assert!(
        matches!(
            err,
            OpError::Refused(descope_mgmt::apply::verify::Refusal::AlreadyApplied { .. })
        ),
        "{err}"
    );

    // state.json lost (a fresh clone without it, or a run that died after its last operation
    // but before saving state): the journal still shows the plan used. Refused, and state.json
    // is put right on the way (managed addresses, the plan marked used).
    let state = w.state(ENV);
    state.store().delete(&state.key("state.json")).unwrap();
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already applied"));
    assert_eq!(w.emu().counters().writes_committed, committed);
    let state = StateFile::load(&w.state(ENV)).unwrap();
    assert!(state.was_applied(&p.digest));
    for t in &desired.tenants {
        assert!(state.is_managed(&format!("tenant.{}", t.id).parse().unwrap()));
    }
    // And with state.json and the journal both gone, the fingerprint check refuses: its
    // targets now match `after`, not `before`.
    let state = w.state(ENV);
    state.store().delete(&state.key("state.json")).unwrap();
    for digest in Journal::list(&state).unwrap() {
        state
            .store()
            .delete_log(&state.journal_key(&digest).unwrap())
            .unwrap();
    }
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant.t00"));
    assert_eq!(w.emu().counters().writes_committed, committed);
}

// ---------------------------------------------------------------------------------------------
// Killed mid-way, resumed with the same plan.

/// Where to kill the apply: the `nth` request to `path` reaching `phase` in the emulator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KillPoint {
    pub(crate) phase: HookPhase,
    pub(crate) path: &'static str,
    pub(crate) nth: u64,
}

/// Runs `descope-mgmt apply PLAN` as a child process and sends it `signal` (`-KILL`, `-INT`)
/// from the emulator's hook at `point`, so the signal lands exactly there.
pub(crate) async fn apply_signalled_at(
    w: &TestEnv,
    plan: &Path,
    point: KillPoint,
    signal: &'static str,
) -> Output {
    let pid = Arc::new(AtomicU32::new(0));
    let fired = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicU64::new(0));
    {
        let (pid, fired, seen) = (pid.clone(), fired.clone(), seen.clone());
        w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
            if ev.phase != point.phase || ev.path != point.path {
                return;
            }
            if seen.fetch_add(1, Ordering::SeqCst) + 1 != point.nth {
                return;
            }
            let pid = pid.load(Ordering::SeqCst);
            // Never `kill 0`: that is the whole process group.
            if pid != 0 {
                // Marked before signalling: the test thread may see the child's end before
                // `kill` itself returns here.
                fired.store(true, Ordering::SeqCst);
                let status = Command::new("kill")
                    .args([signal, &pid.to_string()])
                    .status()
                    .expect("kill runs");
                assert!(status.success(), "kill {signal} {pid} failed");
            }
        })));
    }
    // One request in flight: the signal lands right after the nth commit with nothing else
    // about to commit behind it (an empty window would otherwise send a burst), so what the
    // journal and the emulator show afterwards is exact.
    let mut cmd = cli(w, &["--parallelism", "1", "apply", plan.to_str().unwrap()]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    pid.store(child.id(), Ordering::SeqCst);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    w.emu().set_hook(None);
    assert!(
        fired.load(Ordering::SeqCst),
        "the {signal} at {point:?} never fired ({} matching requests): {}",
        seen.load(Ordering::SeqCst),
        text(&out)
    );
    out
}

/// SIGKILL at `point`: the request's answer is never seen.
async fn apply_killed_at(w: &TestEnv, plan: &Path, point: KillPoint) {
    let out = apply_signalled_at(w, plan, point, "-KILL").await;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    w.release_dead_lock(ENV);
}

/// The journal after a kill: started, not finished, at least one operation in flight.
fn assert_partial_journal(w: &TestEnv, plan: &PlanFile) -> (usize, usize) {
    let j = Journal::read(&w.state(ENV), &plan.digest).unwrap();
    assert!(j.entries > 0, "the journal recorded nothing");
    assert!(j.is_unfinished(plan.changes.len()), "{j:?}");
    let done = (0..plan.changes.len())
        .filter(|op| j.status(*op).is_done())
        .count();
    let in_flight = (0..plan.changes.len())
        .filter(|op| j.status(*op) == OpStatus::InFlight)
        .count();
    assert!(in_flight >= 1, "the killed operation is in flight: {j:?}");
    assert!(done < plan.changes.len());
    (done, in_flight)
}

/// Plan, then apply killed at each point in turn (each re-run resuming the one before), then a
/// final re-run with the same plan that must resume and complete with exactly the desired state.
async fn kill_and_resume(points: &[KillPoint]) {
    let desired = Desired::new(3, 2, 1);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (plan_file, path) = plan_to(&w, "kill").await;
    let mut last_done = 0;
    for (i, point) in points.iter().enumerate() {
        apply_killed_at(&w, &path, *point).await;
        let (done, _) = assert_partial_journal(&w, &plan_file);
        if i > 0 {
            assert!(done >= last_done, "a resumed run keeps what was done");
        }
        last_done = done;
        assert!(
            !StateFile::load(&w.state(ENV))
                .unwrap()
                .was_applied(&plan_file.digest),
            "a killed apply is not a used plan"
        );
    }
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Resumed an interrupted apply"),
        "{}",
        text(&out)
    );
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
    let j = Journal::read(&w.state(ENV), &plan_file.digest).unwrap();
    assert!(j.all_done(plan_file.changes.len()));
    assert!(StateFile::load(&w.state(ENV))
        .unwrap()
        .was_applied(&plan_file.digest));
    // Used now: the same plan once more is refused.
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_a_tenant_create_is_handled_then_resumed() {
    kill_and_resume(&[KillPoint {
        phase: HookPhase::BeforeHandling,
        path: "/v1/mgmt/tenant/create",
        nth: 4,
    }])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_a_tenant_create_committed_then_killed_again_after_a_default_roles_update_then_resumed(
) {
    kill_and_resume(&[
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/create",
            nth: 7,
        },
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/updateDefaultRoles",
            nth: 2,
        },
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_a_role_batch_committed_then_before_a_default_roles_update_then_resumed() {
    kill_and_resume(&[
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/role/create/batch",
            nth: 1,
        },
        KillPoint {
            phase: HookPhase::BeforeHandling,
            path: "/v1/mgmt/tenant/updateDefaultRoles",
            nth: 1,
        },
    ])
    .await;
}

// ---------------------------------------------------------------------------------------------
// Faults and rate limits: the apply completes, each operation taking effect once.

/// Plans cleanly, turns `faults` on, applies through the library with `timeout` per request,
/// turns them off, and checks the outcome. Returns the emulator's log of the apply and how many
/// committed writes it lacks (answers the client gave up on: the emulator logs a request only
/// once it answers).
async fn apply_under(faults: Faults, timeout: Duration) -> (Vec<LogEntry>, u64) {
    let desired = Desired::new(3, 2, 1);
    let w = world(
        EmulatorOptions {
            seed: 7,
            ..EmulatorOptions::default()
        },
        &desired,
    )
    .await;
    let (p, path) = plan_to(&w, "faults").await;
    let seen = w.emu().log().len();
    w.emu().set_faults(faults);
    let session = w.session_with(|o| o.timeout = timeout);
    let report = w.apply_in(&session, &p, &path).await.expect("apply");
    w.emu().set_faults(Faults::default());
    assert_success(&report);
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
    assert!(StateFile::load(&w.state(ENV))
        .unwrap()
        .was_applied(&p.digest));
    let log = w.emu().log();
    let logged_commits = log
        .iter()
        .filter(|e| e.outcome.starts_with("committed") || e.outcome.contains("after commit"))
        .count() as u64;
    let commits: u64 = w.emu().counters().writes_committed.values().sum();
    (log[seen..].to_vec(), commits - logged_commits)
}

fn outcomes(log: &[LogEntry], needle: &str) -> usize {
    log.iter().filter(|e| e.outcome.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_of_requests_failing_before_touching_data() {
    let (log, _) = apply_under(
        Faults {
            fail_rate: 0.2,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(outcomes(&log, "fault: fail before") >= 3, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_of_writes_failing_or_dropped_after_committing() {
    let (log, _) = apply_under(
        Faults {
            fail_after_commit_rate: 0.2,
            after_commit: AfterCommitFault::Either,
            ..Faults::default()
        },
        Duration::from_secs(10),
    )
    .await;
    assert!(outcomes(&log, "fault: 500 after commit") >= 1, "{log:#?}");
    assert!(
        outcomes(&log, "fault: dropped after commit") >= 1,
        "{log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_of_answers_slower_than_the_client_timeout() {
    let (log, unanswered_commits) = apply_under(
        Faults {
            slow_rate: 0.2,
            slow_by: Duration::from_millis(1500),
            ..Faults::default()
        },
        Duration::from_millis(400),
    )
    .await;
    let slow_writes = log
        .iter()
        .filter(|e| e.outcome.contains("slow") && e.outcome.contains("committed"))
        .count() as u64;
    assert!(
        slow_writes + unanswered_commits >= 1,
        "no write was committed and then answered too late: {log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_fault_modes_at_once_and_a_rate_lockout() {
    let desired = Desired::new(2, 1, 0);
    let w = world(
        EmulatorOptions {
            seed: 11,
            rate: Some(descope_emulator::RateBudget::new(
                20,
                Duration::from_secs(1),
            )),
            ..EmulatorOptions::default()
        },
        &desired,
    )
    .await;
    let (p, path) = plan_to(&w, "everything").await;
    let seen = w.emu().log().len();
    w.emu().set_faults(Faults {
        fail_rate: 0.2,
        fail_after_commit_rate: 0.2,
        slow_rate: 0.2,
        slow_by: Duration::from_millis(1500),
        ..Faults::default()
    });
    let session = w.session_with(|o| o.timeout = Duration::from_millis(400));
    // Another client on the same IP uses up the window: the apply starts inside a lockout
    // (deterministically, whatever the faults do to its pace later).
    let http = reqwest::Client::new();
    for _ in 0..=20 {
        http.get(format!("{}/v1/mgmt/license", w.emu().base_url()))
            .send()
            .await
            .unwrap();
    }
    let report = w.apply_in(&session, &p, &path).await.expect("apply");
    w.emu().set_faults(Faults::default());
    assert_success(&report);
    assert!(report.rate_limited >= 1, "the lockout was hit");
    assert_created_once(w.emu(), &desired);
    let log = &w.emu().log()[seen..];
    assert!(outcomes(log, "rate-limited") >= 1);
    assert!(outcomes(log, "fault:") >= 1);
    assert!(!plan_has_changes(&w).await);
}

/// Descope's limiter (here 10 requests per 1 s window, then a 1 s lockout) with a client budget
/// far above it: 429s pause every task for `Retry-After`, and the apply still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_lockout_does_not_fail_the_apply() {
    let desired = Desired::new(2, 1, 0);
    let w = world(
        EmulatorOptions {
            rate: Some(descope_emulator::RateBudget::new(
                10,
                Duration::from_secs(1),
            )),
            ..EmulatorOptions::default()
        },
        &desired,
    )
    .await;
    let (p, path) = plan_to(&w, "lockout").await;
    let report = w.apply_in(&w.session(), &p, &path).await.expect("apply");
    assert_success(&report);
    assert!(report.rate_limited >= 1, "the client never hit the lockout");
    assert!(w.emu().counters().rate_limited >= 1);
    assert_created_once(w.emu(), &desired);
}

/// More requests than the budget allows in a window, against a limiter just above the budget:
/// the gateway spreads them, so not one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_budget_completes_with_every_request_succeeding() {
    let desired = Desired::new(2, 2, 1);
    let w = world_with_rate(
        EmulatorOptions {
            rate: Some(descope_emulator::RateBudget::new(
                20,
                Duration::from_secs(1),
            )),
            ..EmulatorOptions::default()
        },
        &desired,
        // Well under the limiter's 20/1 s, so late sends under CPU load cannot bunch up
        // enough to reach it.
        "12/1",
    )
    .await;
    let (p, path) = plan_to(&w, "burst").await;
    let seen = w.emu().log().len();
    let report = w.apply_in(&w.session(), &p, &path).await.expect("apply");
    assert_success(&report);
    let log = &w.emu().log()[seen..];
    assert!(
        log.len() > 12,
        "the apply must need more than one window's budget: {} requests",
        log.len()
    );
    let refused: Vec<&LogEntry> = log.iter().filter(|e| e.status != 200).collect();
    assert_eq!(refused, Vec::<&LogEntry>::new());
    assert_eq!(report.rate_limited, 0);
    assert_eq!(w.emu().counters().rate_limited, 0);
    assert_created_once(w.emu(), &desired);
}

// ---------------------------------------------------------------------------------------------
// The lock, and the exit codes 0 and 1.

/// Apply A is held inside its first write (holding the lock); apply B on the same environment
/// fails at once with exit 1 naming A; released, A completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_applies_on_one_environment_exactly_one_proceeds() {
    let desired = Desired::new(2, 1, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "race").await;

    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((reached_tx, release_rx))));
    w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
        if ev.phase == HookPhase::BeforeHandling && is_write_path(&ev.path) {
            // Only the first write waits; the rest pass.
            if let Some((reached, release)) = gate.lock().unwrap().take() {
                reached.send(()).unwrap();
                release.recv().unwrap();
            }
        }
    })));
    let a = cli(&w, &["apply", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let a_pid = a.id();
    let a_done = tokio::task::spawn_blocking(move || a.wait_with_output().unwrap());
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();

    let b = apply_cli(&w, &path).await;
    release_tx.send(()).unwrap();
    let a = a_done.await.unwrap();
    w.emu().set_hook(None);

    assert_eq!(code(&b), 1, "{}", text(&b));
    let b_err = String::from_utf8_lossy(&b.stderr);
    assert!(b_err.contains("another apply is running"), "{b_err}");
    assert!(
        b_err.contains(&format!("locked by process {a_pid}")),
        "names the holder: {b_err}"
    );
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_created_once(w.emu(), &desired);
    let j = Journal::read(&w.state(ENV), &p.digest).unwrap();
    assert!(j.all_done(p.changes.len()));
}

/// An operation Descope refuses fails the apply (exit 1) while the rest go through; once the
/// cause is gone, the same plan resumes and completes (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_failed_apply_exits_1_and_the_same_plan_then_completes() {
    let desired = Desired::new(3, 1, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "partial").await;
    // Someone takes t01's name while the apply runs (after its checks).
    squat_at_first_write(&w, "Tenant t01");
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Apply INCOMPLETE"), "{stdout}");
    assert!(
        stdout.contains("tenant.t01 ["),
        "the failure is named: {stdout}"
    );
    let data = w.emu().data();
    assert!(data.tenant("t00").is_some() && data.tenant("t02").is_some());
    assert!(data.tenant("t01").is_none() && data.tenant("t01-c0").is_none());
    let j = Journal::read(&w.state(ENV), &p.digest).unwrap();
    assert!(matches!(
        j.status(
            p.changes
                .iter()
                .find(|c| c.address.to_string() == "tenant.t01")
                .unwrap()
                .id
        ),
        OpStatus::Failed { .. }
    ));
    assert!(!StateFile::load(&w.state(ENV))
        .unwrap()
        .was_applied(&p.digest));

    w.emu().mutate(|d| d.tenants.retain(|t| t.id != "squatter"));
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Resumed"));
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
}

/// An unmanaged tenant named `name` appears as the first write arrives: after apply's checks
/// (which would refuse a plan the live project no longer allows), before the writes.
fn squat_at_first_write(w: &TestEnv, name: &'static str) {
    let console = w.emu().console();
    let done = Arc::new(AtomicBool::new(false));
    w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
        if ev.phase == HookPhase::BeforeHandling
            && is_write_path(&ev.path)
            && !done.swap(true, Ordering::SeqCst)
        {
            console.mutate(|d| {
                d.tenants.push(descope_emulator::Tenant {
                    id: "squatter".into(),
                    name: name.into(),
                    ..Default::default()
                })
            });
        }
    })));
}

/// The library's view of the same outcome: per-operation results, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_operation_is_a_failed_result_and_its_dependents_are_skipped() {
    let desired = Desired::new(2, 1, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "partial-lib").await;
    squat_at_first_write(&w, "Tenant t00");
    let report = w.apply_in(&w.session(), &p, &path).await.unwrap();
    assert!(!report.all_succeeded());
    let by_addr: BTreeMap<String, &OpOutcome> = report
        .results
        .iter()
        .map(|r| (r.address.to_string(), &r.outcome))
        .collect();
    assert!(
        matches!(
            by_addr["tenant.t00"],
            OpOutcome::Failed {
                status: Some(400),
                ..
            }
        ),
        "{:?}",
        by_addr["tenant.t00"]
    );
    for dependent in [
        "tenant.t00-c0",
        "role.t00/local",
        "tenant_default_roles.t00",
    ] {
        assert!(
            matches!(by_addr[dependent], OpOutcome::Skipped { .. }),
            "{dependent}: {:?}",
            by_addr[dependent]
        );
    }
    assert!(by_addr["tenant.t01"].is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_exits_1_without_writing() {
    let desired = Desired::tiny();
    let w = world(EmulatorOptions::default(), &desired).await;
    let (_, path) = plan_to(&w, "key").await;
    let mut cmd = cli(&w, &["apply", path.to_str().unwrap()]);
    cmd.env(KEY_VAR, "K2not-the-right-key");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("K2not-the-right-key"));
    // The handshake's 401 is only a warning (as in the SDKs); the first read's 401 explains.
    assert!(err.contains("management key is wrong"), "{err}");
    assert!(writes_in(&w.emu().log()).is_empty());
}

/// A plan of deletes and updates (a subtree removed from the config, renames, a role's
/// permissions changed), killed after an update and after a delete committed, then resumed:
/// every delete and update is committed exactly once and the project ends as configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_deletes_and_updates_then_resumed() {
    let mut desired = Desired::new(3, 2, 1);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    desired.tenants.retain(|t| !t.id.starts_with("t02"));
    desired.roles.retain(|r| r.tenant.as_deref() != Some("t02"));
    for id in ["t00", "t00-c0", "t01-c1-g0"] {
        desired.tenant_mut(id).name = format!("Renamed {id}");
    }
    desired.tenant_mut("t01").default_roles = vec!["role-2".into()];
    desired
        .roles
        .iter_mut()
        .find(|r| r.name == "role-1")
        .unwrap()
        .permissions = vec!["perm-4".into()];
    desired.permissions[2].1 = "A new description".into();
    write_config(&w, &desired, FAST);
    let (p, path) = plan_to(&w, "changes").await;
    let planned = |kind: &str, action: descope_mgmt::plan::Action| {
        p.changes
            .iter()
            .filter(|c| c.action == action && c.address.to_string().starts_with(kind))
            .count() as u64
    };
    use descope_mgmt::plan::Action;
    assert_eq!(planned("tenant.", Action::Delete), 5);
    assert_eq!(planned("tenant.", Action::Update), 3);
    let before = w.emu().counters().writes_committed;

    apply_killed_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/update",
            nth: 2,
        },
    )
    .await;
    assert_partial_journal(&w, &p);
    apply_killed_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/delete",
            nth: 3,
        },
    )
    .await;
    assert_partial_journal(&w, &p);

    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Resumed"));
    desired.assert_live(&w.emu().data());
    assert!(!plan_has_changes(&w).await);
    let after = w.emu().counters().writes_committed;
    let delta =
        |path: &str| after.get(path).copied().unwrap_or(0) - before.get(path).copied().unwrap_or(0);
    assert_eq!(delta("/v1/mgmt/tenant/delete"), 5, "{after:?}");
    assert_eq!(delta("/v1/mgmt/tenant/update"), 3, "{after:?}");
    assert_eq!(delta("/v1/mgmt/tenant/create"), 0, "{after:?}");
    let state = StateFile::load(&w.state(ENV)).unwrap();
    assert!(state.was_applied(&p.digest));
    assert!(!state.is_managed(&"tenant.t02".parse().unwrap()));
}

/// Resuming checks each operation against what the journal says: a finished one must still
/// match `after`, an untouched one `before`; anything else is refused (exit 3) with no write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_refuses_finished_or_untouched_operations_changed_behind_its_back() {
    let desired = Desired::new(3, 2, 1);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "kill").await;
    apply_killed_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/create",
            nth: 5,
        },
    )
    .await;
    let j = Journal::read(&w.state(ENV), &p.digest).unwrap();
    let tenant_ops = |want: fn(&OpStatus) -> bool| -> Vec<String> {
        p.changes
            .iter()
            .filter(|c| c.address.kind().as_str() == "tenant")
            .filter(|c| want(&j.status(c.id)))
            .map(|c| {
                c.address
                    .to_string()
                    .trim_start_matches("tenant.")
                    .to_string()
            })
            .collect()
    };
    let done = tenant_ops(|s| s.is_done());
    let untouched = tenant_ops(|s| *s == OpStatus::Untouched);
    assert!(!done.is_empty() && !untouched.is_empty(), "{j:?}");
    let committed = w.emu().counters().writes_committed;

    // A finished create renamed in the console.
    let finished = done[0].clone();
    let old_name = w.emu().mutate(|d| {
        let t = d.tenant_mut(&finished).unwrap();
        std::mem::replace(&mut t.name, "Renamed in the console".into())
    });
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("tenant.{finished}")));
    assert_eq!(w.emu().counters().writes_committed, committed);
    w.emu()
        .mutate(|d| d.tenant_mut(&finished).unwrap().name = old_name);

    // A tenant the plan has not reached yet created by someone else.
    let pending = untouched.last().unwrap().clone();
    w.emu().mutate(|d| {
        d.tenants.push(descope_emulator::Tenant {
            id: pending.clone(),
            name: "Someone else's".into(),
            ..Default::default()
        })
    });
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("tenant.{pending}")));
    assert_eq!(w.emu().counters().writes_committed, committed);
    w.emu().mutate(|d| d.tenants.retain(|t| t.id != pending));

    // Put back as it was: the resume goes through.
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
}

/// Updates and deletes (single and batched) under all three fault modes at 20 %: every
/// operation takes effect exactly once — a batch that committed and then failed is read back,
/// not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_deletes_under_faults_take_effect_exactly_once() {
    let mut desired = Desired::new(3, 1, 0);
    let w = world(
        EmulatorOptions {
            seed: 3,
            ..EmulatorOptions::default()
        },
        &desired,
    )
    .await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    // Three permission updates and two role updates (batchable), a subtree and its tenant
    // role deleted, two tenants renamed.
    for i in 0..3 {
        desired.permissions[i].1 = format!("Changed description {i}");
    }
    for name in ["role-0", "role-3"] {
        desired
            .roles
            .iter_mut()
            .find(|r| r.name == name)
            .unwrap()
            .permissions = vec!["perm-5".into()];
    }
    desired.tenants.retain(|t| !t.id.starts_with("t02"));
    desired.roles.retain(|r| r.tenant.as_deref() != Some("t02"));
    desired.tenant_mut("t00").name = "Renamed t00".into();
    desired.tenant_mut("t01-c0").name = "Renamed t01-c0".into();
    write_config(&w, &desired, FAST);
    let (p, path) = plan_to(&w, "changes").await;
    let before = w.emu().counters().writes_committed;

    w.emu().set_faults(Faults {
        fail_rate: 0.2,
        fail_after_commit_rate: 0.2,
        slow_rate: 0.2,
        slow_by: Duration::from_millis(1200),
        ..Faults::default()
    });
    let session = w.session_with(|o| o.timeout = Duration::from_millis(400));
    let report = w.apply_in(&session, &p, &path).await.expect("apply");
    w.emu().set_faults(Faults::default());
    assert_success(&report);
    desired.assert_live(&w.emu().data());
    assert!(!plan_has_changes(&w).await);

    // The backup holds what the plan changed or deleted, as it was before.
    let backup =
        descope_mgmt::state::load_backup_at(&w.state(ENV), &report.backup.unwrap()).unwrap();
    let backed_up = |a: &str| {
        backup
            .resources
            .iter()
            .find(|r| r.address.to_string() == a)
            .map(|r| r.object.clone())
    };
    assert_eq!(backed_up("tenant.t00").unwrap()["name"], "Tenant t00");
    assert!(backed_up("tenant.t02-c0").is_some());
    assert!(backed_up("role.t02/local").is_some());
    assert!(backed_up("tenant.t01").is_none(), "untouched");

    let after = w.emu().counters().writes_committed;
    let n =
        |path: &str| after.get(path).copied().unwrap_or(0) - before.get(path).copied().unwrap_or(0);
    assert_eq!(n("/v1/mgmt/tenant/update"), 2, "{after:?}");
    assert_eq!(n("/v1/mgmt/tenant/delete"), 2, "{after:?}");
    assert_eq!(n("/v1/mgmt/tenant/create"), 0, "{after:?}");
    // Members applied: a batch counts once per member.
    assert_eq!(
        n("/v1/mgmt/permission/update/batch") * 3 + n("/v1/mgmt/permission/update"),
        3,
        "{after:?}"
    );
    assert_eq!(
        n("/v1/mgmt/role/update/batch") * 2 + n("/v1/mgmt/role/update"),
        2,
        "{after:?}"
    );
}

/// The other refusals of the contract, each exit 3 with nothing written: a plan for another
/// environment, for another project, and a `${secret:VAR}` whose value changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_for_another_environment_project_or_secret_value_are_refused_with_exit_3() {
    let desired = Desired::tiny();
    let w = world(EmulatorOptions::default(), &desired).await;
    let base = desired.yaml(w.emu().project_id(), FAST);
    // A second environment on the same project, and a tenant attribute from a secret.
    let yaml = base
        .replacen(
            "permissions:\n",
            &format!(
                "  stage:\n    project_id: {}\n    management_key: ${{secret:{KEY_VAR}}}\npermissions:\n",
                w.emu().project_id()
            ),
            1,
        )
        .replace(
            "    name: Tenant t00\n",
            "    name: Tenant t00\n    custom_attributes:\n      token: ${secret:TENANT_TOKEN}\n",
        );
    w.write_config(&yaml);
    let path = w.path("secret.plan");
    let mut plan_cmd = cli(&w, &["plan", "-out", path.to_str().unwrap()]);
    plan_cmd.env("TENANT_TOKEN", "first-value");
    let out = tokio::task::spawn_blocking(move || plan_cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let plan_text = std::fs::read_to_string(&path).unwrap();
    assert!(!plan_text.contains("first-value"), "no secret in the plan");

    let run = |args: Vec<String>, token: Option<&'static str>| {
        let env = if args.first().map(String::as_str) == Some("--env") {
            args[1].clone()
        } else {
            ENV.to_string()
        };
        let args: Vec<String> = if env == ENV { args } else { args[2..].to_vec() };
        let mut cmd = cli_env(&w, &env, &[]);
        cmd.args(&args);
        match token {
            Some(t) => cmd.env("TENANT_TOKEN", t),
            None => cmd.env_remove("TENANT_TOKEN"),
        };
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let apply = |extra: &[&str]| {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(["apply".to_string(), path.to_str().unwrap().to_string()]);
        v
    };

    let out = run(apply(&["--env", "stage"]), Some("first-value"))
        .await
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("environment `dev`"));

    let out = run(apply(&[]), Some("second-value")).await.unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("secret TENANT_TOKEN changed"), "{stderr}");
    assert!(
        !stderr.contains("first-value") && !stderr.contains("second-value"),
        "{stderr}"
    );

    // Unset, it is an invalid configuration (docs/config.md: apply needs secret variables set
    // like plan does): exit 1, before any network.
    let out = run(apply(&[]), None).await.unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`TENANT_TOKEN` is not set"));
    assert!(writes_in(&w.emu().log()).is_empty());

    // Another project (another emulator, its own key) with this plan: refused before writing.
    let other = Emulator::start(EmulatorOptions {
        project_id: "P2anotherproject000000000000".into(),
        management_key: "K2another-key".into(),
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    w.write_config(&yaml.replace(w.emu().project_id(), other.project_id()));
    let mut cmd = cli(&w, &["apply", path.to_str().unwrap()]);
    cmd.env(KEY_VAR, other.management_key())
        .env("DESCOPE_BASE_URI", other.base_url())
        .env("TENANT_TOKEN", "first-value");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plan is for project"));
    assert!(writes_in(&other.log()).is_empty());

    // And with everything as planned, it applies.
    w.write_config(&yaml);
    let out = run(apply(&[]), Some("first-value")).await.unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        w.emu().data().tenant("t00").unwrap().custom_attributes["token"],
        "first-value"
    );
}

/// `apply --auto-approve` without a plan file keeps the plan it made under
/// `state/<env>/plans/`, so when it is killed the same plan can be resumed from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implicit_plan_killed_mid_apply_is_resumed_from_the_state_directory() {
    let desired = Desired::new(3, 1, 1);
    let w = world(EmulatorOptions::default(), &desired).await;
    let pid = Arc::new(AtomicU32::new(0));
    {
        let pid = pid.clone();
        let seen = AtomicU64::new(0);
        w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
            if ev.phase == HookPhase::AfterCommit
                && ev.path == "/v1/mgmt/tenant/create"
                && seen.fetch_add(1, Ordering::SeqCst) + 1 == 3
            {
                let pid = pid.load(Ordering::SeqCst);
                assert_ne!(pid, 0);
                Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap();
            }
        })));
    }
    let child = cli(&w, &["apply", "--auto-approve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    pid.store(child.id(), Ordering::SeqCst);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    w.emu().set_hook(None);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    w.release_dead_lock(ENV);

    let state = w.state(ENV);
    let plans: Vec<PathBuf> = state
        .store()
        .list(&state.key("plans"))
        .unwrap()
        .iter()
        .map(|name| state.plans_dir().join(name))
        .collect();
    assert_eq!(plans.len(), 1, "{plans:?}");
    let saved = PlanFile::parse_verified(
        &String::from_utf8(state.read_saved_plan(&plans[0]).unwrap()).unwrap(),
        &plans[0],
    )
    .unwrap();
    assert_partial_journal(&w, &saved);

    let out = apply_cli(&w, &plans[0]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Resumed"));
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
}

/// Without a plan file `apply` plans and asks; with no terminal to ask on and no
/// `--auto-approve`, it stops with exit 1 before writing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_plan_file_or_a_terminal_exits_1_without_writing() {
    let desired = Desired::tiny();
    let w = world(EmulatorOptions::default(), &desired).await;
    let out = run(&w, &["apply"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto-approve"));
    assert!(writes_in(&w.emu().log()).is_empty());
    assert!(plan_has_changes(&w).await);

    let out = run(&w, &["apply", "--auto-approve"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(!plan_has_changes(&w).await);
    // Nothing left to do: still exit 0.
    let out = run(&w, &["apply", "--auto-approve"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"));
}

/// A replace is a delete then a create: killed between the two, the tenant is absent, which
/// is neither `before` nor `after`; the resume must finish it (create), not refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_killed_between_its_delete_and_create_is_resumed() {
    let mut desired = with_team_role(Desired::new(2, 1, 0));
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    // Moving a tenant to another parent is a replace, allowed explicitly.
    desired.tenant_mut("t00-c0").parent = Some("t01".into());
    write_config(&w, &desired, FAST);
    let path = w.path("replace.plan");
    let out = run(
        &w,
        &[
            "plan",
            "-out",
            path.to_str().unwrap(),
            "--allow-replace",
            "tenant.t00-c0",
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let p = PlanFile::read_verified(&path).unwrap();
    assert!(p
        .changes
        .iter()
        .any(|c| c.action == descope_mgmt::plan::Action::Replace));

    apply_killed_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/delete",
            nth: 1,
        },
    )
    .await;
    assert_partial_journal(&w, &p);
    assert!(w.emu().data().tenant("t00-c0").is_none(), "killed half-way");

    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    desired.assert_live(&w.emu().data());
    assert!(!plan_has_changes(&w).await);
}

/// `t00-c0` with a tenant role of its own (it already has default roles).
fn with_team_role(mut d: Desired) -> Desired {
    d.roles.push(RoleSpec {
        name: "team".into(),
        tenant: Some("t00-c0".into()),
        permissions: vec!["perm-5".into()],
    });
    d
}

/// Deleting a tenant deletes its tenant roles and default-role list; a replace must write them
/// again, so that after the apply the next plan is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_writes_again_the_tenant_roles_and_default_roles_it_deletes() {
    let mut desired = with_team_role(Desired::new(2, 1, 0));
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    desired.tenant_mut("t00-c0").parent = Some("t01".into());
    write_config(&w, &desired, FAST);
    let outcome = plan(
        &w.session(),
        &PlanRequest {
            out: Some(w.path("replace.plan")),
            allow_replace: vec!["tenant.t00-c0".into()],
            ..PlanRequest::default()
        },
    )
    .await
    .unwrap();
    let planned: BTreeMap<String, descope_mgmt::plan::Action> = outcome
        .plan
        .changes
        .iter()
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    use descope_mgmt::plan::Action;
    assert_eq!(
        planned,
        BTreeMap::from([
            ("tenant.t00-c0".to_string(), Action::Replace),
            ("role.t00-c0/team".to_string(), Action::Create),
            // Re-set on the tenant created again: a create, like its roles (plan.rs decides).
            ("tenant_default_roles.t00-c0".to_string(), Action::Create),
        ])
    );
    let report = w
        .apply_in(&w.session(), &outcome.plan, &w.path("replace.plan"))
        .await
        .unwrap();
    assert_success(&report);
    desired.assert_live(&w.emu().data());
    assert_eq!(w.emu().data().tenant("t00-c0").unwrap().parent, "t01");
    assert!(!plan_has_changes(&w).await);
}

/// A resource the plan only depends on (a new child's parent, a new role's permission) deleted
/// between plan and apply: refused (exit 3), nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_deleted_since_planning_is_refused_with_exit_3() {
    let mut desired = Desired::new(2, 0, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    desired.tenants.push(TenantSpec {
        id: "t01-new".into(),
        name: "New child".into(),
        parent: Some("t01".into()),
        domains: vec![],
        default_roles: vec![],
    });
    desired.roles.push(RoleSpec {
        name: "role-new".into(),
        tenant: None,
        permissions: vec!["perm-3".into()],
    });
    write_config(&w, &desired, FAST);
    let (p, path) = plan_to(&w, "additions").await;
    assert_eq!(p.changes.len(), 2, "{:?}", p.changes);
    assert!(p.dependencies.keys().any(|a| a.to_string() == "tenant.t01"));

    let seen = w.emu().log().len();
    w.emu()
        .mutate(|d| d.permissions.retain(|p| p.name != "perm-3"));
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission.perm-3"));
    w.emu().mutate(|d| d.tenants.retain(|t| t.id != "t01"));
    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tenant.t01 "), "{stderr}");
    assert!(stderr.contains("deleted since planning"), "{stderr}");
    assert_eq!(writes_in(&w.emu().log()[seen..]), Vec::<&LogEntry>::new());
}

/// Ctrl-C during apply (design.md §1: an interrupt exits 1): nothing new starts, what is in
/// flight finishes and is journaled, the rest is reported as not started, and the same plan
/// then resumes and completes. The SIGINT is sent from the emulator's hook while the first
/// tenant create is being answered, so plenty of dependent work remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_cleanly_with_exit_1_and_the_plan_resumes() {
    let desired = Desired::new(3, 2, 1);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (plan_file, path) = plan_to(&w, "interrupt").await;
    let out = apply_signalled_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/create",
            nth: 1,
        },
        "-INT",
    )
    .await;
    assert_eq!(code(&out), 1, "an interrupt exits 1: {}", text(&out));
    assert!(text(&out).contains("Interrupted"), "{}", text(&out));

    // Stopped cleanly: nothing left in flight, something left untouched.
    let j = Journal::read(&w.state(ENV), &plan_file.digest).unwrap();
    let statuses: Vec<OpStatus> = (0..plan_file.changes.len())
        .map(|op| j.status(op))
        .collect();
    assert!(!statuses.contains(&OpStatus::InFlight), "{statuses:?}");
    assert!(statuses.contains(&OpStatus::Untouched), "{statuses:?}");
    assert!(statuses.iter().any(OpStatus::is_done), "{statuses:?}");

    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
}

/// Two tenants swapping their names go through a temporary name (design.md §2). Killed right
/// after the temporary rename committed, the same plan must still resume and finish: the
/// later update of that tenant now starts from the temporary state, not from `before`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_killed_after_its_temporary_step_resumes() {
    let mut desired = Desired::new(2, 0, 0);
    let w = world(EmulatorOptions::default(), &desired).await;
    let (p, path) = plan_to(&w, "initial").await;
    assert_success(&w.apply_in(&w.session(), &p, &path).await.unwrap());

    let a = desired.tenant_mut("t00").name.clone();
    let b = desired.tenant_mut("t01").name.clone();
    desired.tenant_mut("t00").name = b.clone();
    desired.tenant_mut("t01").name = a.clone();
    write_config(&w, &desired, FAST);
    let (swap, path) = plan_to(&w, "swap").await;
    let updates = swap
        .changes
        .iter()
        .filter(|c| c.action == descope_mgmt::plan::Action::Update)
        .count();
    assert_eq!(updates, 3, "a swap is a temporary update and two real ones");

    apply_killed_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/update",
            nth: 1,
        },
    )
    .await;
    assert_partial_journal(&w, &swap);

    let out = apply_cli(&w, &path).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let data = w.emu().data();
    assert_eq!(data.tenant("t00").unwrap().name, b);
    assert_eq!(data.tenant("t01").unwrap().name, a);
    assert!(!plan_has_changes(&w).await);
}
