//! Issue 4 ("plan") end to end: the library's plan/apply against the in-process emulator
//! (strict, port 0, loopback), and the real binary where the CLI contract matters.
//!
//! Every test gets its own temp dir and emulator. Golden files live in `tests/golden/plan/`;
//! `UPDATE_GOLDEN=1 cargo test --test integration plan::` rewrites them (review the diff
//! before committing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use descope_emulator::{EmulatorOptions, DEFAULT_PROJECT_ID};
use descope_mgmt::apply::execute::NoProgress;
use descope_mgmt::model::Address;
use descope_mgmt::ops::apply::{apply, ApplyReport, ApplyRequest};
use descope_mgmt::ops::plan::PlanRequest;
use descope_mgmt::ops::OpError;
use descope_mgmt::plan::{Action, PlanFile};

use serde_json::{json, Value};

use crate::util::files_under;
use crate::util::TestEnv;

/// A distinctive key so a leak is unmistakable when output is scanned for it.
const KEY: &str = "K2plantests-mgmt-key-LEAKCHECK-3f9a7c";
const PROJECT: &str = DEFAULT_PROJECT_ID;
/// Every test config starts with this: a generous budget so tests never wait on the limiter.
const HEADER: &str = "version: 1\nsettings:\n  rate_limit: 6000/60\n  parallelism: 4\n";

/// A fresh project on an emulator with this file's key, credentials through the SDKs'
/// variables (the config has no `environments:`) unless a test's config names them itself.
async fn start() -> TestEnv {
    TestEnv::start(EmulatorOptions {
        management_key: KEY.to_string(),
        seed: 4,
        ..EmulatorOptions::default()
    })
    .await
}

fn configure(h: &TestEnv, body: &str) {
    h.write_config(&format!("{HEADER}{body}"));
}

async fn plan_ok(h: &TestEnv) -> PlanFile {
    h.plan(PlanRequest::default())
        .await
        .expect("plan succeeds")
        .plan
}

/// Applies `p` and insists every operation succeeded.
async fn apply_ok(h: &TestEnv, p: PlanFile) -> ApplyReport {
    // Apply takes only a plan read back from disk: save it as `plan -out` would.
    std::fs::write(h.path("plan.plan"), p.to_canonical_string()).unwrap();
    let report = h.apply(&p, &h.path("plan.plan")).await.expect("apply runs");
    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.outcome.is_success())
        .map(|r| format!("{}: {:?}", r.address, r.outcome))
        .collect();
    assert!(failed.is_empty(), "apply failed: {failed:#?}");
    report
}

/// Plan and apply the current config; the next plan must be empty.
async fn converge(h: &TestEnv) {
    let p = plan_ok(h).await;
    assert!(p.has_changes());
    apply_ok(h, p).await;
    let again = plan_ok(h).await;
    assert!(!again.has_changes(), "not converged: {:#?}", again.changes);
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

/// Position of each address in the plan's execution order.
fn positions(p: &PlanFile) -> BTreeMap<String, usize> {
    p.changes
        .iter()
        .map(|c| (c.address.to_string(), c.id))
        .collect()
}

/// `(address, field)` of every field-level change.
fn field_set(p: &PlanFile) -> BTreeSet<(String, String)> {
    p.changes
        .iter()
        .flat_map(|c| {
            c.fields
                .iter()
                .map(move |f| (c.address.to_string(), f.field.clone()))
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, f)| (a.to_string(), f.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. A large config: valid creation order, exact field changes, --detailed-exitcode

/// 100 tenants in three levels (10 roots × 3 children × 2 grandchildren), 20 permissions,
/// 10 roles (5 of them tenant-scoped) and default roles using both kinds. `edited` changes a
/// handful of fields, listed in `EDITS`.
fn big_config(edited: bool) -> String {
    let mut s = String::from("permissions:\n");
    for i in 0..20 {
        let desc = if edited && i == 7 {
            "Permission seven, reworded".to_string()
        } else {
            format!("Permission {i}")
        };
        s += &format!("  - name: perm-{i:02}\n    description: {desc}\n");
    }
    s += "roles:\n";
    for i in 0..5 {
        let mut perms: Vec<String> = (0..3).map(|k| format!("perm-{:02}", i * 3 + k)).collect();
        if edited && i == 2 {
            perms.push("perm-19".into());
        }
        s += &format!(
            "  - name: role-{i}\n    description: Project role {i}\n    permissions: [{}]\n",
            perms.join(", ")
        );
    }
    for (i, tenant) in ["r00", "r01", "r00-c0", "r02-c1-g0", "r03"]
        .iter()
        .enumerate()
    {
        let desc = if edited && i == 0 {
            "Tenant role, reworded".to_string()
        } else {
            format!("Tenant role {i}")
        };
        s += &format!(
            "  - name: tr-{i}\n    tenant: {tenant}\n    description: {desc}\n    permissions: [perm-{:02}]\n",
            15 + i
        );
    }
    s += "tenants:\n";
    // Children before parents in the file: the plan must order them anyway.
    for r in (0..10).rev() {
        for c in 0..3 {
            for g in 0..2 {
                s += &format!(
                    "  - id: r{r:02}-c{c}-g{g}\n    name: Root {r:02} Child {c} Grand {g}\n    parent: r{r:02}-c{c}\n"
                );
                if r == 2 && c == 1 && g == 0 {
                    s += "    default_roles: [tr-3, role-0]\n";
                }
            }
            s += &format!(
                "  - id: r{r:02}-c{c}\n    name: Root {r:02} Child {c}\n    parent: r{r:02}\n"
            );
            if r == 1 && c == 2 {
                s += if edited {
                    "    domains: [c2.r01.example.com, extra.r01.example.com]\n"
                } else {
                    "    domains: [c2.r01.example.com]\n"
                };
            }
            if r == 0 && c == 0 {
                s += if edited {
                    "    default_roles: [role-1, role-2]\n"
                } else {
                    "    default_roles: [role-1, tr-2]\n"
                };
            }
        }
        let name = if edited && r == 5 {
            "Root 05 Renamed".to_string()
        } else {
            format!("Root {r:02}")
        };
        s += &format!("  - id: r{r:02}\n    name: {name}\n    domains: [r{r:02}.example.com]\n");
        if r == 0 {
            s += "    default_roles: [tr-0, role-0]\n";
        }
        if r == 2 && edited {
            s += "    disabled: true\n";
        }
    }
    s
}

const EDITS: &[(&str, &str)] = &[
    ("permission.perm-07", "description"),
    ("role.role-2", "permissions"),
    ("role.r00/tr-0", "description"),
    ("tenant.r01-c2", "domains"),
    ("tenant.r02", "disabled"),
    ("tenant.r05", "name"),
    ("tenant_default_roles.r00-c0", "default_roles"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_config_creates_in_dependency_order_then_plans_exactly_the_edits() {
    let h = start().await;
    configure(&h, &big_config(false));

    let first = plan_ok(&h).await;
    let n = first.changes.len();
    let kinds = |k: &str| {
        first
            .changes
            .iter()
            .filter(|c| c.address.kind().as_str() == k)
            .count()
    };
    assert_eq!(kinds("tenant"), 100);
    assert_eq!(kinds("permission"), 20);
    assert_eq!(kinds("role"), 10);
    assert_eq!(kinds("tenant_default_roles"), 3);
    assert_eq!(n, 133);
    assert!(first.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(first.summary.create, 133);

    // Ids are execution positions; every dependency comes earlier.
    for (i, c) in first.changes.iter().enumerate() {
        assert_eq!(c.id, i);
        for &d in &c.depends_on {
            assert!(d < c.id, "{} (#{}) depends on later #{d}", c.address, c.id);
        }
    }
    let pos = positions(&first);
    let depends = |a: &str, on: &str| {
        let (ia, ib) = (pos[a], pos[on]);
        assert!(ib < ia, "{on} (#{ib}) must come before {a} (#{ia})");
        assert!(
            first.changes[ia].depends_on.contains(&ib),
            "{a} must record its dependency on {on}"
        );
    };
    for r in 0..10 {
        for c in 0..3 {
            depends(&format!("tenant.r{r:02}-c{c}"), &format!("tenant.r{r:02}"));
            for g in 0..2 {
                depends(
                    &format!("tenant.r{r:02}-c{c}-g{g}"),
                    &format!("tenant.r{r:02}-c{c}"),
                );
            }
        }
    }
    for i in 0..5 {
        for k in 0..3 {
            depends(
                &format!("role.role-{i}"),
                &format!("permission.perm-{:02}", i * 3 + k),
            );
        }
    }
    for (i, t) in ["r00", "r01", "r00-c0", "r02-c1-g0", "r03"]
        .iter()
        .enumerate()
    {
        depends(&format!("role.{t}/tr-{i}"), &format!("tenant.{t}"));
        depends(
            &format!("role.{t}/tr-{i}"),
            &format!("permission.perm-{:02}", 15 + i),
        );
    }
    for (dr, needs) in [
        ("r00", ["tenant.r00", "role.r00/tr-0", "role.role-0"]),
        (
            "r00-c0",
            ["tenant.r00-c0", "role.role-1", "role.r00-c0/tr-2"],
        ),
        (
            "r02-c1-g0",
            ["tenant.r02-c1-g0", "role.r02-c1-g0/tr-3", "role.role-0"],
        ),
    ] {
        for on in needs {
            depends(&format!("tenant_default_roles.{dr}"), on);
        }
    }
    // Creates carry exactly what the config says, nothing else.
    let grand = &first.changes[pos["tenant.r02-c1-g0"]];
    assert_eq!(
        grand.after,
        Some(
            json!({"id": "r02-c1-g0", "name": "Root 02 Child 1 Grand 0", "parent": "r02-c1",
                     "selfProvisioningDomains": [], "enforceSSO": false, "disabled": false})
        )
    );
    assert!(first.fingerprints.values().all(|f| f.as_str() == "absent"));

    // The whole plan applies against the strict emulator, in that order.
    apply_ok(&h, first).await;
    let data = h.emu().data();
    assert_eq!(data.tenants.len(), 100);
    assert_eq!(data.depth("r09-c2-g1"), 3);
    assert_eq!(data.tenant("r00").unwrap().default_roles.len(), 2);

    // Nothing changed: no changes, exit 0.
    assert!(!plan_ok(&h).await.has_changes());
    let o = h.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("No changes."), "{}", stdout(&o));

    // A few fields edited: exactly those fields, all in-place updates; exit 2.
    configure(&h, &big_config(true));
    let second = plan_ok(&h).await;
    assert_eq!(field_set(&second), pairs(EDITS));
    assert!(second.changes.iter().all(|c| c.action == Action::Update));
    assert_eq!(second.changes.len(), EDITS.len());
    // What the updates need but do not touch is recorded as existing; what they touch, by
    // the live fingerprint they were planned against.
    for dep in [
        "permission.perm-19",
        "tenant.r00",
        "permission.perm-15",
        "role.role-1",
    ] {
        assert_eq!(
            second.dependencies.get(&addr(dep)).map(|e| e.as_str()),
            Some("exists"),
            "{dep}"
        );
    }
    for (a, _) in EDITS {
        assert!(
            second.fingerprints[&addr(a)]
                .as_str()
                .starts_with("sha256:"),
            "{a}"
        );
    }
    let o = h.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // Without the flag, changes are not an error.
    let o = h.run(&["plan"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    apply_ok(&h, second).await;
    assert!(!plan_ok(&h).await.has_changes());
    let o = h.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// 2. Reproducible plans, a digest over every byte, and apply refusing an edited file

/// A small config with something of every managed kind.
const SMALL: &str = r#"
permissions:
  - name: docs.read
    description: Read documents
  - name: docs.write
roles:
  - name: writer
    description: Writes
    permissions: [docs.read, docs.write]
  - name: admin
    tenant: acme
    permissions: [docs.write]
tenants:
  - id: acme
    name: Acme
    domains: [acme.example.com]
    custom_attributes:
      plan: gold
    default_roles: [admin, writer]
  - id: acme-eu
    name: Acme EU
    parent: acme
"#;

fn blank_volatile(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    v["created_at"] = json!("");
    v["digest"] = json!("");
    serde_json::to_string_pretty(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_inputs_same_plan_and_the_digest_seals_every_byte() {
    let h = start().await;
    configure(&h, SMALL);
    // Something to update and something to create, so before/after and fingerprints are in.
    converge(&h).await;
    configure(
        &h,
        &SMALL
            .replace("Read documents", "Read all documents")
            .replace(
                "  - id: acme-eu",
                "  - id: globex\n    name: Globex\n  - id: acme-eu",
            ),
    );

    let mut texts = Vec::new();
    for name in ["one.plan", "two.plan"] {
        let out = h
            .plan(PlanRequest {
                out: Some(h.path(name)),
                ..PlanRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(out.saved_to.as_deref(), Some(h.path(name).as_path()));
        texts.push(std::fs::read_to_string(h.path(name)).unwrap());
    }
    assert_eq!(blank_volatile(&texts[0]), blank_volatile(&texts[1]));
    // The binary writes the same plan.
    let o = h.run(&["plan", "-out", "three.plan"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let three = std::fs::read_to_string(h.path("three.plan")).unwrap();
    assert_eq!(blank_volatile(&texts[0]), blank_volatile(&three));

    let text = &texts[0];
    let plan = PlanFile::parse_verified(text, Path::new("one.plan")).unwrap();
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    assert_eq!(plan.to_canonical_string(), *text);
    assert!(plan.digest.starts_with("sha256:") && plan.digest.len() == 7 + 64);

    // Any change of any body byte changes the digest: flip each string leaf of each change
    // in turn and reseal.
    let mut seen = BTreeSet::from([plan.digest.clone()]);
    let original: Value = serde_json::from_str(text).unwrap();
    let mut leaves = Vec::new();
    string_leaves(&original, "", &mut leaves);
    leaves.retain(|p| p != "/digest");
    assert!(leaves.len() > 20, "{leaves:?}");
    for pointer in &leaves {
        let mut v = original.clone();
        let s = v.pointer_mut(pointer).unwrap();
        *s = json!(format!("{}x", s.as_str().unwrap()));
        let edited: PlanFile = serde_json::from_value(v).unwrap();
        assert!(
            seen.insert(edited.seal().digest),
            "digest unchanged after editing {pointer}"
        );
    }

    // Apply refuses edited files with exit 3 before touching anything: a changed value (the
    // file stays canonical, so the digest check catches it), and a whitespace-only edit.
    let requests_before = h.emu().counters().requests;
    let tampered = text.replacen("Read all documents", "Read all documentz", 1);
    assert_ne!(&tampered, text);
    h.write("tampered.plan", &tampered);
    let o = h.run(&["apply", "tampered.plan", "--auto-approve"]).await;
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("was modified"), "{}", stderr(&o));
    h.write("spaced.plan", &text.replacen("{\n", "{ \n", 1));
    let o = h.run(&["apply", "spaced.plan", "--auto-approve"]).await;
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("canonical"), "{}", stderr(&o));
    assert_eq!(
        h.emu().counters().requests,
        requests_before,
        "refused before any request"
    );

    // The untouched file applies.
    let o = h.run(&["apply", "one.plan", "--auto-approve"]).await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        h.emu().data().permission("docs.read").unwrap().description,
        "Read all documents"
    );
}

fn string_leaves(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::String(_) => out.push(at.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| string_leaves(x, &format!("{at}/{i}"), out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            // Enum tags (action, reason kind) must stay valid to deserialize.
            if !matches!(k.as_str(), "action" | "kind" | "address") && !at.ends_with("/reason") {
                let k = k.replace('~', "~0").replace('/', "~1");
                string_leaves(x, &format!("{at}/{k}"), out)
            }
        }),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Read-modify-write: console changes to unmanaged fields survive; ignore_changes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_changes_to_unmanaged_fields_survive_an_update() {
    let h = start().await;
    let config = r#"
permissions:
  - name: docs.read
roles:
  - name: reader
    description: Reads
    permissions: [docs.read]
  - name: helper
    tenant: acme
    description: Helps
  - name: curated
    description: Curated
    permissions: [docs.read]
    ignore_changes: [permissions]
tenants:
  - id: acme
    name: Acme
    domains: [acme.example.com]
  - id: quiet
    name: Quiet
    custom_attributes:
      tier: free
    ignore_changes: [name, custom_attributes]
"#;
    configure(&h, config);
    converge(&h).await;

    // An admin changes fields the config does not manage: over the API, as the console does…
    let patched = reqwest::Client::new()
        .patch(format!("{}/v1/mgmt/tenant/patch", h.emu().base_url()))
        .header("Authorization", format!("Bearer {PROJECT}:{KEY}"))
        .json(&json!({"id": "acme", "customAttributes": {"crm": "sf-001"},
                      "enforceSSOExclusions": ["U2admin"]}))
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success(), "{patched:?}");
    // …and behind its back.
    h.emu().mutate(|d| {
        let t = d.tenant_mut("acme").unwrap();
        t.federated_app_ids = vec!["app-1".into()];
        t.role_inheritance = "userOnly".into();
        for r in d.roles.iter_mut() {
            if r.name == "reader" || r.name == "helper" {
                r.default = true;
                r.private = true;
            }
        }
        // …and fields the config ignores.
        for r in d.roles.iter_mut().filter(|r| r.name == "curated") {
            r.permission_names.push("User Admin".into());
        }
        let q = d.tenant_mut("quiet").unwrap();
        q.name = "Quiet (renamed by the customer)".into();
        q.custom_attributes.insert("tier".into(), json!("pro"));
    });
    // Console edits of unmanaged or ignored fields are not changes.
    let p = plan_ok(&h).await;
    assert!(!p.has_changes(), "{:#?}", p.changes);

    // Managed fields change in the config.
    configure(
        &h,
        &config
            .replace("name: Acme\n", "name: Acme Inc\n")
            .replace("description: Reads", "description: Reads docs")
            .replace("description: Helps", "description: Helps out")
            .replace("description: Curated", "description: Curated by hand")
            .replace(
                "permissions: [docs.read]\n    ignore",
                "permissions: []\n    ignore",
            )
            .replace("name: Quiet\n", "name: Quiet Ltd\n    disabled: true\n"),
    );
    let p = plan_ok(&h).await;
    assert_eq!(
        field_set(&p),
        pairs(&[
            ("role.acme/helper", "description"),
            ("role.curated", "description"),
            ("role.reader", "description"),
            ("tenant.acme", "name"),
            ("tenant.quiet", "disabled"),
        ]),
        "ignored fields never diff"
    );
    // The update body is the live object with only managed fields replaced.
    // A console change to an unmanaged field between plan and apply is caught: the update
    // would carry the old value back, so the plan is stale (exit 3 territory).
    h.emu().mutate(|d| {
        d.tenant_mut("acme")
            .unwrap()
            .custom_attributes
            .insert("crm".into(), json!("sf-002"))
    });
    std::fs::write(h.path("stale.plan"), p.to_canonical_string()).unwrap();
    let refused = apply(
        &h.session(),
        ApplyRequest {
            plan: PlanFile::read_verified(&h.path("stale.plan")).unwrap(),
            lock_timeout: std::time::Duration::ZERO,
            access_key_out: None,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.exit_code(), 3, "{refused}");
    assert!(refused.to_string().contains("tenant.acme"), "{refused}");
    assert_eq!(h.emu().data().tenant("acme").unwrap().name, "Acme");
    h.emu().mutate(|d| {
        d.tenant_mut("acme")
            .unwrap()
            .custom_attributes
            .insert("crm".into(), json!("sf-001"))
    });

    let acme = p
        .changes
        .iter()
        .find(|c| c.address == addr("tenant.acme"))
        .unwrap();
    let after = acme.after.as_ref().unwrap();
    assert_eq!(after["name"], "Acme Inc");
    assert_eq!(after["customAttributes"], json!({"crm": "sf-001"}));
    assert_eq!(after["enforceSSOExclusions"], json!(["U2admin"]));
    apply_ok(&h, p).await;

    let d = h.emu().data();
    let acme = d.tenant("acme").unwrap();
    assert_eq!(acme.name, "Acme Inc");
    assert_eq!(acme.custom_attributes.get("crm"), Some(&json!("sf-001")));
    assert_eq!(acme.enforce_sso_exclusions, ["U2admin"]);
    assert_eq!(acme.federated_app_ids, ["app-1"]);
    assert_eq!(acme.role_inheritance, "userOnly");
    assert_eq!(acme.self_provisioning_domains, ["acme.example.com"]);
    for (name, tenant, desc) in [
        ("reader", "", "Reads docs"),
        ("helper", "acme", "Helps out"),
    ] {
        let r = d.role(name, tenant).unwrap();
        assert_eq!(r.description, desc);
        assert!(r.default && r.private, "{name}: flags survive: {r:?}");
    }
    assert_eq!(
        d.role("reader", "").unwrap().permission_names,
        ["docs.read"]
    );
    assert_eq!(
        d.role("curated", "").unwrap().permission_names,
        ["docs.read", "User Admin"],
        "ignored permissions survive even though the config's list changed"
    );
    let quiet = d.tenant("quiet").unwrap();
    assert!(quiet.disabled);
    assert_eq!(quiet.name, "Quiet (renamed by the customer)");
    assert_eq!(quiet.custom_attributes.get("tier"), Some(&json!("pro")));
    assert!(!plan_ok(&h).await.has_changes());
}

// ---------------------------------------------------------------------------------------------
// 4. A domain moved between tenants: release before claim, against the strict emulator

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_moved_between_tenants_applies_against_the_strict_emulator() {
    let h = start().await;
    let config = r#"
tenants:
  - id: zeta
    name: Zeta
    domains: [shared.example.com, zeta.example.com]
  - id: alpha
    name: Alpha
    domains: [alpha.example.com]
"#;
    configure(&h, config);
    converge(&h).await;
    // Alpha (first by address) claims the domain Zeta gives up, and a new tenant claims the
    // name Zeta had.
    configure(
        &h,
        r#"
tenants:
  - id: zeta
    name: Zeta Old
    domains: [zeta.example.com]
  - id: alpha
    name: Alpha
    domains: [alpha.example.com, shared.example.com]
  - id: beta
    name: Zeta
"#,
    );
    let p = plan_ok(&h).await;
    let pos = positions(&p);
    assert!(pos["tenant.zeta"] < pos["tenant.alpha"], "{pos:?}");
    assert!(pos["tenant.zeta"] < pos["tenant.beta"], "{pos:?}");
    assert!(p.changes[pos["tenant.alpha"]]
        .depends_on
        .contains(&pos["tenant.zeta"]));
    apply_ok(&h, p).await;
    let d = h.emu().data();
    assert_eq!(
        d.tenant("alpha").unwrap().self_provisioning_domains,
        ["alpha.example.com", "shared.example.com"]
    );
    assert_eq!(d.tenant("beta").unwrap().name, "Zeta");
    assert!(!plan_ok(&h).await.has_changes());

    // A claim nobody releases (an unmanaged tenant keeps it) is refused at plan time, naming
    // both tenants.
    h.emu().mutate(|d| {
        d.tenants.push(descope_emulator::Tenant {
            id: "other".into(),
            name: "Other".into(),
            self_provisioning_domains: vec!["other.example.com".into()],
            ..Default::default()
        })
    });
    configure(
        &h,
        r#"
tenants:
  - id: zeta
    name: Zeta Old
    domains: [zeta.example.com, other.example.com]
  - id: alpha
    name: Alpha
    domains: [alpha.example.com, shared.example.com]
  - id: beta
    name: Zeta
"#,
    );
    let err = h.plan(PlanRequest::default()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("tenant.zeta") && msg.contains("tenant.other"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_names_and_domains_go_through_a_temporary_value() {
    let h = start().await;
    let config = r#"
tenants:
  - id: east
    name: East
    domains: [east.example.com, shared.example.com]
  - id: west
    name: West
    domains: [west.example.com]
  - id: north
    name: North
"#;
    configure(&h, config);
    converge(&h).await;
    // East and West trade names and a domain; North is untouched.
    configure(
        &h,
        r#"
tenants:
  - id: east
    name: West
    domains: [east.example.com, west.example.com]
  - id: west
    name: East
    domains: [shared.example.com]
  - id: north
    name: North
"#,
    );
    let p = plan_ok(&h).await;
    let got: Vec<String> = p
        .changes
        .iter()
        .map(|c| format!("{} {} ({})", c.action.symbol(), c.address, c.reason))
        .collect();
    assert_eq!(
        got,
        [
            "~ tenant.east (temporarily releases name \"East\", domain shared.example.com for a swap)",
            "~ tenant.west (domains and name changed)",
            "~ tenant.east (domains and name changed)",
        ]
    );
    assert_eq!(
        p.changes[0].after.as_ref().unwrap()["name"],
        "East (swap east)"
    );
    assert_eq!(
        p.changes[0].after.as_ref().unwrap()["selfProvisioningDomains"],
        json!(["east.example.com"])
    );
    assert_eq!(p.changes[1].depends_on, [0]);
    assert_eq!(p.changes[2].depends_on, [0, 1]);
    // The temporary value is shown in the plan.
    let text = descope_mgmt::plan::render::text(&p, false);
    assert!(
        text.contains("~ name = \"East\" -> \"East (swap east)\""),
        "{text}"
    );
    apply_ok(&h, p).await;
    let d = h.emu().data();
    let (east, west) = (d.tenant("east").unwrap(), d.tenant("west").unwrap());
    assert_eq!((east.name.as_str(), west.name.as_str()), ("West", "East"));
    assert_eq!(west.self_provisioning_domains, ["shared.example.com"]);
    assert!(!plan_ok(&h).await.has_changes());

    // A three-way rotation of names needs one temporary value too.
    configure(
        &h,
        r#"
tenants:
  - id: east
    name: East
    domains: [east.example.com, west.example.com]
  - id: west
    name: North
    domains: [shared.example.com]
  - id: north
    name: West
"#,
    );
    let p = plan_ok(&h).await;
    assert_eq!(p.changes.len(), 4, "{:#?}", p.changes);
    assert_eq!(
        p.changes
            .iter()
            .filter(|c| matches!(c.reason, descope_mgmt::plan::Reason::ReleasesForSwap { .. }))
            .count(),
        1
    );
    apply_ok(&h, p).await;
    let d = h.emu().data();
    let names: Vec<&str> = ["east", "west", "north"]
        .iter()
        .map(|t| d.tenant(t).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["East", "North", "West"]);
    assert!(!plan_ok(&h).await.has_changes());
}

// ---------------------------------------------------------------------------------------------
// 5. Protection, and what is never deleted

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resources_are_never_planned_for_deletion() {
    let h = start().await;
    let config = r#"
permissions:
  - name: vault.open
    protect: true
roles:
  - name: keeper
    tenant: vault
    protect: true
tenants:
  - id: vault
    name: Vault
    protect: true
  - id: shed
    name: Shed
"#;
    configure(&h, config);
    converge(&h).await;
    let state = std::fs::read_to_string(h.path("state/default/state.json")).unwrap();
    let state: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["resources"]["tenant.vault"]["protect"], true);
    assert_eq!(state["resources"]["tenant.shed"]["protect"], false);

    // Removed from the config: the plan is an error naming every protected address, even
    // though the config no longer says `protect` (state.json remembers).
    configure(&h, "tenants:\n  - id: shed\n    name: Shed\n");
    let err = h.plan(PlanRequest::default()).await.unwrap_err();
    let OpError::Plan(problems) = &err else {
        panic!("{err}")
    };
    let named: BTreeSet<String> = problems.iter().map(|p| p.address.to_string()).collect();
    assert_eq!(
        named,
        BTreeSet::from(
            ["permission.vault.open", "role.vault/keeper", "tenant.vault"].map(String::from)
        )
    );
    assert!(problems.iter().all(|p| p.message.contains("protected")));
    let o = h.run(&["plan", "-out", "refused.plan"]).await;
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("tenant.vault") && stderr(&o).contains("protected"),
        "{}",
        stderr(&o)
    );
    assert!(
        !h.path("refused.plan").exists(),
        "no plan file for a refused plan"
    );
    // --target does not sneak a protected delete past the check.
    let err = h
        .plan(PlanRequest {
            targets: vec!["tenant.vault".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tenant.vault"), "{err}");

    // Unprotecting takes an apply of a config that says protect: false; then removal works.
    configure(&h, &config.replace("protect: true", "protect: false"));
    let p = plan_ok(&h).await;
    assert!(!p.has_changes(), "{:#?}", p.changes);
    apply_ok(&h, p).await;
    configure(&h, "tenants:\n  - id: shed\n    name: Shed\n");
    let p = plan_ok(&h).await;
    let deletes: BTreeSet<String> = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(
        deletes,
        BTreeSet::from(
            ["permission.vault.open", "role.vault/keeper", "tenant.vault"].map(String::from)
        )
    );
    // The tenant role goes before its tenant.
    let pos = positions(&p);
    assert!(pos["role.vault/keeper"] < pos["tenant.vault"]);
    apply_ok(&h, p).await;
    assert!(h.emu().data().tenant("vault").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_permissions_and_builtin_roles_are_never_deleted_even_when_pruning() {
    let h = start().await;
    // Something unmanaged of each prunable kind, besides Descope's own.
    h.emu().mutate(|d| {
        d.permissions.push(descope_emulator::Permission {
            id: "PERMstray".into(),
            name: "stray.perm".into(),
            ..Default::default()
        });
        d.roles.push(descope_emulator::Role {
            id: "ROLstray".into(),
            name: "stray-role".into(),
            // A default (auto-assigned) role is still an ordinary role.
            default: true,
            ..Default::default()
        });
        d.tenants.push(descope_emulator::Tenant {
            id: "stray-tenant".into(),
            name: "Stray".into(),
            ..Default::default()
        });
    });
    configure(&h, "tenants:\n  - id: kept\n    name: Kept\n");
    let builtin = |p: &PlanFile| {
        p.changes
            .iter()
            .map(|c| c.address.to_string())
            .chain(p.unmanaged.iter().map(|a| a.to_string()))
            .filter(|a| {
                ["User Admin", "SSO Admin", "Impersonate", "Tenant Admin"]
                    .iter()
                    .any(|n| a.ends_with(n))
            })
            .collect::<Vec<_>>()
    };
    let p = plan_ok(&h).await;
    assert!(builtin(&p).is_empty(), "{:?}", builtin(&p));
    assert_eq!(
        p.unmanaged
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        [
            "permission.stray.perm",
            "role.stray-role",
            "tenant.stray-tenant"
        ]
    );
    let pruned = h
        .plan(PlanRequest {
            prune: vec!["tenant".into(), "role".into(), "permission".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap()
        .plan;
    assert!(builtin(&pruned).is_empty(), "{:?}", builtin(&pruned));
    let deletes: Vec<String> = pruned
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| format!("{} {:?}", c.address, c.reason))
        .collect();
    assert_eq!(
        deletes,
        [
            "permission.stray.perm Pruned",
            "role.stray-role Pruned",
            "tenant.stray-tenant Pruned"
        ]
    );
    apply_ok(&h, pruned).await;
    let d = h.emu().data();
    for p in ["User Admin", "SSO Admin", "Impersonate"] {
        assert!(d.permission(p).is_some(), "{p}");
    }
    assert!(d.role("Tenant Admin", "").is_some());
    assert!(d.tenant("stray-tenant").is_none() && d.role("stray-role", "").is_none());

    // Even when state.json claims to manage them, removing them is never planned.
    let state_path = h.path("state/default/state.json");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    for a in ["permission.User Admin", "role.Tenant Admin"] {
        state["resources"][a] = json!({"fingerprint": "sha256:00", "protect": false});
    }
    std::fs::write(
        &state_path,
        serde_json::to_string_pretty(&state).unwrap() + "\n",
    )
    .unwrap();
    let p = h
        .plan(PlanRequest {
            prune: vec!["role".into(), "permission".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap()
        .plan;
    assert!(!p.has_changes(), "{:#?}", p.changes);
    // Flows are never pruned.
    let err = h
        .plan(PlanRequest {
            prune: vec!["flow".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_is_deleted_only_with_its_children() {
    let h = start().await;
    configure(
        &h,
        r#"
tenants:
  - id: parent
    name: Parent
  - id: child
    name: Child
    parent: parent
  - id: grandchild
    name: Grandchild
    parent: child
  - id: keep
    name: Keep
"#,
    );
    converge(&h).await;
    // A child an admin added by hand stays, so the parent cannot go: refused at plan time,
    // not half-way through an apply.
    h.emu().mutate(|d| {
        d.tenants.push(descope_emulator::Tenant {
            id: "kid".into(),
            name: "Kid".into(),
            parent: "child".into(),
            ..Default::default()
        })
    });
    configure(&h, "tenants:\n  - id: keep\n    name: Keep\n");
    let err = h.plan(PlanRequest::default()).await.unwrap_err();
    let OpError::Plan(problems) = &err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 1, "{err}");
    assert_eq!(problems[0].address, addr("tenant.child"));
    assert!(problems[0].message.contains("(kid)"), "{err}");
    // Pruned with the rest, the whole subtree goes, leaves first.
    let p = h
        .plan(PlanRequest {
            prune: vec!["tenant".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap()
        .plan;
    let pos = positions(&p);
    assert!(pos["tenant.grandchild"] < pos["tenant.child"]);
    assert!(pos["tenant.kid"] < pos["tenant.child"]);
    assert!(pos["tenant.child"] < pos["tenant.parent"]);
    apply_ok(&h, p).await;
    let d = h.emu().data();
    assert_eq!(
        d.tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["keep"]
    );
}

// ---------------------------------------------------------------------------------------------
// 6. --target, -out spelling, colours

const TARGETS: &str = r#"
permissions:
  - name: p1
  - name: p2
  - name: p3
roles:
  - name: admin
    tenant: sub
    permissions: [p1]
  - name: other
    permissions: [p2]
tenants:
  - id: top
    name: T1
  - id: sub
    name: T2
    parent: top
    default_roles: [admin]
  - id: solo
    name: T3
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_limits_the_plan_to_the_target_and_its_dependencies() {
    let h = start().await;
    configure(&h, TARGETS);
    let addresses =
        |p: &PlanFile| -> Vec<String> { p.changes.iter().map(|c| c.address.to_string()).collect() };
    let p = h
        .plan(PlanRequest {
            targets: vec!["role.sub/admin".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap()
        .plan;
    assert_eq!(
        addresses(&p),
        [
            "permission.p1",
            "tenant.top",
            "tenant.sub",
            "role.sub/admin"
        ]
    );
    assert_eq!(p.options.targets, ["role.sub/admin"]);

    // Through the binary, with both Terraform spellings and several targets.
    let o = h
        .run(&[
            "plan",
            "--target",
            "tenant_default_roles.sub",
            "--target",
            "tenant.solo",
            "-out=targeted.plan",
        ])
        .await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let p = PlanFile::read_verified(&h.path("targeted.plan")).unwrap();
    let got: BTreeSet<String> = addresses(&p).into_iter().collect();
    let want = [
        "permission.p1",
        "role.sub/admin",
        "tenant.solo",
        "tenant.sub",
        "tenant.top",
        "tenant_default_roles.sub",
    ];
    assert_eq!(got, BTreeSet::from(want.map(String::from)));
    // Applying a targeted plan manages only what it covered.
    let o = h.run(&["apply", "targeted.plan", "--auto-approve"]).await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let p = plan_ok(&h).await;
    assert_eq!(
        addresses(&p),
        ["permission.p2", "permission.p3", "role.other"]
    );

    // An unparseable target is a usage error, found by the argument parser with the forms an
    // address takes.
    let o = h.run(&["plan", "--target", "nonsense"]).await;
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.contains("'nonsense' for '--target"), "{err}");
    assert!(err.contains("tenant.<id>"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_out_spellings_and_no_colour_unless_a_terminal_allows_it() {
    let h = start().await;
    configure(&h, TARGETS);
    let mut texts = Vec::new();
    for (i, args) in [
        vec!["plan", "-out", "a.plan"],
        vec!["plan", "-out=b.plan"],
        vec!["plan", "--out", "c.plan"],
        vec!["plan", "--out=d.plan"],
        vec!["-out", "e.plan", "plan"],
    ]
    .into_iter()
    .enumerate()
    {
        let o = h.run(&args).await;
        let name = ["a", "b", "c", "d", "e"][i];
        if name == "e" {
            // `-out` belongs to `plan`, not before the subcommand: a usage error, code 1.
            assert_eq!(code(&o), 1, "{args:?}");
            continue;
        }
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert!(
            stdout(&o).contains(&format!("descope-mgmt apply {name}.plan")),
            "{}",
            stdout(&o)
        );
        let text = std::fs::read_to_string(h.path(format!("{name}.plan"))).unwrap();
        texts.push(blank_volatile(&text));
        // Piped output never has colour codes.
        assert!(!o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b));
    }
    assert!(texts.windows(2).all(|w| w[0] == w[1]));

    // On a terminal (script(1) gives the binary a pty) colour is on, unless NO_COLOR or
    // --no-color says otherwise. Needs util-linux script(1); said loudly when missing.
    let util_linux_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("util-linux"));
    if !util_linux_script {
        eprintln!("SKIPPED: colour on a terminal (util-linux script(1) not found)");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin!("descope-mgmt")
        .display()
        .to_string();
    for (extra, no_color_env, coloured) in [
        ("", false, true),
        ("", true, false),
        ("--no-color", false, false),
    ] {
        let mut c = std::process::Command::new("script");
        c.current_dir(h.root())
            .env_clear()
            .envs(&h.vars)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .args([
                "-qec",
                &format!("'{bin}' plan {extra} && '{bin}' show a.plan {extra}"),
                "/dev/null",
            ]);
        if no_color_env {
            c.env("NO_COLOR", "1");
        }
        let o = tokio::task::spawn_blocking(move || c.output().expect("script(1) runs"))
            .await
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(out.matches("Plan: ").count(), 2, "{out}");
        assert_eq!(
            out.contains('\x1b'),
            coloured,
            "{extra} NO_COLOR={no_color_env}: {out:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Secrets never leave the process; apply refuses when one changed

const TOKEN: &str = "tok-SECRETVALUE-8d2e41";
const TOKEN2: &str = "tok-ROTATEDVALUE-77c1a0";

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for s in [TOKEN, TOKEN2, KEY] {
        assert!(
            !text.contains(s),
            "{what} leaks a secret value `{s}`:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_value_appears_in_plans_outputs_or_state_and_a_changed_secret_is_refused() {
    let mut h = start().await;
    h.env = Some("dev".into());
    h.vars.insert("DEV_KEY".into(), KEY.into());
    h.vars.insert("ACME_TOKEN".into(), TOKEN.into());
    let config = format!(
        r#"
environments:
  dev:
    project_id: {PROJECT}
    management_key: ${{secret:DEV_KEY}}
tenants:
  - id: acme
    name: Acme
    custom_attributes:
      token: ${{secret:ACME_TOKEN}}
      plan: gold
"#
    );
    configure(&h, &config);
    let mut outputs: Vec<(String, Output)> = Vec::new();
    // The key comes from the config's secret, not the SDK variable.
    let run = |args: &[&str], token: &'static str| {
        let mut c = h.cmd(args);
        c.env_remove("DESCOPE_MANAGEMENT_KEY")
            .env_remove("DESCOPE_PROJECT_ID")
            .env("ACME_TOKEN", token);
        async move {
            tokio::task::spawn_blocking(move || c.output().unwrap())
                .await
                .unwrap()
        }
    };

    let o = run(&["--env", "dev", "plan", "-out", "p.plan"], TOKEN).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    outputs.push(("plan".into(), o));
    let plan_text = std::fs::read_to_string(h.path("p.plan")).unwrap();
    assert_no_secret("plan file", plan_text.as_bytes());
    let plan = PlanFile::read_verified(&h.path("p.plan")).unwrap();
    assert_eq!(plan.secrets.len(), 1);
    assert_eq!(plan.secrets[0].secret, "ACME_TOKEN");
    let token = &plan.changes[0].after.as_ref().unwrap()["customAttributes"]["token"];
    assert_eq!(token["secret"], "ACME_TOKEN");
    assert_eq!(token["hmac"].as_str().unwrap().len(), 64, "{token}");
    for f in ["text", "markdown", "json"] {
        let o = run(&["show", "p.plan", "--format", f], TOKEN).await;
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stdout(&o).contains("ACME_TOKEN"), "{f}: {}", stdout(&o));
        outputs.push((format!("show {f}"), o));
    }
    let o = run(
        &["--env", "dev", "apply", "p.plan", "--auto-approve"],
        TOKEN,
    )
    .await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    outputs.push(("apply".into(), o));
    // The real value reached Descope.
    let live = h
        .emu()
        .data()
        .tenant("acme")
        .unwrap()
        .custom_attributes
        .clone();
    assert_eq!(live["token"], TOKEN);
    assert_eq!(live["plan"], "gold");
    // Live values of secret fields are masked the same way, so nothing changed.
    let o = run(&["--env", "dev", "plan", "--detailed-exitcode"], TOKEN).await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    outputs.push(("plan again".into(), o));

    // A managed change is planned with the old token; the token then changes.
    configure(&h, &config.replace("name: Acme\n", "name: Acme Inc\n"));
    let o = run(&["--env", "dev", "plan", "-out", "q.plan"], TOKEN).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    outputs.push(("plan 2".into(), o));
    let o = run(
        &["--env", "dev", "apply", "q.plan", "--auto-approve"],
        TOKEN2,
    )
    .await;
    assert_eq!(code(&o), 3, "{}{}", stdout(&o), stderr(&o));
    // design.md words it "secret VAR changed or key rotated: plan again"; apply/verify.rs
    // spells the rotation out ("…or the management key was rotated since planning…").
    let e = stderr(&o);
    assert!(
        e.contains("secret ACME_TOKEN changed or")
            && e.contains("rotated")
            && e.contains("plan again"),
        "{e}"
    );
    outputs.push(("refused apply".into(), o));
    assert_eq!(h.emu().data().tenant("acme").unwrap().name, "Acme");
    // Planned again with the new value: the token is an update like any other field.
    let o = run(&["--env", "dev", "plan", "-out", "r.plan"], TOKEN2).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    outputs.push(("plan 3".into(), o));
    let r = PlanFile::read_verified(&h.path("r.plan")).unwrap();
    assert_eq!(
        field_set(&r),
        pairs(&[
            ("tenant.acme", "custom_attributes"),
            ("tenant.acme", "name")
        ])
    );
    let o = run(
        &["--env", "dev", "apply", "r.plan", "--auto-approve"],
        TOKEN2,
    )
    .await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    outputs.push(("apply 2".into(), o));
    assert_eq!(
        h.emu().data().tenant("acme").unwrap().custom_attributes["token"],
        TOKEN2
    );

    for (what, o) in &outputs {
        assert_no_secret(&format!("{what} stdout"), &o.stdout);
        assert_no_secret(&format!("{what} stderr"), &o.stderr);
    }
    let mut files = Vec::new();
    files_under(h.root(), &mut files);
    files.retain(|f| !f.ends_with("descope.yaml"));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(h.root()).unwrap().display().to_string())
        .collect();
    for must in ["state/dev/state.json", "state/dev/audit.jsonl"] {
        assert!(names.iter().any(|n| n == must), "{names:?}");
    }
    for dir in ["state/dev/backups/", "state/dev/journal/"] {
        assert!(names.iter().any(|n| n.starts_with(dir)), "{names:?}");
    }
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().contains("backups")));
    for f in &files {
        assert_no_secret(&f.display().to_string(), &std::fs::read(f).unwrap());
    }
}

/// Once the config stops naming a secret custom attribute — the tenant leaves the config, or
/// the attribute leaves its custom_attributes — state.json still remembers it was secret, so
/// the plan's `before`, its field changes and apply's backup keep showing only the stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_config_no_longer_names_stays_masked() {
    let mut h = start().await;
    h.vars.insert("ACME_TOKEN".into(), TOKEN.into());
    configure(&h,
        "tenants:\n  - id: acme\n    name: Acme\n    custom_attributes:\n      token: ${secret:ACME_TOKEN}\n      plan: gold\n  - id: keep\n    name: Keep\n",
    );
    converge(&h).await;
    // The secret attribute leaves the config (the update removes it live).
    configure(&h,
        "tenants:\n  - id: acme\n    name: Acme\n    custom_attributes:\n      plan: gold\n  - id: keep\n    name: Keep\n",
    );
    let p = plan_ok(&h).await;
    assert_no_secret("update plan", p.to_canonical_string().as_bytes());
    assert_eq!(
        field_set(&p),
        pairs(&[("tenant.acme", "custom_attributes")])
    );
    let before = &p.changes[0].fields[0].before.as_ref().unwrap()["token"];
    assert_eq!(before["secret"], "ACME_TOKEN", "{before}");
    apply_ok(&h, p).await;
    assert!(!h
        .emu()
        .data()
        .tenant("acme")
        .unwrap()
        .custom_attributes
        .contains_key("token"));
    let state = std::fs::read_to_string(h.path("state/default/state.json")).unwrap();
    assert!(
        !state.contains("ACME_TOKEN"),
        "forgotten once the value is gone: {state}"
    );
    // The tenant leaves the config.
    configure(&h,
        "tenants:\n  - id: acme\n    name: Acme\n    custom_attributes:\n      token: ${secret:ACME_TOKEN}\n      plan: gold\n  - id: keep\n    name: Keep\n",
    );
    converge(&h).await;
    let state = std::fs::read_to_string(h.path("state/default/state.json")).unwrap();
    assert!(state.contains(r#""token": "ACME_TOKEN""#), "{state}");
    configure(&h, "tenants:\n  - id: keep\n    name: Keep\n");
    let p = plan_ok(&h).await;
    assert_no_secret("delete plan", p.to_canonical_string().as_bytes());
    assert_eq!(p.changes[0].action, Action::Delete);
    assert_eq!(
        p.changes[0].before.as_ref().unwrap()["customAttributes"]["token"]["secret"],
        "ACME_TOKEN"
    );
    apply_ok(&h, p).await;
    let mut files = Vec::new();
    files_under(&h.path("state"), &mut files);
    assert!(files
        .iter()
        .any(|f| f.to_string_lossy().contains("backups")));
    for f in &files {
        assert_no_secret(&f.display().to_string(), &std::fs::read(f).unwrap());
    }
    assert!(h.emu().data().tenant("acme").is_none());
}

// ---------------------------------------------------------------------------------------------
// 8. Every action in one plan: golden renderings, the JSON contract, and it applies

const EVERY_BEFORE: &str = r#"
permissions:
  - name: docs.read
    description: Read documents
  - name: old.perm
    description: Going away
roles:
  - name: editor
    description: Edits
    permissions: [docs.read]
tenants:
  - id: alpha
    name: Alpha
    domains: [alpha.example.com]
  - id: beta
    name: Beta
  - id: mover
    name: Mover
    parent: alpha
  - id: leaving
    name: Leaving
"#;

const EVERY_AFTER: &str = r#"
permissions:
  - name: docs.read
    description: Read all documents
  - name: docs.write
    description: Write documents
roles:
  - name: editor
    description: Edits
    permissions: [docs.read, docs.write]
tenants:
  - id: alpha
    name: Alpha Corp
    domains: [alpha.example.com, alpha.example.org]
  - id: beta
    name: Beta
  - id: mover
    name: Mover
    parent: beta
    delete_cascade: true
  - id: gamma
    name: Gamma
    parent: alpha
    domains: [gamma.example.com]
    default_roles: [editor]
flows:
  - id: sign-in
    file: flows/sign-in.json
"#;

const EVERY_ARGS: &[&str] = &[
    "plan",
    "--prune",
    "role",
    "--allow-replace",
    "tenant.mover",
    "-out",
    "every.plan",
];

/// Applies EVERY_BEFORE, then has an admin add an unmanaged role and tenant, edits the
/// sign-in flow's file, switches to EVERY_AFTER and plans with `--prune role` and
/// `--allow-replace tenant.mover` through the binary. Returns the plan.
async fn every_action_plan(h: &TestEnv) -> PlanFile {
    configure(h, EVERY_BEFORE);
    converge(h).await;
    h.emu().mutate(|d| {
        d.roles.push(descope_emulator::Role {
            id: "ROLlegacy".into(),
            name: "legacy".into(),
            description: "Made by hand".into(),
            ..Default::default()
        });
        d.tenants.push(descope_emulator::Tenant {
            id: "stray".into(),
            name: "Stray".into(),
            ..Default::default()
        });
    });
    let mut flow = h.emu().data().flow_export_v1("sign-in").unwrap();
    flow["flow"]["description"] = json!("Sign in with a one-time code");
    flow["screens"][0]["htmlTemplate"]["children"][0]["value"] = json!("Welcome back");
    h.write_flow("sign-in", &flow);
    configure(h, EVERY_AFTER);

    let o = h.run(EVERY_ARGS).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    PlanFile::read_verified(&h.path("every.plan"))
        .unwrap()
        .into_inner()
}

/// Volatile values, masked the same way every run: the plan's own timestamp and digest, the
/// tool version, ids and timestamps the emulator generates.
fn mask(text: &str, plan: &PlanFile) -> String {
    let text = text
        .replace(&plan.created_at, "<created_at>")
        .replace(plan.digest.as_str(), "sha256:<digest>")
        .replace(&plan.digest[..19], "sha256:<digest>")
        .replace(
            &format!("\"tool_version\": \"{}\"", plan.tool_version),
            "\"tool_version\": \"<tool_version>\"",
        );
    let ids = regex::Regex::new(r"\b(ROL|PERM|SC|T)[0-9A-Za-z]{27}\b").unwrap();
    let text = ids.replace_all(&text, "$1<id>");
    let times = regex::Regex::new(r#""(createdTime|modifiedTime)": "?\d+"?"#).unwrap();
    let text = times.replace_all(&text, "\"$1\": 0");
    let etags = regex::Regex::new(r#""etag": "[^"]*""#).unwrap();
    etags
        .replace_all(&text, "\"etag\": \"<etag>\"")
        .into_owned()
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/plan")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run UPDATE_GOLDEN=1 cargo test --test integration plan:: and review it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!(
            "{} differs (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{diff}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_renders_as_the_golden_files_and_applies() {
    let h = start().await;
    let plan = every_action_plan(&h).await;

    let actions: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect();
    let mut sorted_actions = actions.clone();
    sorted_actions.sort();
    assert_eq!(
        sorted_actions,
        [
            "+ permission.docs.write",
            "+ tenant.gamma",
            "+ tenant_default_roles.gamma",
            "- permission.old.perm",
            "- role.legacy",
            "- tenant.leaving",
            "-/+ tenant.mover",
            "~ flow.sign-in",
            "~ permission.docs.read",
            "~ role.editor",
            "~ tenant.alpha",
        ],
        "{actions:?}"
    );
    let mover = plan
        .changes
        .iter()
        .find(|c| c.address == addr("tenant.mover"))
        .unwrap();
    assert!(mover.cascade);

    for (format, file) in [
        ("text", "every-action.txt"),
        ("markdown", "every-action.md"),
        ("json", "every-action.json"),
    ] {
        let o = h.run(&["show", "every.plan", "--format", format]).await;
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(o.stderr.is_empty(), "{}", stderr(&o));
        golden(file, &mask(&stdout(&o), &plan));
    }
    // `plan` prints the same text rendering as `show`, then the request estimate.
    let o = h.run(&["show", "every.plan"]).await;
    let shown = stdout(&o);
    let planned = h.run(EVERY_ARGS).await;
    let again = PlanFile::read_verified(&h.path("every.plan")).unwrap();
    let planned_text = mask(&stdout(&planned), &again);
    assert!(
        planned_text.starts_with(&mask(&shown, &plan)),
        "{planned_text}"
    );

    // The whole plan succeeds against the strict emulator, and then nothing is left to do.
    apply_ok(&h, again.into_inner()).await;
    let d = h.emu().data();
    assert_eq!(d.tenant("mover").unwrap().parent, "beta");
    assert!(d.tenant("leaving").is_none() && d.role("legacy", "").is_none());
    assert!(d.permission("old.perm").is_none());
    assert_eq!(
        d.flow("sign-in").unwrap().description,
        "Sign in with a one-time code"
    );
    let p = h
        .plan(PlanRequest {
            prune: vec!["role".into()],
            ..PlanRequest::default()
        })
        .await
        .unwrap()
        .plan;
    assert!(!p.has_changes(), "{:#?}", p.changes);
    // Unmanaged resources are reported but never change the exit code.
    let o = h.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("  tenant.stray\n"), "{}", stdout(&o));
    // A replace is never silent: without --allow-replace the same change is an error.
    configure(&h, &EVERY_AFTER.replace("parent: beta", "parent: alpha"));
    let o = h.run(&["plan"]).await;
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("tenant.mover") && stderr(&o).contains("--allow-replace tenant.mover"),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// 9. `show --format json` as a contract (docs/plan-format.md §2)

/// Decoded with unknown fields denied: a key added to or renamed in the rendering fails here
/// until these structs and docs/plan-format.md are updated together.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PlanJson {
    format: String,
    format_version: u32,
    tool_version: String,
    environment: String,
    project_id: String,
    created_at: String,
    digest: String,
    summary: SummaryJson,
    changes: Vec<ChangeJson>,
    unmanaged: Vec<String>,
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct SummaryJson {
    create: usize,
    update: usize,
    delete: usize,
    replace: usize,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeJson {
    id: usize,
    address: String,
    kind: String,
    action: String,
    reason: ReasonJson,
    reason_text: String,
    fields: Vec<FieldJson>,
    /// `Value`, not `Option`: the key must be present (null for creates).
    before: Value,
    /// `Value`, not `Option`: the key must be present (null for deletes).
    after: Value,
    depends_on: Vec<usize>,
    cascade: bool,
}

#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ReasonJson {
    NotInLiveProject,
    RemovedFromConfig,
    Pruned,
    FieldsChanged { fields: Vec<String> },
    ParentChanged { from: String, to: String },
    ReleasesForSwap { values: Vec<String> },
    TenantReplaced { tenant: String },
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FieldJson {
    field: String,
    before: Value,
    after: Value,
}

/// Keys of the example document in docs/plan-format.md §2 (top level, and of a change).
fn documented_keys() -> (BTreeSet<String>, BTreeSet<String>) {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plan-format.md"))
            .unwrap();
    let section = &doc[doc.find("## 2.").expect("docs/plan-format.md has §2")..];
    let start = section.find("```json\n").expect("§2 has a json example") + 8;
    let end = start + section[start..].find("```").unwrap();
    let example: Value = serde_json::from_str(&section[start..end]).expect("the example is JSON");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect();
    (keys(&example), keys(&example["changes"][0]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rendering_is_a_documented_contract() {
    let h = start().await;
    let plan = every_action_plan(&h).await;
    let o = h.run(&["show", "every.plan", "--format", "json"]).await;
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let raw: Value = serde_json::from_slice(&o.stdout).unwrap();
    let json: PlanJson = serde_json::from_value(raw.clone()).unwrap_or_else(|e| {
        panic!(
            "the JSON rendering changed shape ({e}); update docs/plan-format.md §2 and this test"
        )
    });

    // The documented example names exactly the keys the rendering has.
    let (top, change) = documented_keys();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&raw),
        top,
        "docs/plan-format.md §2 example vs rendering"
    );
    for c in raw["changes"].as_array().unwrap() {
        assert_eq!(
            keys(c),
            change,
            "docs/plan-format.md §2 change vs rendering"
        );
    }

    assert_eq!(json.format, "descope-mgmt-plan-json");
    assert_eq!(json.format_version, 1);
    assert_eq!(json.tool_version, plan.tool_version);
    assert_eq!(json.environment, "default");
    assert_eq!(json.project_id, PROJECT);
    assert_eq!(json.created_at, plan.created_at);
    assert_eq!(json.digest, plan.digest.as_str());
    assert_eq!(
        json.summary,
        SummaryJson {
            create: 3,
            update: 4,
            delete: 3,
            replace: 1
        }
    );
    assert_eq!(
        json.unmanaged,
        [
            "flow.sign-up",
            "flow.sign-up-or-in",
            "flow.step-up",
            "tenant.stray"
        ]
    );
    assert_eq!(json.changes.len(), plan.changes.len());
    for (i, (c, p)) in json.changes.iter().zip(&plan.changes).enumerate() {
        assert_eq!(c.id, i);
        assert_eq!(c.address, p.address.to_string());
        assert_eq!(c.kind, c.address.split('.').next().unwrap());
        assert_eq!(c.action, p.action.verb());
        assert_eq!(c.reason_text, p.reason.to_string());
        assert!(c.depends_on.iter().all(|&d| d < c.id));
        assert_eq!(c.before.is_null(), c.action == "create", "{}", c.address);
        assert_eq!(c.after.is_null(), c.action == "delete", "{}", c.address);
        assert_eq!(Some(&c.after), p.after.as_ref().or(Some(&Value::Null)));
        assert_eq!(c.cascade, c.address == "tenant.mover");
        assert_eq!(
            c.fields
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>(),
            p.fields
                .iter()
                .map(|f| f.field.as_str())
                .collect::<Vec<_>>()
        );
        if let ReasonJson::FieldsChanged { fields } = &c.reason {
            assert_eq!(
                fields,
                &c.fields.iter().map(|f| f.field.clone()).collect::<Vec<_>>()
            );
        }
    }
    let reasons: BTreeSet<String> = json
        .changes
        .iter()
        .map(|c| {
            format!("{:?}", c.reason)
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        reasons,
        BTreeSet::from(
            [
                "FieldsChanged",
                "NotInLiveProject",
                "ParentChanged",
                "Pruned",
                "RemovedFromConfig"
            ]
            .map(String::from)
        )
    );
    let mover = json
        .changes
        .iter()
        .find(|c| c.address == "tenant.mover")
        .unwrap();
    assert_eq!(
        mover.reason,
        ReasonJson::ParentChanged {
            from: "alpha".into(),
            to: "beta".into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 10. A replaced tenant's roles and default roles come back in the same apply

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_tenant_recreates_its_roles_and_default_roles() {
    let h = start().await;
    let config = r#"
permissions:
  - name: p1
roles:
  - name: helper
    tenant: mover
    permissions: [p1]
  - name: retired
    tenant: mover
tenants:
  - id: aaa
    name: A
  - id: bbb
    name: B
  - id: mover
    name: Mover
    parent: aaa
    default_roles: [helper]
"#;
    configure(&h, config);
    converge(&h).await;
    // The parent changes, and one tenant role leaves the config.
    let moved = config
        .replace("parent: aaa", "parent: bbb")
        .replace("  - name: retired\n    tenant: mover\n", "");
    configure(&h, &moved);
    let replace = PlanRequest {
        allow_replace: vec!["tenant.mover".into()],
        ..PlanRequest::default()
    };
    let p = h.plan(replace.clone()).await.unwrap().plan;
    let got: Vec<String> = p
        .changes
        .iter()
        .map(|c| format!("{} {} {}", c.action.symbol(), c.address, c.reason))
        .collect();
    assert_eq!(
        got,
        [
            "- role.mover/retired removed from config",
            "-/+ tenant.mover parent changed from aaa to bbb (Descope sets the parent only at creation)",
            "+ role.mover/helper tenant.mover is replaced, which deletes it",
            "+ tenant_default_roles.mover tenant.mover is replaced, which deletes it",
        ],
    );
    let pos = positions(&p);
    assert!(p.changes[pos["tenant.mover"]]
        .depends_on
        .contains(&pos["role.mover/retired"]));
    assert!(p.changes[pos["role.mover/helper"]]
        .depends_on
        .contains(&pos["tenant.mover"]));
    apply_ok(&h, p).await;
    let d = h.emu().data();
    assert_eq!(d.tenant("mover").unwrap().parent, "bbb");
    assert_eq!(d.tenant("mover").unwrap().default_roles, ["helper"]);
    assert_eq!(d.role("helper", "mover").unwrap().permission_names, ["p1"]);
    assert!(d.role("retired", "mover").is_none());
    assert!(!plan_ok(&h).await.has_changes());

    // A tenant role the config does not name would be lost silently: refused.
    h.emu().mutate(|d| {
        d.roles.push(descope_emulator::Role {
            id: "ROLhandmade".into(),
            name: "handmade".into(),
            tenant_id: "mover".into(),
            ..Default::default()
        })
    });
    configure(&h, &moved.replace("parent: bbb", "parent: aaa"));
    let err = h.plan(replace.clone()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("replacing it also deletes role.mover/handmade"),
        "{err}"
    );
    // So is a replace whose recreations --target would leave out.
    h.emu().mutate(|d| d.roles.retain(|r| r.name != "handmade"));
    let err = h
        .plan(PlanRequest {
            targets: vec!["tenant.mover".into()],
            ..replace
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--target role.mover/helper"),
        "{err}"
    );
}
