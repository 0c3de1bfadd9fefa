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

/// The first plan applied, then the config changed: the second plan updates `tenant.beta` and
/// `role.reader` and deletes `permission.docs.write`; `tenant.acme` is named but untouched.
async fn applied_then_changed(w: &TestEnv) -> (PlanFile, PathBuf) {
    let (_, path) = plan_to(w, "first").await;
    let out = run(w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    w.write_config(
        &config(w.emu().project_id(), "Reads the docs, and more")
            .replace("name: Beta\n", "name: Beta Two\n")
            .replace(
                "  - name: docs.write\n    description: Write the docs\n",
                "",
            ),
    );
    let (plan, path) = plan_to(w, "second").await;
    let mut touched: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("{} {}", c.action.verb(), c.address))
        .collect();
    touched.sort();
    assert_eq!(
        touched,
        [
            "delete permission.docs.write",
            "update role.reader",
            "update tenant.beta"
        ]
    );
    (plan, path)
}

fn summary_of(v: &mut Value) {
    let mut s = json!({"create": 0, "update": 0, "delete": 0, "replace": 0});
    for c in v["changes"].as_array().unwrap() {
        let k = c["action"].as_str().unwrap().to_string();
        s[&k] = json!(s[&k].as_u64().unwrap() + 1);
    }
    v["summary"] = s;
}

type Edit = fn(&mut Value);

/// Every field of the plan format, edited and resealed by someone who recomputes the sha256:
/// refused with exit 3 before any write, naming what differs. Metadata that decides nothing
/// (`created_at`, `tool_version`) may change; the plan then still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resealed_plan_is_refused_unless_the_planner_makes_the_same_changes() {
    let w = world().await;
    let (plan, _) = applied_then_changed(&w).await;
    let cases: Vec<(&str, &str, Edit)> = vec![
        ("rename", "tenant.beta", |v| {
            body_mut(v, "tenant.beta")["name"] = json!("Evil Corp");
            change_mut(v, "tenant.beta")["after"]["name"] = json!("Evil Corp");
        }),
        ("update-to-cascade-delete", "tenant.beta", |v| {
            let c = change_mut(v, "tenant.beta");
            c["action"] = json!("delete");
            c["after"] = Value::Null;
            c["cascade"] = json!(true);
            c["op"] = json!({"steps": [{"method": "POST", "path": "/v1/mgmt/tenant/delete",
                "body": {"id": "beta", "cascade": true}, "deletes": true}]});
            summary_of(v);
        }),
        ("role-gains-admin", "role.reader", |v| {
            let add = |names: &mut Value| {
                if let Some(a) = names.as_array_mut() {
                    a.extend([json!("User Admin"), json!("Impersonate")]);
                }
            };
            add(&mut body_mut(v, "role.reader")["permissionNames"]);
            add(&mut change_mut(v, "role.reader")["after"]["permissionNames"]);
        }),
        ("change-dropped", "role.reader", |v| {
            let changes = v["changes"].as_array_mut().unwrap();
            changes.retain(|c| c["address"] != "role.reader");
            for (i, c) in changes.iter_mut().enumerate() {
                c["id"] = json!(i);
                c["depends_on"] = json!([]);
            }
            summary_of(v);
        }),
        ("changes-emptied", "summary", |v| {
            v["changes"] = json!([]);
        }),
        ("summary", "summary", |v| {
            v["summary"]["delete"] = json!(0);
        }),
        ("before", "tenant.beta", |v| {
            change_mut(v, "tenant.beta")["before"]["name"] = json!("Other");
        }),
        ("fields", "tenant.beta", |v| {
            change_mut(v, "tenant.beta")["fields"] = json!([]);
        }),
        ("order", "order", |v| {
            let changes = v["changes"].as_array_mut().unwrap();
            changes.reverse();
            for (i, c) in changes.iter_mut().enumerate() {
                c["id"] = json!(i);
            }
        }),
        ("fingerprint-dropped", "tenant.acme", |v| {
            v["fingerprints"]
                .as_object_mut()
                .unwrap()
                .remove("tenant.acme");
        }),
        ("fingerprint-loosened", "tenant.beta", |v| {
            v["fingerprints"]["tenant.beta"] = json!("exists");
        }),
        ("fingerprint-added", "tenant.ghost", |v| {
            v["fingerprints"]["tenant.ghost"] = json!("absent");
        }),
        ("dependency-dropped", "dependencies", |v| {
            v["dependencies"] = json!({});
        }),
        ("target", "the planner makes no change", |v| {
            v["options"]["targets"] = json!(["role.reader"]);
        }),
        ("protected", "protected", |v| {
            v["protected"] = json!(["tenant.beta"]);
        }),
        ("delete-cascade", "delete_cascade", |v| {
            v["delete_cascade"] = json!(["tenant.beta"]);
        }),
        ("forget", "forget", |v| {
            v["forget"] = json!(["tenant.acme"]);
        }),
        ("config-addresses", "config_addresses", |v| {
            v["config_addresses"].as_array_mut().unwrap().pop();
        }),
        ("config-digest", "another configuration", |v| {
            v["config_digest"] = json!("0".repeat(64));
        }),
        ("environment", "environment `prod`", |v| {
            v["environment"] = json!("prod");
        }),
        ("project", "plan is for project", |v| {
            v["project_id"] = json!("P2otherproject00000000000000");
        }),
        ("secret-stand-in", "tenant.beta", |v| {
            let s = json!({"secret": "TENANT_TOKEN", "hmac": "x"});
            body_mut(v, "tenant.beta")["customAttributes"] = json!({"token": s});
        }),
    ];
    let before = w.emu().log().len();
    for (name, names, edit) in cases {
        let path = reseal(&w, &plan, name, edit);
        let out = run(&w, &["apply", path.to_str().unwrap()]).await;
        assert_eq!(code(&out), 3, "{name}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(names), "{name} names {names}: {stderr}");
        assert_eq!(
            writes(&w.emu().log()[before..]),
            Vec::<String>::new(),
            "{name}"
        );
    }
    assert_eq!(
        w.emu().data().role("reader", "").unwrap().permission_names,
        ["docs.read"]
    );

    // Metadata that decides nothing: the plan still applies.
    let path = reseal(&w, &plan, "created-at", |v| {
        v["created_at"] = json!("2020-01-01T00:00:00Z");
        v["tool_version"] = json!("0.0.0-other");
    });
    let out = run(&w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(w.emu().data().tenant("beta").unwrap().name, "Beta Two");
}

/// Drift on an address the plan does not touch is reported and left alone; the plan's own
/// changes still apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_an_untouched_address_is_reported_not_done() {
    let w = world().await;
    let (_, path) = applied_then_changed(&w).await;
    w.emu()
        .mutate(|d| d.tenant_mut("acme").unwrap().name = "Acme (console)".into());
    let out = run(&w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tenant.acme changed live since planning"),
        "{stderr}"
    );
    let d = w.emu().data();
    assert_eq!(d.tenant("acme").unwrap().name, "Acme (console)");
    assert_eq!(d.tenant("beta").unwrap().name, "Beta Two");
}

/// A plan made from one commit's config is not applied with another's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_applied_only_with_the_config_it_was_made_from() {
    let w = world().await;
    let (_, path) = plan_to(&w, "first").await;
    let reviewed = std::fs::read_to_string(w.config_path()).unwrap();
    w.write_config(&reviewed.replace("name: Beta\n", "name: Beta Prime\n"));
    let out = run(&w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("another configuration"),
        "{}",
        text(&out)
    );
    assert_eq!(writes(&w.emu().log()), Vec::<String>::new());
    w.write_config(&reviewed);
    let out = run(&w, &["apply", path.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// A restore plan is re-derived from the backup it names: edited and resealed, it is refused;
/// as written, it applies. `show` counts what the changes hold, whatever `summary` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_plan_is_re_derived_from_its_backup() {
    let w = world().await;
    let (_, second) = applied_then_changed(&w).await;
    let out = run(&w, &["apply", second.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let backups: Vec<PathBuf> = std::fs::read_dir(w.state_path().join("dev/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("permission.docs.write")
        })
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let restore = w.path("restore.plan");
    let out = run(
        &w,
        &[
            "backup",
            "restore",
            backups[0].to_str().unwrap(),
            "-out",
            restore.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let plan = PlanFile::read_verified(&restore).unwrap().into_inner();
    assert!(plan.config_digest.starts_with("backup:sha256:"));

    let edited = reseal(&w, &plan, "restore-edited", |v| {
        body_mut(v, "tenant.beta")["name"] = json!("Evil Corp");
    });
    let before = w.emu().log().len();
    let out = run(&w, &["apply", edited.to_str().unwrap()]).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("tenant.beta"), "{}", text(&out));
    let other_backup = reseal(&w, &plan, "restore-other-backup", |v| {
        v["config_digest"] = json!(format!("backup:sha256:{}", "0".repeat(64)));
    });
    let out = run(&w, &["apply", other_backup.to_str().unwrap()]).await;
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("not in"), "{}", text(&out));
    assert_eq!(writes(&w.emu().log()[before..]), Vec::<String>::new());

    // `show` renders the changes, not a resealed `summary`.
    let emptied = reseal(&w, &plan, "restore-emptied", |v| v["changes"] = json!([]));
    let out = run(&w, &["show", emptied.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No changes"),
        "{}",
        text(&out)
    );

    let out = run(&w, &["apply", restore.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let d = w.emu().data();
    assert_eq!(d.tenant("beta").unwrap().name, "Beta");
    assert!(d.permission("docs.write").is_some());
}

// ---------------------------------------------------------------------------------------------
// Malformed answers (issue 14 §2): every read endpoint × every malformed form is an error that
// names the endpoint, never "no objects".

mod malformed {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use descope_mgmt::api::credentials::Credentials;
    use descope_mgmt::api::gateway::{Gateway, GatewayOptions, RateBudget};
    use descope_mgmt::api::transport::{Transport, TransportOptions};
    use descope_mgmt::kinds::ReadScope;
    use descope_mgmt::model::Address;
    use descope_mgmt::resource::DocForm;
    use descope_mgmt::secret::Secret;
    use httpmock::prelude::*;
    use serde_json::json;

    /// (method, path, list key or document key, a good answer).
    fn endpoints() -> Vec<(
        httpmock::Method,
        &'static str,
        &'static str,
        serde_json::Value,
    )> {
        vec![
            (
                GET,
                "/v1/mgmt/tenant/all",
                "tenants",
                json!({"tenants": []}),
            ),
            (GET, "/v1/mgmt/role/all", "roles", json!({"roles": []})),
            (
                GET,
                "/v1/mgmt/permission/all",
                "permissions",
                json!({"permissions": []}),
            ),
            (
                POST,
                "/v1/mgmt/flow/list",
                "flows",
                json!({"flows": [{"id": "sign-in", "version": 1}]}),
            ),
            (
                POST,
                "/v1/mgmt/flow/export",
                "flow",
                json!({"flow": {"id": "sign-in"}, "screens": []}),
            ),
            (
                POST,
                "/v2/mgmt/flow/export",
                "flow",
                json!({"flow": {"flowId": "sign-up"}}),
            ),
            (
                POST,
                "/v1/mgmt/theme/export",
                "theme",
                json!({"theme": {"id": "t", "cssTemplate": {}}}),
            ),
            (
                POST,
                "/v2/mgmt/theme/export",
                "theme",
                json!({"theme": {"styles": {}}}),
            ),
        ]
    }

    /// Bodies that are not the answer: empty, not JSON, not an object, no key, wrong types.
    fn malformed(key: &str) -> Vec<(&'static str, String)> {
        vec![
            ("empty", String::new()),
            ("whitespace", "  \n".into()),
            ("not-json", "<html>oops</html>".into()),
            ("truncated", format!("{{\"{key}\": [")),
            ("null", "null".into()),
            ("list", "[]".into()),
            ("string", "\"ok\"".into()),
            ("no-key", "{}".into()),
            ("other-key", "{\"items\": []}".into()),
            ("key-is-number", format!("{{\"{key}\": 3}}")),
            ("key-is-string", format!("{{\"{key}\": \"x\"}}")),
            ("entry-not-object", format!("{{\"{key}\": [1]}}")),
        ]
    }

    fn scope() -> ReadScope {
        let flow_v1 = Address::flow("sign-in");
        let flow_v2 = Address::flow("sign-up");
        let theme: Address = "theme".parse().unwrap();
        let forms = BTreeMap::from([
            (flow_v1.clone(), DocForm::V1),
            (flow_v2.clone(), DocForm::V2),
            (theme.clone(), DocForm::V2),
        ]);
        let addresses = [
            Address::tenant("acme"),
            Address::permission("p"),
            Address::role(None, "r"),
            Address::default_roles("acme"),
            flow_v1,
            flow_v2,
            theme,
        ];
        ReadScope::for_addresses(addresses.iter(), &forms)
    }

    async fn read_with(bad_path: &str, bad_body: &str) -> Result<usize, String> {
        let server = MockServer::start_async().await;
        for (method, path, key, good) in endpoints() {
            let mut good = good;
            if path == "/v1/mgmt/flow/list" {
                good[key]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": "sign-up", "version": 1}));
            }
            let body = if path == bad_path {
                bad_body.to_string()
            } else {
                good.to_string()
            };
            server
                .mock_async(|when, then| {
                    when.method(method).path(path);
                    then.status(200).body(body);
                })
                .await;
        }
        let transport = Transport::new(
            Credentials::new(
                "P2testprojectaaaaaaaaaaaaaaa",
                Secret::new("K2key"),
                Some(&server.base_url()),
            ),
            TransportOptions {
                timeout: Duration::from_secs(5),
                ..TransportOptions::default()
            },
        )
        .unwrap();
        let gateway = Gateway::new(
            transport,
            GatewayOptions {
                rate: "1000/1".parse::<RateBudget>().unwrap(),
                max_retries: 1,
                backoff_base: Duration::from_millis(1),
                backoff_cap: Duration::from_millis(2),
                ..GatewayOptions::default()
            },
        );
        descope_mgmt::ops::live::read_graph(&gateway, &scope(), &[], &Secret::new("K2key"))
            .await
            .map(|g| g.resources.len())
            .map_err(|e| e.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_read_endpoint_refuses_every_malformed_answer_naming_the_endpoint() {
        // The good answers read fine (the flows and the theme).
        assert_eq!(read_with("", "").await.unwrap(), 3);
        let mut cases = 0;
        for (_, path, key, _) in endpoints() {
            for (form, body) in malformed(key) {
                let documents = !path.ends_with("/all") && !path.ends_with("/list");
                // A list key holding a string or number is not a document shape to test twice.
                if documents && form == "entry-not-object" {
                    continue;
                }
                let e = read_with(path, &body)
                    .await
                    .expect_err(&format!("{path} answering {form} must be an error"));
                assert!(e.contains(path), "{path} {form}: {e}");
                cases += 1;
            }
        }
        // Documents: `null`, `[]` and `{}` under their key are not a document.
        for (_, path, key, _) in endpoints().into_iter().filter(|e| e.1.contains("export")) {
            for body in [json!({key: null}), json!({key: []}), json!({key: {}})] {
                let e = read_with(path, &body.to_string()).await.unwrap_err();
                assert!(e.contains(path), "{path} {body}: {e}");
                cases += 1;
            }
        }
        assert_eq!(cases, 4 * 12 + 4 * 11 + 4 * 3);
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded input (issue 14 §3): files the configuration names are read only when they are
// regular files inside its directory, within their size limit; each refusal names the file
// and the limit, and none blocks or exhausts memory.

/// Runs `plan` with a deadline: a FIFO used to block it forever.
async fn plan_within(w: &TestEnv, deadline: std::time::Duration) -> Output {
    let mut cmd = w.cmd(&["--config"]);
    cmd.arg(w.config_path())
        .args(["--env", ENV, "--state-dir"])
        .arg(w.state_path())
        .args(["--no-color", "plan"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let id = child.id();
    let waited = tokio::time::timeout(
        deadline,
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()),
    )
    .await;
    match waited {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("plan did not finish within {deadline:?}");
        }
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_oversized_and_outside_files_are_refused_naming_file_and_limit() {
    let w = world().await;
    let base = config(w.emu().project_id(), "Reads the docs");
    let with_overlay = |overlay: &str| {
        base.replacen(
            "    management_key: ${secret:EMU_MANAGEMENT_KEY}\n",
            &format!(
                "    management_key: ${{secret:EMU_MANAGEMENT_KEY}}\n    overlay: {overlay}\n"
            ),
            1,
        )
    };
    let with_flow = |file: &str| format!("{base}flows:\n  - id: sign-in\n    file: {file}\n");
    let with_theme = |file: &str| format!("{base}theme:\n  file: {file}\n");

    let fifo = w.path("theme-fifo.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", w.path("zero.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/urandom", w.path("random.json")).unwrap();
    std::fs::create_dir(w.path("a-directory.yaml")).unwrap();
    let big = std::fs::File::create(w.path("big-flow.json")).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap();
    let big = std::fs::File::create(w.path("big-overlay.yaml")).unwrap();
    big.set_len(5 * 1024 * 1024).unwrap();
    let outside = w.root().parent().unwrap().join("outside-trust-test.json");

    let cases: Vec<(&str, String, &str)> = vec![
        ("theme FIFO", with_theme("theme-fifo.json"), "a FIFO"),
        ("overlay /dev/zero", with_overlay("zero.yaml"), "outside"),
        (
            "overlay absolute /dev/zero",
            with_overlay("/dev/zero"),
            "outside",
        ),
        ("flow /dev/urandom", with_flow("random.json"), "outside"),
        (
            "overlay directory",
            with_overlay("a-directory.yaml"),
            "a directory",
        ),
        ("flow 17 MiB", with_flow("big-flow.json"), "16 MiB"),
        ("overlay 5 MiB", with_overlay("big-overlay.yaml"), "4 MiB"),
        (
            "flow outside",
            with_flow(&format!(
                "../{}",
                outside.file_name().unwrap().to_str().unwrap()
            )),
            "outside",
        ),
    ];
    for (name, yaml, why) in cases {
        w.write_config(&yaml);
        let out = plan_within(&w, std::time::Duration::from_secs(20)).await;
        assert_ne!(code(&out), 0, "{name}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{name} says {why}: {stderr}");
    }
    // The configuration file itself.
    let big = std::fs::File::create(w.config_path()).unwrap();
    big.set_len(5 * 1024 * 1024).unwrap();
    let out = plan_within(&w, std::time::Duration::from_secs(20)).await;
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("4 MiB"),
        "{}",
        text(&out)
    );
    assert_eq!(writes(&w.emu().log()), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Time bounds (issue 14 §4, issue 12 surprise 6).

mod time_bounds {
    use std::time::{Duration, Instant};

    use std::sync::Arc;

    use descope_emulator::{Faults, HookEvent, HookPhase};
    use descope_mgmt::api::credentials::Credentials;
    use descope_mgmt::api::endpoints as ep;
    use descope_mgmt::api::gateway::{Gateway, GatewayOptions, RateBudget};
    use descope_mgmt::api::transport::{Transport, TransportOptions, TIMEOUT_RETRIES};
    use descope_mgmt::api::ApiErrorKind;
    use descope_mgmt::secret::Secret;
    use httpmock::prelude::*;

    use super::{code, run, text, world};
    use crate::util::TestEnv;

    fn gateway(base_url: &str, timeout: Duration) -> Gateway {
        let transport = Transport::new(
            Credentials::new(
                "P2testprojectaaaaaaaaaaaaaaa",
                Secret::new("K2key"),
                Some(base_url),
            ),
            TransportOptions {
                timeout,
                ..TransportOptions::default()
            },
        )
        .unwrap();
        Gateway::new(
            transport,
            GatewayOptions {
                rate: "1000/1".parse::<RateBudget>().unwrap(),
                max_retries: 6,
                backoff_base: Duration::from_millis(5),
                backoff_cap: Duration::from_millis(10),
                ..GatewayOptions::default()
            },
        )
    }

    /// A server slower than the timeout: three attempts, not seven, within the deadline.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_slower_than_the_timeout_gets_fewer_attempts_than_a_failing_one() {
        let server = MockServer::start_async().await;
        let slow = server
            .mock_async(|when, then| {
                when.path("/v1/mgmt/tenant/all");
                then.status(200)
                    .delay(Duration::from_millis(1500))
                    .json_body(serde_json::json!({"tenants": []}));
            })
            .await;
        let failing = server
            .mock_async(|when, then| {
                when.path("/v1/mgmt/role/all");
                then.status(503);
            })
            .await;
        let g = gateway(&server.base_url(), Duration::from_millis(300));
        let started = Instant::now();
        let e = g.read(ep::tenant_load_all()).await.unwrap_err();
        assert_eq!(e.kind, ApiErrorKind::Timeout);
        assert_eq!(slow.calls_async().await, 1 + TIMEOUT_RETRIES as usize);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let e = g.read(ep::role_load_all()).await.unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(failing.calls_async().await, 7);
    }

    /// TLS to a server that does not speak it cannot heal: one attempt, a clear error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tls_failure_is_not_retried() {
        let server = MockServer::start_async().await;
        let url = server.base_url().replace("http://", "https://");
        let g = gateway(&url, Duration::from_secs(2));
        let e = g.read(ep::tenant_load_all()).await.unwrap_err();
        assert!(
            matches!(e.kind, ApiErrorKind::Unreachable(_)),
            "{e} ({:?})",
            e.kind
        );
        assert!(e.to_string().contains("not retried"), "{e}");
        assert_eq!(g.stats().requests, 1);
    }

    /// A plan of another project is refused before the first request of any kind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn apply_refuses_another_projects_plan_before_any_request() {
        let w: TestEnv = world().await;
        let (plan, _) = super::plan_to(&w, "first").await;
        let other = super::reseal(&w, &plan, "other-project", |v| {
            v["project_id"] = serde_json::json!("P2anotherproject000000000000");
        });
        let before = w.emu().log().len();
        let out = run(&w, &["apply", other.to_str().unwrap()]).await;
        assert_eq!(code(&out), 3, "{}", text(&out));
        assert_eq!(w.emu().log().len(), before, "no request at all");
    }

    /// `plan` says what it waits for: each retry is announced on stderr (the API fails until a
    /// request comes back as a retry, then recovers). The reads go out together, so "the second
    /// request" could arrive before the first was refused; a path seen twice is a retry for sure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plan_announces_retries() {
        let w = world().await;
        w.emu().set_faults(Faults {
            fail_rate: 1.0,
            ..Faults::default()
        });
        let console = w.emu().console();
        let seen = std::sync::Mutex::new(std::collections::HashSet::new());
        w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
            if ev.phase == HookPhase::BeforeHandling
                && ev.path != "/v1/mgmt/license"
                && !seen.lock().unwrap().insert(ev.path.clone())
            {
                console.set_faults(Faults::default());
            }
        })));
        let out = run(&w, &["plan"]).await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("retry 1 in"), "{stderr}");
    }

    /// However many retries the gateway allows, one operation ends at its deadline (four times
    /// the timeout here; never under a minute by default).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_operation_gives_up_at_its_deadline() {
        let server = MockServer::start_async().await;
        let failing = server
            .mock_async(|when, then| {
                when.path("/v1/mgmt/tenant/all");
                then.status(503);
            })
            .await;
        let transport = Transport::new(
            Credentials::new(
                "P2testprojectaaaaaaaaaaaaaaa",
                Secret::new("K2key"),
                Some(&server.base_url()),
            ),
            TransportOptions {
                timeout: Duration::from_millis(200),
                deadline_floor: Duration::ZERO,
                ..TransportOptions::default()
            },
        )
        .unwrap();
        assert_eq!(transport.options().deadline(), Duration::from_millis(800));
        let g = Gateway::new(
            transport,
            GatewayOptions {
                rate: "1000/1".parse::<RateBudget>().unwrap(),
                max_retries: 50,
                backoff_base: Duration::from_millis(100),
                backoff_cap: Duration::from_millis(200),
                ..GatewayOptions::default()
            },
        );
        let started = Instant::now();
        let e = g.read(ep::tenant_load_all()).await.unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        let calls = failing.calls_async().await;
        assert!((2..20).contains(&calls), "{calls}");
    }
}

/// Issue 14 §5: the backup holds a secret attribute that had been changed live (so its
/// stand-in is not the variable's); its restore brings back the variable's value and says so,
/// instead of refusing with "secret changed" when neither the variable nor the key did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_a_secret_changed_live_brings_back_the_variables_value_and_says_so() {
    let w = world().await;
    let (_, first) = plan_to(&w, "first").await;
    let out = run(&w, &["apply", first.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    w.emu().mutate(|d| {
        d.tenant_mut("acme")
            .unwrap()
            .custom_attributes
            .insert("token".into(), json!("console-value"))
    });
    w.write_config(
        &config(w.emu().project_id(), "Reads the docs").replace("name: Acme\n", "name: Acme Two\n"),
    );
    let (_, second) = plan_to(&w, "second").await;
    let out = run(&w, &["apply", second.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let backup = std::fs::read_dir(w.state_path().join("dev/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("tenant.acme"))
        .expect("the second apply backed up tenant.acme");
    let backup = backup.to_str().unwrap().to_string();
    let restore = w.path("restore.plan");
    let out = run(
        &w,
        &[
            "backup",
            "restore",
            &backup,
            "-out",
            restore.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("tenant.acme") && said.contains("`token`") && said.contains("TENANT_TOKEN"),
        "{said}"
    );
    assert!(
        !said.contains("console-value") && !said.contains(TOKEN),
        "{said}"
    );
    let out = run(&w, &["apply", restore.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let acme = w.emu().data().tenant("acme").unwrap().clone();
    assert_eq!(acme.name, "Acme");
    assert_eq!(acme.custom_attributes["token"], TOKEN);
}

/// A state directory that cannot be written (read-only, full, or something in the way) stops
/// the apply before its first write to Descope: the backup and the journal come first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_state_directory_stops_apply_before_the_first_write() {
    let w = world().await;
    let (_, second) = applied_then_changed(&w).await;
    let dir = w.state_path().join(ENV);
    type Step = Box<dyn Fn()>;
    let mut cases: Vec<(&str, Step, Step)> = vec![];
    for name in ["backups", "journal"] {
        let path = dir.join(name);
        let (a, b) = (path.clone(), path.clone());
        cases.push((
            name,
            Box::new(move || {
                let _ = std::fs::remove_dir_all(&a);
                std::fs::write(&a, b"in the way").unwrap();
            }),
            Box::new(move || std::fs::remove_file(&b).unwrap()),
        ));
    }
    #[cfg(unix)]
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let (a, b) = (dir.clone(), dir.clone());
        cases.push((
            "read-only",
            Box::new(move || {
                std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o500)).unwrap()
            }),
            Box::new(move || {
                std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o700)).unwrap()
            }),
        ));
    }
    let before = w.emu().log().len();
    for (name, break_it, mend_it) in &cases {
        break_it();
        let out = run(&w, &["apply", second.to_str().unwrap()]).await;
        mend_it();
        assert_eq!(code(&out), 1, "{name}: {}", text(&out));
        assert_eq!(
            writes(&w.emu().log()[before..]),
            Vec::<String>::new(),
            "{name}"
        );
    }
    let out = run(&w, &["apply", second.to_str().unwrap()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
}
