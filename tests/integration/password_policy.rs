//! The password policy kind (`password_policy`, `password_policy.<tenant>`) end to end through
//! the executable: plan, apply, no changes after, drift, export, and `--target` by address.

use descope_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
password_policy:
  min_length: 12
  uppercase: true
  lockout_attempts: 5
tenants:
  - id: acme
    name: Acme
    password_policy:
      min_length: 16
      expiration_weeks: 26
";

#[test]
fn project_and_tenant_policies_are_planned_applied_drifted_and_exported() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);

    let (code, out, err) = w.run_text(&["plan", "-out", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("password_policy.acme"), "{out}");
    assert!(out.contains("password_policy "), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");

    let data = w.emu().data();
    let project = &data.password_settings;
    assert_eq!((project.min_length, project.uppercase), (12, true));
    assert_eq!((project.lock, project.lock_attempts), (true, 5));
    let acme = data
        .tenant("acme")
        .unwrap()
        .password_settings
        .clone()
        .unwrap();
    assert_eq!(acme.min_length, 16);
    assert_eq!((acme.expiration, acme.expiration_weeks), (true, 26));
    // Fields the tenant's block leaves out keep what it had (the project's, inherited).
    assert!(acme.uppercase);

    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");

    // Turning expiry off in the console is drift on the tenant's policy only.
    w.emu().mutate(|d| {
        d.tenant_mut("acme")
            .unwrap()
            .password_settings
            .as_mut()
            .unwrap()
            .expiration = false;
    });
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("password_policy.acme"), "{out}");
    assert!(out.contains("expiration_weeks"), "{out}");

    // A plan targeted at the project's policy leaves the tenant's drift alone.
    let (code, out, err) = w.run_text(&["plan", "--target", "password_policy"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("password_policy.acme"), "{out}");

    let (code, out, err) = w.run_text(&["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(exported["password_policy"]["min_length"], 12, "{yaml}");
    assert_eq!(exported["password_policy"]["lockout_attempts"], 5, "{yaml}");
    let tenant = &exported["tenants"][0];
    assert_eq!(tenant["password_policy"]["min_length"], 16, "{yaml}");
    assert_eq!(tenant["password_policy"]["expiration_weeks"], 0, "{yaml}");
}

#[test]
fn a_zero_minimum_length_and_a_typo_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config("version: 1\npassword_policy:\n  min_length: 0\n  upercase: true\n");
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("descope.yaml:3:15"), "{err}");
    assert!(
        err.contains("descope.yaml:4:3") && err.contains("uppercase"),
        "{err}"
    );
}
