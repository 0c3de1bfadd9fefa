//! The team workflow as a careful new user meets it (issue 12's numbered surprises): each test
//! runs the real executable the way the user did and checks what they should have seen.

use std::process::Output;
use std::sync::Arc;

use descope_emulator::{EmulatorOptions, HookEvent, HookPhase, Tenant};
use descope_mgmt::apply::execute::{NoProgress, OpOutcome};
use descope_mgmt::ops::apply::{apply, ApplyRequest};
use descope_mgmt::ops::plan::PlanRequest;

use crate::util::TestEnv;

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn both(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", stdout(out), stderr(out))
}

/// Runs and insists on the exit code, showing everything the command said when it differs.
fn expect(w: &TestEnv, args: &[&str], want: i32) -> Output {
    let out = w.cmd(args).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(code(&out), want, "descope-mgmt {args:?}\n{}", both(&out));
    out
}

fn live_tenant(id: &str, name: &str) -> Tenant {
    Tenant {
        id: id.into(),
        name: name.into(),
        created_time: 1_700_000_000,
        ..Default::default()
    }
}

const ONE_TENANT: &str = "version: 1\ntenants:\n  - {id: acme, name: Acme}\n";

const FAST: &str = "--rate-limit=100000/60";

// ---------------------------------------------------------------------------------------------
// 1. state import of an address the config does not name

#[test]
fn importing_an_address_the_config_does_not_name_is_refused() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.emu()
        .mutate(|d| d.tenants.push(live_tenant("stray", "Stray")));
    w.write_config(ONE_TENANT);
    let out = expect(&w, &[FAST, "state", "import", "tenant.stray"], 1);
    let err = stderr(&out);
    assert!(err.contains("not in the configuration"), "{err}");
    assert!(!stdout(&out).contains("now managed"), "{}", both(&out));
    // Nothing was recorded, so the next plan cannot delete it.
    let list = expect(&w, &["state", "list"], 0);
    assert!(!stdout(&list).contains("tenant.stray"), "{}", both(&list));
    let plan = expect(&w, &[FAST, "plan"], 0);
    assert!(
        !stdout(&plan).contains("will be deleted"),
        "{}",
        both(&plan)
    );

    // What drift recommends for an unmanaged resource must be a command that works.
    let drift = expect(&w, &[FAST, "drift"], 2);
    assert!(
        stdout(&drift).contains("add it to the config"),
        "{}",
        both(&drift)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. offline commands demand no secrets

const TWO_ENVS: &str = "version: 1
environments:
  dev:  {project_id: P2aAc4T2V93bddihGEx2Ryhc8e5Z, management_key: \"${secret:DESCOPE_DEV_KEY}\"}
  prod: {project_id: P2eKx7QaM04oTvAzD2sNh6JuF9rC, management_key: \"${secret:DESCOPE_PROD_KEY}\"}
tenants:
  - id: acme
    name: Acme
    custom_attributes: {token: \"${secret:ACME_TOKEN}\"}
";

#[test]
fn offline_commands_run_without_any_secret() {
    let w = TestEnv::new();
    w.write_config(TWO_ENVS);
    for args in [
        &["validate"][..],
        &["validate", "--env", "prod"],
        &["state", "list", "--env", "dev"],
        &["backup", "list", "--env", "prod"],
    ] {
        let out = expect(&w, args, 0);
        assert!(
            !stderr(&out).contains("not set"),
            "{args:?}: {}",
            both(&out)
        );
    }
    let out = expect(&w, &["validate"], 0);
    assert!(stdout(&out).contains("dev: valid"), "{}", both(&out));
    assert!(stdout(&out).contains("prod: valid"), "{}", both(&out));
    // Talking to Descope still needs the key, and says which.
    let out = expect(&w, &["plan", "--env", "dev"], 1);
    assert!(stderr(&out).contains("DESCOPE_DEV_KEY"), "{}", both(&out));
}

// ---------------------------------------------------------------------------------------------
// 3. Ctrl-C stops queued work

/// Four independent creates queued for their turn; the interrupt arrives while the first is on
/// the wire. Only that one may finish: the rest are not started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_leaves_operations_waiting_for_the_budget_not_started() {
    let w = TestEnv::start(EmulatorOptions::default()).await;
    w.write_config(
        "version: 1\nsettings: {rate_limit: \"10000/60\"}\ntenants:\n  - {id: t-one, name: One}\n  - {id: t-two, name: Two}\n  - {id: t-three, name: Three}\n  - {id: t-four, name: Four}\n",
    );
    let path = w.path("plans/p.plan");
    let planned = w
        .plan(PlanRequest {
            out: Some(path.clone()),
            ..PlanRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(planned.plan.changes.len(), 4);

    // One request in flight at a time: while the first create is on the wire, the other three
    // wait for their turn, which the interrupt must cancel.
    let session = w.session_with(|o| o.parallelism = Some(1));
    let interrupt = session.interrupt.clone();
    w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
        if ev.phase == HookPhase::BeforeHandling && ev.path == "/v1/mgmt/tenant/create" {
            interrupt.trigger();
        }
    })));
    let report = apply(
        &session,
        ApplyRequest {
            plan: descope_mgmt::plan::PlanFile::read_verified(&path).unwrap(),
            lock_timeout: std::time::Duration::ZERO,
            access_key_out: None,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    w.emu().set_hook(None);
    let outcomes: Vec<&OpOutcome> = report.results.iter().map(|r| &r.outcome).collect();
    let done = outcomes.iter().filter(|o| o.is_success()).count();
    let not_run = outcomes
        .iter()
        .filter(|o| matches!(o, OpOutcome::NotRun))
        .count();
    assert_eq!((done, not_run), (1, 3), "{outcomes:?}");
    assert_eq!(w.emu().data().tenants.len(), 1);
    assert!(!report.all_succeeded());
}

// ---------------------------------------------------------------------------------------------
// 4. silent no-ops

#[test]
fn an_unknown_target_is_an_error_with_a_suggestion() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    let out = expect(&w, &[FAST, "plan", "--target", "tenant.acmee"], 1);
    let err = stderr(&out);
    assert!(err.contains("tenant.acmee"), "{err}");
    assert!(err.contains("did you mean `tenant.acme`"), "{err}");
    // Known to be wrong before any request is sent.
    assert!(w.emu().log().is_empty(), "{:?}", w.emu().log());
    // A target that only exists live (a delete) or in state is known.
    expect(&w, &[FAST, "plan", "--target", "tenant.acme"], 0);
}

#[test]
fn apply_of_a_saved_plan_refuses_planning_flags() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    expect(&w, &[FAST, "plan", "-out", "plans/p.plan"], 0);
    for flag in [
        &["--target", "tenant.acme"][..],
        &["--prune", "tenant"],
        &["--allow-replace", "tenant.acme"],
    ] {
        let mut args = vec![FAST, "apply", "plans/p.plan"];
        args.extend_from_slice(flag);
        let out = expect(&w, &args, 1);
        assert!(
            stderr(&out).contains("the plan file is what was reviewed"),
            "{}",
            both(&out)
        );
    }
    assert!(w.emu().data().tenants.iter().all(|t| t.id != "acme"));
}

#[test]
fn quiet_plan_still_prints_the_result() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    let out = expect(&w, &[FAST, "-q", "plan"], 0);
    let text = stdout(&out);
    assert!(text.contains("Plan: 1 to create"), "{}", both(&out));
    assert!(
        !text.contains("Symbols"),
        "quiet means no narration: {text}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Terraform's single-dash long flags

#[test]
fn terraform_spellings_of_long_flags_work() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    let out = expect(
        &w,
        &[
            FAST,
            "plan",
            "-detailed-exitcode",
            "-target=tenant.acme",
            "-out=plans/p.plan",
        ],
        2,
    );
    assert!(stdout(&out).contains("tenant.acme"), "{}", both(&out));
    expect(
        &w,
        &[
            FAST,
            "apply",
            "-auto-approve",
            "-lock-timeout=1s",
            "plans/p.plan",
        ],
        0,
    );
    let out = expect(&w, &[FAST, "-q", "plan", "-detailed-exitcode"], 0);
    assert!(stdout(&out).contains("No changes"), "{}", both(&out));
}

// ---------------------------------------------------------------------------------------------
// 7. export's next commands work as printed

#[test]
fn export_prints_next_commands_that_work_as_printed() {
    let mut w = TestEnv::start_blocking(EmulatorOptions::default());
    w.emu()
        .mutate(|d| d.tenants.push(live_tenant("acme", "Acme")));
    let key = w.vars.remove("DESCOPE_MANAGEMENT_KEY").unwrap();
    let project = w.vars.remove("DESCOPE_PROJECT_ID").unwrap();
    w.vars.insert("DESCOPE_DEV_KEY".into(), key);
    w.write_config(&format!(
        "version: 1\nenvironments:\n  dev: {{project_id: {project}, management_key: \"${{secret:DESCOPE_DEV_KEY}}\"}}\n"
    ));
    let out = expect(&w, &[FAST, "export", "--env", "dev", "--out", "exp"], 0);
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    assert!(yaml.contains("${secret:DESCOPE_DEV_KEY}"), "{yaml}");
    let next = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("Next: ").map(str::to_string))
        .unwrap_or_else(|| panic!("no Next: line\n{}", both(&out)));
    let commands: Vec<&str> = next.split("  and  ").collect();
    assert_eq!(commands.len(), 2, "{next}");
    for command in commands {
        // The trailing "(no changes expected)" is prose, not arguments.
        let command = command.split(" (").next().unwrap();
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[0], "descope-mgmt", "{command}");
        let mut args = vec![FAST];
        args.extend(&words[1..]);
        let out = expect(&w, &args, 0);
        if words[1] == "plan" {
            assert!(stdout(&out).contains("No changes"), "{}", both(&out));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 8. smaller ones

#[test]
fn a_variable_in_a_flow_sequence_hints_at_quoting() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1\ntenants:\n  - {id: acme, name: Acme, domains: [acme.${SUFFIX:-com}]}\n",
    );
    let out = expect(&w, &["validate"], 1);
    assert!(stderr(&out).contains("quote"), "{}", both(&out));
}

#[test]
fn an_empty_directory_says_what_to_do_next() {
    let w = TestEnv::new();
    let out = expect(&w, &["plan"], 1);
    let err = stderr(&out);
    assert!(err.contains("descope-mgmt init"), "{err}");
    assert!(err.contains("descope-mgmt export"), "{err}");
}

#[test]
fn log_lines_carry_no_colour_codes_when_piped() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    // Neither NO_COLOR nor --no-color: piping alone must be enough.
    let out = w.cmd(&[FAST, "-vv", "plan"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", both(&out));
    let err = stderr(&out);
    assert!(err.contains("DEBUG"), "-vv logs something: {err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn plan_and_apply_count_a_replace_the_same_way() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(
        "version: 1\ntenants:\n  - {id: holding, name: Holding}\n  - {id: acme, name: Acme}\n",
    );
    expect(&w, &[FAST, "apply", "-auto-approve"], 0);
    w.write_config(
        "version: 1\ntenants:\n  - {id: holding, name: Holding}\n  - {id: acme, name: Acme, parent: holding}\n",
    );
    let out = expect(
        &w,
        &[
            FAST,
            "plan",
            "--allow-replace",
            "tenant.acme",
            "-out",
            "p.plan",
        ],
        0,
    );
    assert!(
        stdout(&out).contains("Plan: 0 to create, 0 to update, 0 to delete, 1 to replace."),
        "{}",
        both(&out)
    );
    let out = expect(&w, &[FAST, "apply", "p.plan"], 0);
    assert!(
        stdout(&out).contains("0 created, 0 updated, 0 deleted, 1 replaced"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_short_secret_does_not_mangle_messages() {
    let mut w = TestEnv::new();
    w.vars.insert("SHORT".into(), "y".into());
    w.write_config(
        "version: 1\ntenants:\n  - {id: acme, name: Acme, custom_attributes: {k: \"${secret:SHORT}\"}, overlay_typo: 1}\n",
    );
    let out = expect(&w, &["validate"], 1);
    let err = stderr(&out);
    assert!(err.contains("overlay_typo"), "{err}");
    assert!(err.contains("descope.yaml"), "{err}");
}

#[test]
fn a_management_key_variable_that_disagrees_with_the_config_is_an_error() {
    let mut w = TestEnv::start_blocking(EmulatorOptions::default());
    let key = w.vars.get("DESCOPE_MANAGEMENT_KEY").unwrap().clone();
    w.vars.insert("DESCOPE_DEV_KEY".into(), key.clone());
    w.vars
        .insert("DESCOPE_MANAGEMENT_KEY".into(), format!("{key}-other"));
    w.write_config(
        "version: 1\nenvironments:\n  dev: {management_key: \"${secret:DESCOPE_DEV_KEY}\"}\ntenants:\n  - {id: acme, name: Acme}\n",
    );
    let out = expect(&w, &[FAST, "plan", "--env", "dev"], 1);
    let err = stderr(&out);
    assert!(err.contains("DESCOPE_MANAGEMENT_KEY"), "{err}");
    assert!(err.contains("DESCOPE_DEV_KEY"), "{err}");
    assert!(!err.contains(&key), "never the key itself: {err}");
    // Agreeing values are fine.
    w.vars.insert("DESCOPE_MANAGEMENT_KEY".into(), key);
    expect(&w, &[FAST, "plan", "--env", "dev"], 0);
}

#[test]
fn state_show_prints_the_recorded_attributes() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(
        "version: 1\ntenants:\n  - {id: acme, name: Acme Corporation, domains: [acme.com]}\n",
    );
    expect(&w, &[FAST, "apply", "-auto-approve"], 0);
    let out = expect(&w, &["state", "show", "tenant.acme"], 0);
    let text = stdout(&out);
    assert!(text.contains("Acme Corporation"), "{text}");
    assert!(text.contains("acme.com"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// the undo command printed after every apply, and restore through the one planner

/// The tenants as the tests compare them: id → (name, domains, parent).
fn tenants(w: &TestEnv) -> Vec<(String, String, Vec<String>, String)> {
    let mut v: Vec<_> = w
        .emu()
        .data()
        .tenants
        .iter()
        .map(|t| {
            let mut d = t.self_provisioning_domains.clone();
            d.sort();
            (t.id.clone(), t.name.clone(), d, t.parent.clone())
        })
        .collect();
    v.sort();
    v
}

/// One apply swaps two tenants' domains, renames a third and replaces a fourth (its parent
/// changed); the command it prints undoes all of it, through the same planner as `plan`.
#[test]
fn the_printed_undo_command_reverts_a_swap_a_rename_and_a_replace() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let original = "version: 1
tenants:
  - {id: holding, name: Holding}
  - {id: alpha, name: Alpha, domains: [alpha.com]}
  - {id: beta, name: Beta, domains: [beta.com]}
  - {id: gamma, name: Gamma}
  - {id: delta, name: Delta}
";
    w.write_config(original);
    let out = expect(&w, &[FAST, "apply", "-auto-approve"], 0);
    // Creations only: no backup could bring back their absence, and it says what undoes them.
    assert!(
        stdout(&out).contains("no backup brings them back"),
        "{}",
        both(&out)
    );
    assert!(!stdout(&out).contains("backup restore"), "{}", both(&out));
    let before = tenants(&w);

    w.write_config(
        "version: 1
tenants:
  - {id: holding, name: Holding}
  - {id: alpha, name: Alpha, domains: [beta.com]}
  - {id: beta, name: Beta, domains: [alpha.com]}
  - {id: gamma, name: Gamma Renamed}
  - {id: delta, name: Delta, parent: holding}
",
    );
    expect(
        &w,
        &[
            FAST,
            "plan",
            "--allow-replace",
            "tenant.delta",
            "-out",
            "plans/change.plan",
        ],
        0,
    );
    let out = expect(&w, &[FAST, "apply", "plans/change.plan"], 0);
    assert_ne!(tenants(&w), before);
    let text = stdout(&out);
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("To undo this apply"));
    let restore = lines
        .nth(1)
        .unwrap_or_else(|| panic!("no undo command:\n{text}"))
        .trim();
    let apply = lines.next().unwrap().trim();
    assert!(
        restore.starts_with("descope-mgmt backup restore "),
        "{restore}"
    );
    assert!(
        restore.contains("--allow-replace tenant.delta"),
        "{restore}"
    );
    assert_eq!(apply, "descope-mgmt apply plans/undo.plan");

    for command in [restore, apply] {
        let mut args = vec![FAST];
        args.extend(command.split_whitespace().skip(1));
        let out = expect(&w, &args, 0);
        if command == restore {
            // Each resource once: the swap goes through a temporary release, not a repeat.
            let plan = stdout(&out);
            assert_eq!(plan.matches("~ tenant.gamma").count(), 1, "{plan}");
        }
    }
    assert_eq!(tenants(&w), before);
    // Back where the original config was: planning it again changes nothing.
    w.write_config(original);
    let out = expect(&w, &[FAST, "plan", "-detailed-exitcode"], 0);
    assert!(stdout(&out).contains("No changes"), "{}", both(&out));
}

// ---------------------------------------------------------------------------------------------
// conveniences: init, config discovery

#[test]
fn init_writes_a_starter_that_validates_and_never_overwrites() {
    let w = TestEnv::new();
    let out = expect(&w, &["init"], 0);
    assert!(
        stdout(&out).contains("descope-mgmt validate"),
        "{}",
        both(&out)
    );
    let text = std::fs::read_to_string(w.config_path()).unwrap();
    assert!(text.starts_with("# descope.yaml"), "{text}");
    expect(&w, &["validate"], 0);
    let out = expect(&w, &["init"], 1);
    assert!(stderr(&out).contains("already exists"), "{}", both(&out));
    assert_eq!(std::fs::read_to_string(w.config_path()).unwrap(), text);
}

/// From a subdirectory the nearest parent's descope.yaml is used (and named), and its state and
/// plans live next to it, so the same commands work from anywhere in the project.
#[test]
fn the_nearest_configuration_is_found_and_its_directory_holds_state_and_plans() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(ONE_TENANT);
    std::fs::create_dir_all(w.path("a/b")).unwrap();
    let sub = |args: &[&str]| {
        let mut cmd = w.cmd(args);
        cmd.current_dir(w.path("a/b")).env("NO_COLOR", "1");
        cmd.output().unwrap()
    };
    let out = sub(&[FAST, "plan", "-out", "plans/p.plan"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stderr(&out).contains("Using the configuration ../../descope.yaml"),
        "{}",
        both(&out)
    );
    assert!(w.path("plans/p.plan").is_file(), "{}", both(&out));
    let out = sub(&[FAST, "apply", "plans/p.plan"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(w.path("state/default/state.json").is_file());
    assert!(!w.path("a/b/state").exists());

    // .descope/config.yaml counts too, and DESCOPE_CONFIG names one outright.
    let other = TestEnv::new();
    other.write(".descope/config.yaml", ONE_TENANT);
    expect(&other, &["validate"], 0);
    let out = other
        .cmd(&["validate"])
        .env("DESCOPE_CONFIG", w.config_path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", both(&out));
}

// ---------------------------------------------------------------------------------------------
// one flow file for every environment

#[test]
fn flow_files_take_variables_per_environment_and_never_secrets() {
    use descope_mgmt::config::{load, LoadOptions, VarSource};
    let w = TestEnv::new();
    w.write_config(
        "version: 1
environments:
  dev: {project_id: P2aAc4T2V93bddihGEx2Ryhc8e5Z, management_key: \"${secret:DEV_KEY}\", vars: {APP_URL: https://dev.example.com}}
  prod: {project_id: P2eKx7QaM04oTvAzD2sNh6JuF9rC, management_key: \"${secret:PROD_KEY}\", vars: {APP_URL: https://example.com}}
flows: [{id: sign-in, file: flows/sign-in.json}]
",
    );
    let doc = serde_json::json!({
        "flow": {"id": "sign-in", "dsl": {"redirect": "${APP_URL}/done", "label": "${LABEL:-Sign in}", "js": "$${literal}"}},
        "screens": []
    });
    w.write_flow("sign-in", &doc);
    let read = |env: &str| {
        let l = load(&LoadOptions {
            path: w.config_path(),
            env: Some(env.into()),
            vars: VarSource::from_pairs([("DEV_KEY", "k"), ("PROD_KEY", "k")]),
        })
        .unwrap();
        l.read_json("flows/sign-in.json").unwrap()
    };
    assert_eq!(
        read("dev")["flow"]["dsl"]["redirect"],
        "https://dev.example.com/done"
    );
    assert_eq!(
        read("prod")["flow"]["dsl"]["redirect"],
        "https://example.com/done"
    );
    assert_eq!(read("prod")["flow"]["dsl"]["label"], "Sign in");
    assert_eq!(read("prod")["flow"]["dsl"]["js"], "${literal}");
    expect(&w, &["validate"], 0);

    // A missing variable and a secret are errors that name the file and the place.
    let mut bad = doc.clone();
    bad["flow"]["dsl"]["redirect"] = serde_json::json!("${NOWHERE}");
    bad["flow"]["dsl"]["token"] = serde_json::json!("${secret:DEV_KEY}");
    w.write_flow("sign-in", &bad);
    let out = expect(&w, &["validate", "--env", "dev"], 1);
    let err = stderr(&out);
    assert!(err.contains("sign-in.json"), "{err}");
    assert!(err.contains("NOWHERE") || err.contains("secret"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// environment from the git branch

#[test]
fn the_git_branch_chooses_the_environment_but_never_for_apply_without_a_plan() {
    let mut w = TestEnv::start_blocking(EmulatorOptions::default());
    let key = w.vars.remove("DESCOPE_MANAGEMENT_KEY").unwrap();
    let project = w.vars.remove("DESCOPE_PROJECT_ID").unwrap();
    w.vars.insert("DEV_KEY".into(), key);
    w.write_config(&format!(
        "version: 1
settings:
  branch_environments: {{main: prod, \"feature/*\": dev}}
environments:
  dev: {{project_id: {project}, management_key: \"${{secret:DEV_KEY}}\"}}
  prod: {{project_id: P2eKx7QaM04oTvAzD2sNh6JuF9rC, management_key: \"${{secret:PROD_KEY}}\"}}
tenants:
  - {{id: acme, name: Acme}}
"
    ));
    w.write(".git/HEAD", "ref: refs/heads/feature/login\n");
    let run = |args: &[&str]| {
        let mut cmd = w.cmd(args);
        cmd.env_remove("GITHUB_HEAD_REF").env("NO_COLOR", "1");
        cmd.output().unwrap()
    };
    let out = run(&["validate"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    let out = run(&[FAST, "plan", "-out", "plans/dev.plan"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(
        stderr(&out).contains("Environment `dev` from git branch `feature/login`"),
        "{}",
        both(&out)
    );
    let out = run(&[FAST, "apply", "-auto-approve"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(stderr(&out).contains("pass --env dev"), "{}", both(&out));
    // The reviewed plan file names its environment itself.
    let out = run(&[FAST, "apply", "plans/dev.plan"]);
    assert_eq!(code(&out), 0, "{}", both(&out));
    assert!(w.emu().data().tenants.iter().any(|t| t.id == "acme"));

    // A mapping to an environment that does not exist is a configuration error.
    let text = std::fs::read_to_string(w.config_path()).unwrap();
    w.write_config(&text.replace("\"feature/*\": dev", "\"feature/*\": qa"));
    let out = run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", both(&out));
    assert!(
        stderr(&out).contains("mapped to environment `qa`"),
        "{}",
        both(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// list

#[test]
fn list_reads_live_and_marks_what_is_managed() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.emu()
        .mutate(|d| d.tenants.push(live_tenant("stray", "Stray")));
    w.write_config(
        "version: 1\ntenants:\n  - {id: acme, name: Acme}\n  - {id: later, name: Later}\n",
    );
    expect(
        &w,
        &[FAST, "apply", "-auto-approve", "--target", "tenant.acme"],
        0,
    );
    let out = expect(&w, &[FAST, "list", "tenants"], 0);
    let text = stdout(&out);
    let line = |a: &str| {
        text.lines()
            .find(|l| l.starts_with(a))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("tenant.acme ").ends_with("managed"), "{text}");
    assert!(line("tenant.stray ").ends_with("unmanaged"), "{text}");
    assert!(line("tenant.later").is_empty(), "not live yet: {text}");
    let out = expect(&w, &[FAST, "list", "tenants", "--format", "json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acme = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["address"] == "tenant.acme")
        .unwrap();
    assert_eq!(acme["managed"], true);
    assert_eq!(acme["name"], "Acme");
    expect(&w, &[FAST, "list", "flows"], 0);
    let out = expect(&w, &[FAST, "list", "widgets"], 1);
    assert!(stderr(&out).contains("tenants"), "{}", both(&out));
}

// ---------------------------------------------------------------------------------------------
// the troubleshooting page covers every configuration diagnostic

#[test]
fn troubleshooting_explains_every_configuration_diagnostic() {
    let root = env!("CARGO_MANIFEST_DIR");
    let source = std::fs::read_to_string(format!("{root}/src/config/diagnostic.rs")).unwrap();
    let page = std::fs::read_to_string(format!("{root}/docs/troubleshooting.md")).unwrap();
    // The kinds as `as_str` spells them: `Name => "name",`.
    let kinds: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim().split_once(" => \"")?.1.strip_suffix("\","))
        .collect();
    assert!(kinds.len() > 30, "{kinds:?}");
    let missing: Vec<&&str> = kinds
        .iter()
        .filter(|k| !page.contains(&format!("`{k}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md does not explain {missing:?}"
    );
}
