//! The integration scenarios against a real Descope project: plan, apply, drift, export and
//! restore through the real executable. Ignored unless asked for (so `cargo test` lists them as
//! ignored, with the reason), because they need a project and its management key:
//!
//! ```sh
//! DESCOPE_TEST_PROJECT_ID=P2… DESCOPE_TEST_MANAGEMENT_KEY=… \
//!   cargo test --test integration live:: -- --ignored
//! ```
//!
//! Every object carries a run-unique prefix and is deleted at the end, failed run or not; the
//! rest of the project is never touched (nothing is pruned, nothing else is managed).

use std::process::Output;

use crate::util::TestEnv;

fn credentials() -> (String, String) {
    let get = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{name} is not set: the live suite needs DESCOPE_TEST_PROJECT_ID and DESCOPE_TEST_MANAGEMENT_KEY"
            )
        })
    };
    (
        get("DESCOPE_TEST_PROJECT_ID"),
        get("DESCOPE_TEST_MANAGEMENT_KEY"),
    )
}

fn run(w: &TestEnv, args: &[&str], want: i32) -> Output {
    let out = w.cmd(args).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(want),
        "descope-mgmt {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn config(prefix: &str, tenant_name: &str, with_objects: bool) -> String {
    let objects = if with_objects {
        format!(
            "permissions:\n  - {{name: {prefix}.read, description: live test}}\nroles:\n  - {{name: {prefix}-reader, description: live test, permissions: [{prefix}.read]}}\ntenants:\n  - {{id: {prefix}, name: \"{tenant_name}\"}}\n"
        )
    } else {
        String::new()
    };
    format!(
        "version: 1\nenvironments:\n  live: {{project_id: \"${{DESCOPE_TEST_PROJECT_ID}}\", management_key: \"${{secret:DESCOPE_TEST_MANAGEMENT_KEY}}\"}}\n{objects}"
    )
}

/// Deletes what the run created when the test ends, however it ends: the state file says what
/// is managed, and an empty configuration plans their deletion.
struct Cleanup<'a>(&'a TestEnv);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let w = self.0;
        w.write_config(&config("unused", "", false));
        let _ = w
            .cmd(&["apply", "--env", "live", "--auto-approve"])
            .output();
    }
}

#[test]
#[ignore = "live Descope project: set DESCOPE_TEST_PROJECT_ID and DESCOPE_TEST_MANAGEMENT_KEY, then cargo test --test integration live:: -- --ignored"]
fn plan_apply_drift_export_and_restore_against_a_real_project() {
    let (project, key) = credentials();
    let mut w = TestEnv::new();
    w.vars.insert("DESCOPE_TEST_PROJECT_ID".into(), project);
    w.vars.insert("DESCOPE_TEST_MANAGEMENT_KEY".into(), key);
    let prefix = format!("ci-{}", std::process::id());
    let _cleanup = Cleanup(&w);

    w.write_config(&config(&prefix, "Live Test", true));
    run(&w, &["validate"], 0);
    run(
        &w,
        &[
            "plan",
            "--env",
            "live",
            "-out",
            "plans/create.plan",
            "--detailed-exitcode",
        ],
        2,
    );
    run(&w, &["apply", "plans/create.plan"], 0);
    run(&w, &["plan", "--env", "live", "--detailed-exitcode"], 0);
    run(&w, &["drift", "--env", "live"], 0);

    // A rename, then the undo the apply prints.
    w.write_config(&config(&prefix, "Live Test Renamed", true));
    run(
        &w,
        &["plan", "--env", "live", "-out", "plans/rename.plan"],
        0,
    );
    let out = run(&w, &["apply", "plans/rename.plan"], 0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let restore = text
        .lines()
        .skip_while(|l| !l.starts_with("To undo this apply"))
        .nth(1)
        .unwrap_or_else(|| panic!("no undo command:\n{text}"))
        .trim()
        .to_string();
    let args: Vec<&str> = restore.split_whitespace().skip(1).collect();
    run(&w, &args, 0);
    run(&w, &["apply", "plans/undo.plan"], 0);
    w.write_config(&config(&prefix, "Live Test", true));
    run(&w, &["plan", "--env", "live", "--detailed-exitcode"], 0);

    // Export sees what was made (among whatever else the project holds).
    run(&w, &["export", "--env", "live", "--out", "exported"], 0);
    let exported = std::fs::read_to_string(w.path("exported/descope.yaml")).unwrap();
    assert!(exported.contains(&prefix), "{exported}");
}
