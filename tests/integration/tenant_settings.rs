//! The tenant settings kind (`tenant_settings.<tenant>`, a `settings:` block in a tenant entry)
//! end to end through the executable: validate, plan, apply, no changes after, drift, export.

use descope_emulator::EmulatorOptions;
use serde_json::Value;

use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
tenants:
  - id: acme
    name: Acme
    domains: [acme.com]
    settings:
      enabled: true
      session_token_expiration: 30d
      refresh_token_expiration: 2w
      inactivity_timeout: 90m
      jit_provisioning: false
";

fn settings(w: &TestEnv) -> Value {
    w.emu()
        .data()
        .settings_json("acme")
        .expect("tenant acme exists")
}

#[test]
fn settings_are_planned_applied_compared_drifted_and_exported() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    w.write_config(CONFIG);

    let (code, out, err) = w.run_text(&["plan", "-out", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("tenant_settings.acme"), "{out}");
    let (code, out, err) = w.run_text(&["apply", "plans/a.plan"]);
    assert_eq!(code, 0, "{out}\n{err}");

    let s = settings(&w);
    assert_eq!(s["enabled"], true);
    assert_eq!(s["sessionTokenExpiration"], 30);
    assert_eq!(s["sessionTokenExpirationUnit"], "days");
    assert_eq!(s["refreshTokenExpiration"], 2);
    assert_eq!(s["refreshTokenExpirationUnit"], "weeks");
    assert_eq!(s["enableInactivity"], true);
    assert_eq!(s["inactivityTime"], 90);
    assert_eq!(s["inactivityTimeUnit"], "minutes");
    assert_eq!(s["JITDisabled"], true);
    // The update carried the tenant's own domains, so they are intact.
    assert_eq!(
        s["selfProvisioningDomains"],
        serde_json::json!(["acme.com"])
    );

    // The same config again: equal in canonical form, nothing to do.
    let (code, out, err) = w.run_text(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");

    // A change made in the console is drift, named by its address and field.
    w.emu().mutate(|d| {
        d.tenant_mut("acme")
            .unwrap()
            .settings
            .session_token_expiration = 1;
    });
    let (code, out, err) = w.run_text(&["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("tenant_settings.acme"), "{out}");
    assert!(out.contains("session_token_expiration"), "{out}");

    // Export writes the block back inside the tenant's entry, in the config's own units.
    let (code, out, err) = w.run_text(&["export", "--out", "exp"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let acme = exported["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "acme")
        .expect("acme exported");
    assert_eq!(acme["settings"]["refresh_token_expiration"], "2w", "{yaml}");
    assert_eq!(acme["settings"]["inactivity_timeout"], "90m", "{yaml}");
    assert_eq!(acme["settings"]["jit_provisioning"], false, "{yaml}");
}

#[test]
fn bad_settings_are_reported_at_their_place_in_the_file() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
tenants:
  - id: acme
    name: Acme
    settings:
      session_token_expiration: 3 days
      inactivty_timeout: 30m
",
    );
    let (code, out, err) = w.run_text(&["validate"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("descope.yaml:6:33") && err.contains("is not a duration"),
        "{err}"
    );
    assert!(
        err.contains("descope.yaml:7:7") && err.contains("inactivity_timeout"),
        "{err}"
    );
}

#[test]
fn the_schema_describes_the_settings_block() {
    let w = TestEnv::new();
    let (code, out, _) = w.run_text(&["schema"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&out).unwrap();
    assert!(
        schema
            .pointer("/$defs/TenantConfig/properties/settings")
            .is_some(),
        "{out}"
    );
}
