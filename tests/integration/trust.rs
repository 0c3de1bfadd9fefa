//! Issue 14, "apply trusts nothing it cannot check": a plan file edited by someone who reseals
//! its digest, secret stand-ins placed where the configuration declares none, malformed API
//! answers, special and oversized files. Every case ends in a refusal before the first write
//! to Descope (docs/plan-format.md, Threat model; docs/reliability.md counts the cases).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use descope_emulator::{EmulatorOptions, LogEntry};
use descope_mgmt::plan::PlanFile;
use serde_json::{json, Value};

use crate::util::{output, TestEnv};

const ENV: &str = "dev";
const KEY_VAR: &str = "EMU_MANAGEMENT_KEY";
pub const TOKEN: &str = "first-token-value";

/// A small project: a permission, a role, a tenant with a secret attribute and a tenant role.
pub fn config(project_id: &str, description: &str) -> String {
    format!(
        "version: 1
settings:
  rate_limit: 6000/60
environments:
  {ENV}:
    project_id: {project_id}
    management_key: ${{secret:{KEY_VAR}}}
permissions:
  - name: docs.read
    description: Read the docs
  - name: docs.write
    description: Write the docs
roles:
  - name: reader
    description: {description}
    permissions: [docs.read]
  - name: team
    tenant: acme
    description: The team
    permissions: [docs.read]
tenants:
  - id: acme
    name: Acme
    custom_attributes:
      token: ${{secret:TENANT_TOKEN}}
      plan: gold
  - id: beta
    name: Beta
"
    )
}

pub async fn world() -> TestEnv {
    let mut w = TestEnv::start(EmulatorOptions::default()).await;
    w.vars = BTreeMap::from([
        (KEY_VAR.to_string(), w.emu().management_key().to_string()),
        ("DESCOPE_BASE_URI".to_string(), w.emu().base_url()),
        ("TENANT_TOKEN".to_string(), TOKEN.to_string()),
    ]);
    w.env = Some(ENV.to_string());
    w.write_config(&config(w.emu().project_id(), "Reads the docs"));
    w
}

pub async fn run(w: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = w.cmd(&["--config"]);
    cmd.arg(w.config_path())
        .arg("--env")
        .arg(ENV)
        .arg("--state-dir")
        .arg(w.state_path())
        .arg("--no-color")
        .args(args)
        .stdin(Stdio::null());
    output(cmd).await
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn writes(log: &[LogEntry]) -> Vec<String> {
    log.iter()
        .filter(|e| e.method != "GET" && !e.path.ends_with("/all") && !e.path.contains("/load"))
        .filter(|e| !e.path.ends_with("/export") && !e.path.contains("/list"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

/// Plans into `name.plan` through the binary.
pub async fn plan_to(w: &TestEnv, name: &str) -> (PlanFile, PathBuf) {
    let path = w.path(format!("{name}.plan"));
    let out = run(w, &["plan", "-out", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    (PlanFile::read_verified(&path).unwrap().into_inner(), path)
}

/// Writes `plan` edited by `edit` and resealed (a valid digest over the edited content), as
/// someone with write access to the artifact would.
pub fn reseal(w: &TestEnv, plan: &PlanFile, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = serde_json::to_value(plan).unwrap();
    edit(&mut v);
    let edited: PlanFile = serde_json::from_value(v).expect("the edit keeps the plan format");
    let path = w.path(format!("{name}.plan"));
    std::fs::write(&path, edited.seal().to_canonical_string()).unwrap();
    PlanFile::read_verified(&path).expect("a resealed plan passes the digest check");
    path
}

fn change_mut<'a>(v: &'a mut Value, address: &str) -> &'a mut Value {
    v["changes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("the plan changes {address}"))
}

/// The first request body of the change at `address`.
fn body_mut<'a>(v: &'a mut Value, address: &str) -> &'a mut Value {
    &mut change_mut(v, address)["op"]["steps"][0]["body"]
}

/// The management key, PATH, or a declared secret at another field: a stand-in anywhere the
/// configuration does not declare it is refused (exit 3), nothing is written, and the value
/// never reaches the project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_stand_ins_resolve_only_where_the_config_declares_them() {
    let w = world().await;
    let (plan, _) = plan_to(&w, "first").await;
    let key = w.emu().management_key().to_string();
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, &str, Edit)> = vec![
        ("key-in-role", "role.reader", |v| {
            let s = json!({"secret": "DESCOPE_MANAGEMENT_KEY", "hmac": "x"});
            body_mut(v, "role.reader")["description"] = s.clone();
            change_mut(v, "role.reader")["op"]["batch"]["item"]["description"] = s;
        }),
        ("config-key-in-role", "role.reader", |v| {
            let s = json!({"secret": "EMU_MANAGEMENT_KEY", "hmac": "x"});
            body_mut(v, "role.reader")["description"] = s.clone();
            change_mut(v, "role.reader")["op"]["batch"]["item"]["description"] = s;
        }),
        ("path-in-tenant-name", "tenant.beta", |v| {
            body_mut(v, "tenant.beta")["name"] = json!({"secret": "PATH", "hmac": "x"});
        }),
        ("declared-var-other-tenant", "tenant.beta", |v| {
            let s = body_mut(v, "tenant.acme")["customAttributes"]["token"].clone();
            body_mut(v, "tenant.beta")["customAttributes"] = json!({"token": s});
        }),
        ("declared-var-other-field", "tenant.acme", |v| {
            let s = body_mut(v, "tenant.acme")["customAttributes"]["token"].clone();
            body_mut(v, "tenant.acme")["name"] = s;
        }),
        ("other-var-declared-field", "tenant.acme", |v| {
            body_mut(v, "tenant.acme")["customAttributes"]["token"] =
                json!({"secret": "EMU_MANAGEMENT_KEY", "hmac": "x"});
        }),
        ("declared-field-wrong-hmac", "tenant.acme", |v| {
            body_mut(v, "tenant.acme")["customAttributes"]["token"]["hmac"] = json!("00");
        }),
    ];
    for (name, address, edit) in cases {
        let path = reseal(&w, &plan, name, edit);
        let mut cmd = w.cmd(&[]);
        cmd.args(["--config", w.config_path().to_str().unwrap()])
            .args([
                "--env",
                ENV,
                "--state-dir",
                w.state_path().to_str().unwrap(),
            ])
            .args(["apply", path.to_str().unwrap()])
            .env("DESCOPE_MANAGEMENT_KEY", &key)
            .stdin(Stdio::null());
        let out = output(cmd).await;
        assert_eq!(code(&out), 3, "{name}: {}", text(&out));
        let all = text(&out);
        assert!(all.contains(address), "{name} names {address}: {all}");
        assert!(!all.contains(&key) && !all.contains(TOKEN), "{name}: {all}");
        assert_eq!(writes(&w.emu().log()), Vec::<String>::new(), "{name}");
    }
    // The untouched plan still applies, the secret where the config puts it.
    let (_, path) = plan_to(&w, "clean").await;
    let out = run(&w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let d = w.emu().data();
    assert_eq!(d.tenant("acme").unwrap().custom_attributes["token"], TOKEN);
    assert_eq!(d.role("reader", "").unwrap().description, "Reads the docs");
}
