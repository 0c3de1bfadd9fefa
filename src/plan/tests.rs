//! Planner unit tests over constructed configs and live snapshots (the emulator-backed
//! end-to-end tests live in tests/integration/plan.rs).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::diff::{Ownership, PlanOptions};
use super::*;
use crate::config::{Config, PermissionConfig, RoleConfig, TenantConfig};
use crate::resource::desired::{self, DesiredInput};
use crate::resource::live::{self, LiveSnapshot};
use crate::secret::Secret;

fn no_docs(_: &str) -> Result<Value, String> {
    Err("none".into())
}

fn ctx() -> PlanContext {
    PlanContext {
        project_id: "P2test".into(),
        environment: "dev".into(),
        config_digest: "sha256:cfg".into(),
        created_at: "2026-11-21T00:00:00Z".into(),
    }
}

fn plan_of(
    cfg: &Config,
    snap: &LiveSnapshot,
    own: &Ownership,
    opts: &PlanOptions,
) -> Result<PlanFile, Vec<diff::Problem>> {
    let key = Secret::new("key");
    let d = desired::build(&DesiredInput {
        config: cfg,
        secrets: &BTreeMap::new(),
        key: &key,
        read_document: &no_docs,
        read_text: &|_: &str| Err("no files in this test".to_string()),
    })
    .unwrap();
    let l = live::build(snap, &d.secret_fields, &key);
    make_plan(&ctx(), &d, &l, own, opts)
}

fn tenant(id: &str, parent: Option<&str>) -> TenantConfig {
    TenantConfig {
        id: id.into(),
        name: format!("Tenant {id}"),
        parent: parent.map(String::from),
        domains: Some(vec![format!("{id}.com")]),
        ..Default::default()
    }
}

fn order(p: &PlanFile) -> Vec<String> {
    p.changes
        .iter()
        .map(|c| format!("{} {}", c.action.symbol(), c.address))
        .collect()
}

fn base_config() -> Config {
    Config {
        version: 1,
        permissions: vec![PermissionConfig {
            name: "billing.read".into(),
            description: Some("Read billing".into()),
            ..Default::default()
        }],
        roles: vec![
            RoleConfig {
                name: "admin".into(),
                permissions: Some(vec!["billing.read".into(), "User Admin".into()]),
                ..Default::default()
            },
            RoleConfig {
                name: "viewer".into(),
                tenant: Some("acme".into()),
                permissions: Some(vec![]),
                ..Default::default()
            },
        ],
        tenants: vec![
            TenantConfig {
                default_roles: Some(vec!["viewer".into()]),
                ..tenant("acme", Some("holding"))
            },
            tenant("holding", None),
        ],
        ..Default::default()
    }
}

fn system_snapshot() -> LiveSnapshot {
    LiveSnapshot::default()
        .with_list(
            "permissions",
            vec![json!({"name":"User Admin","description":"","systemDefault":true})],
        )
        .with_list(
            "roles",
            vec![json!({"name":"Tenant Admin","permissionNames":["User Admin"]})],
        )
}

#[test]
fn creates_run_in_dependency_order() {
    let p = plan_of(
        &base_config(),
        &system_snapshot(),
        &Ownership::default(),
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(
        order(&p),
        [
            "+ permission.billing.read",
            "+ role.admin",
            "+ tenant.holding",
            "+ tenant.acme",
            "+ role.acme/viewer",
            "+ tenant_default_roles.acme",
        ]
    );
    // Every dependency points backwards in execution order.
    for c in &p.changes {
        assert!(c.depends_on.iter().all(|&d| d < c.id), "{c:?}");
    }
    assert_eq!(
        p.dependencies
            .get(&"permission.User Admin".parse().unwrap())
            .map(crate::plan::Expected::as_str),
        Some("exists")
    );
    assert_eq!(
        p.summary.line(),
        "Plan: 6 to create, 0 to update, 0 to delete."
    );
}

#[test]
fn planning_twice_gives_identical_bytes_and_any_edit_breaks_the_digest() {
    let a = plan_of(
        &base_config(),
        &system_snapshot(),
        &Ownership::default(),
        &PlanOptions::default(),
    )
    .unwrap();
    let b = plan_of(
        &base_config(),
        &system_snapshot(),
        &Ownership::default(),
        &PlanOptions::default(),
    )
    .unwrap();
    let text = a.to_canonical_string();
    assert_eq!(text, b.to_canonical_string());
    let path = std::path::Path::new("p.plan");
    assert!(PlanFile::parse_verified(&text, path).is_ok());
    let edited = text.replacen("Tenant acme", "Tenant acmf", 1);
    assert!(matches!(
        PlanFile::parse_verified(&edited, path),
        Err(file::PlanFileError::DigestMismatch { .. })
    ));
    let spaced = text.replacen("{\n", "{ \n", 1);
    assert!(matches!(
        PlanFile::parse_verified(&spaced, path),
        Err(file::PlanFileError::NotCanonical { .. })
    ));
}

#[test]
fn update_keeps_unmanaged_live_fields_and_shows_only_managed_ones() {
    let cfg = Config {
        version: 1,
        tenants: vec![TenantConfig {
            id: "acme".into(),
            name: "Acme".into(),
            domains: Some(vec!["acme.com".into(), "acme.io".into()]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let snap = LiveSnapshot::default().with_list("tenants", vec![
            json!({"id":"acme","name":"Acme","selfProvisioningDomains":["acme.com"],
            "customAttributes":{"crm":"123"},"enforceSSO":true,"createdTime":1700000000,"authType":"saml"}),
        ]);
    let p = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap();
    assert_eq!(order(&p), ["~ tenant.acme"]);
    let c = &p.changes[0];
    assert_eq!(c.reason.to_string(), "domains changed");
    let after = c.after.as_ref().unwrap();
    assert_eq!(after["customAttributes"], json!({"crm":"123"}));
    assert_eq!(after["enforceSSO"], json!(true));
    // No SDK sends authType on tenant/update: it belongs to SSO and tenant settings.
    assert!(after.get("authType").is_none(), "authType is not sent");
    assert_eq!(
        after["selfProvisioningDomains"],
        json!(["acme.com", "acme.io"])
    );
    assert!(
        after.get("createdTime").is_none(),
        "read-only fields are not sent"
    );
    assert_eq!(c.fields.len(), 1);
}

#[test]
fn a_domain_moved_between_tenants_is_released_before_it_is_claimed() {
    let cfg = Config {
        version: 1,
        tenants: vec![
            TenantConfig {
                id: "aaa".into(),
                name: "A".into(),
                domains: Some(vec!["shared.com".into()]),
                ..Default::default()
            },
            TenantConfig {
                id: "zzz".into(),
                name: "Z".into(),
                domains: Some(vec![]),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let snap = LiveSnapshot::default().with_list(
        "tenants",
        vec![
            json!({"id":"aaa","name":"A","selfProvisioningDomains":[]}),
            json!({"id":"zzz","name":"Z","selfProvisioningDomains":["shared.com"]}),
        ],
    );
    let p = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap();
    assert_eq!(order(&p), ["~ tenant.zzz", "~ tenant.aaa"]);
    assert_eq!(p.changes[1].depends_on, [0]);
}

#[test]
fn claiming_a_value_an_unchanged_tenant_keeps_is_refused() {
    let cfg = Config {
        version: 1,
        tenants: vec![TenantConfig {
            id: "aaa".into(),
            name: "A".into(),
            domains: Some(vec!["taken.com".into()]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let snap = LiveSnapshot::default().with_list(
        "tenants",
        vec![json!({"id":"other","name":"O","selfProvisioningDomains":["taken.com"]})],
    );
    let err = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap_err();
    assert!(err[0].message.contains("tenant.other holds"), "{err:?}");
}

#[test]
fn deletes_only_managed_or_pruned_and_never_protected_or_system() {
    let cfg = Config {
        version: 1,
        ..Default::default()
    };
    let mut snap = system_snapshot();
    snap.put_list(
        "tenants",
        vec![
            json!({"id":"gone","name":"Gone"}),
            json!({"id":"child","name":"Child","parent":"gone"}),
            json!({"id":"stranger","name":"Stranger"}),
        ],
    );
    let own = Ownership {
        managed: ["tenant.gone", "tenant.child"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect(),
        ..Default::default()
    };
    let p = plan_of(&cfg, &snap, &own, &PlanOptions::default()).unwrap();
    assert_eq!(order(&p), ["- tenant.child", "- tenant.gone"]);
    assert_eq!(
        p.unmanaged
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>(),
        ["tenant.stranger"]
    );

    let pruned = plan_of(
        &cfg,
        &snap,
        &own,
        &PlanOptions {
            prune: vec![
                crate::kinds::tenant::KIND,
                crate::kinds::permission::KIND,
                crate::kinds::role::KIND,
            ],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(order(&pruned).contains(&"- tenant.stranger".to_string()));
    assert!(!order(&pruned)
        .iter()
        .any(|c| c.contains("User Admin") || c.contains("Tenant Admin")));

    let protected = Ownership {
        protected: ["tenant.gone".parse().unwrap()].into_iter().collect(),
        ..own
    };
    let err = plan_of(&cfg, &snap, &protected, &PlanOptions::default()).unwrap_err();
    assert_eq!(err[0].address.to_string(), "tenant.gone");
    assert!(err[0].message.contains("protected"));
}

#[test]
fn parent_change_needs_allow_replace() {
    let cfg = Config {
        version: 1,
        tenants: vec![tenant("root2", None), tenant("kid", Some("root2"))],
        ..Default::default()
    };
    let snap = LiveSnapshot::default().with_list("tenants", vec![
            json!({"id":"root2","name":"Tenant root2","selfProvisioningDomains":["root2.com"],"parent":""}),
            json!({"id":"kid","name":"Tenant kid","selfProvisioningDomains":["kid.com"],"parent":""}),
        ]);
    let err = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap_err();
    assert!(
        err[0].message.contains("--allow-replace tenant.kid"),
        "{err:?}"
    );
    let p = plan_of(
        &cfg,
        &snap,
        &Ownership::default(),
        &PlanOptions {
            allow_replace: vec!["tenant.kid".parse().unwrap()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(order(&p), ["-/+ tenant.kid"]);
    assert!(render::text(&p, false).starts_with("Plan for environment dev"));
    assert!(render::text(&p, false).contains("DESTRUCTIVE"));
}

#[test]
fn unknown_parent_and_ignored_fields_never_change() {
    let cfg = Config {
        version: 1,
        tenants: vec![TenantConfig {
            ignore_changes: vec!["custom_attributes".into()],
            custom_attributes: Some(BTreeMap::from([("plan".to_string(), json!("gold"))])),
            ..tenant("kid", Some("root"))
        }],
        ..Default::default()
    };
    let snap = LiveSnapshot::default().with_list("tenants", vec![
            json!({"id":"kid","name":"Tenant kid","selfProvisioningDomains":["kid.com"],"customAttributes":{"plan":"silver"}}),
        ]);
    let d = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap();
    assert!(d.changes.is_empty(), "{:?}", order(&d));
}

#[test]
fn targets_limit_the_plan_to_the_target_and_its_dependencies() {
    let opts = PlanOptions {
        targets: vec!["role.acme/viewer".parse().unwrap()],
        ..Default::default()
    };
    let p = plan_of(
        &base_config(),
        &system_snapshot(),
        &Ownership::default(),
        &opts,
    )
    .unwrap();
    assert_eq!(
        order(&p),
        ["+ tenant.holding", "+ tenant.acme", "+ role.acme/viewer"]
    );
}

#[test]
fn markdown_stays_under_the_budget_and_says_what_it_left_out() {
    let mut cfg = Config {
        version: 1,
        ..Default::default()
    };
    for i in 0..2000 {
        cfg.tenants.push(TenantConfig {
            id: format!("tenant-{i:04}"),
            name: format!("A tenant with a rather long display name number {i}"),
            domains: Some(vec![
                format!("t{i}.example.com"),
                format!("t{i}.example.org"),
            ]),
            ..Default::default()
        });
    }
    let p = plan_of(
        &cfg,
        &LiveSnapshot::default(),
        &Ownership::default(),
        &PlanOptions::default(),
    )
    .unwrap();
    let md = render::markdown(&p, "plans/dev.plan");
    assert!(md.len() <= render::MARKDOWN_BUDGET, "{}", md.len());
    assert!(md.contains("more resource(s) not shown"));
    assert!(md.contains("descope-mgmt show plans/dev.plan"));
    assert!(md.starts_with("### descope-mgmt plan"));
}

/// `renamed_from`: the old live role becomes one update at the new address that sends the old
/// name and the new one; both names live is a problem; the role using a renamed permission
/// waits for the permission's rename.
#[test]
fn a_renamed_role_is_one_update_of_the_old_object() {
    let cfg = Config {
        version: 1,
        permissions: vec![PermissionConfig {
            name: "docs.view".into(),
            renamed_from: vec!["docs.read".into()],
            ..Default::default()
        }],
        roles: vec![RoleConfig {
            name: "Viewer".into(),
            renamed_from: vec!["Guest".into(), "Reader".into()],
            permissions: Some(vec!["docs.view".into()]),
            ..Default::default()
        }],
        ..Default::default()
    };
    let snap = LiveSnapshot::default()
        .with_list(
            "roles",
            vec![json!({"id": "ROL1", "name": "Reader", "description": "d",
                        "permissionNames": ["docs.read"], "default": true})],
        )
        .with_list(
            "permissions",
            vec![json!({"id": "PERM1", "name": "docs.read", "description": ""})],
        );
    let p = plan_of(&cfg, &snap, &Ownership::default(), &PlanOptions::default()).unwrap();
    assert_eq!(order(&p), ["~ permission.docs.view", "~ role.Viewer"]);
    let role = &p.changes[1];
    assert_eq!(role.reason.to_string(), "renamed from role.Reader");
    assert_eq!(role.depends_on, [0]);
    let step = &role.op.steps[0];
    assert_eq!(step.path, "/v1/mgmt/role/update");
    let body = step.body.as_ref().unwrap();
    assert_eq!(
        (&body["name"], &body["newName"]),
        (&json!("Reader"), &json!("Viewer"))
    );
    assert_eq!(body["permissionNames"], json!(["docs.view"]));
    assert_eq!(body["default"], json!(true), "unmanaged flags carried over");
    assert!(p.fingerprints.contains_key(&Address::role(None, "Reader")));
    assert!(crate::plan::render::text(&p, false).contains("~ role.Reader -> role.Viewer (renamed)"));

    // Both names live: the user settles it.
    let both = snap.clone().with_list(
        "roles",
        vec![
            json!({"id": "ROL1", "name": "Reader", "permissionNames": []}),
            json!({"id": "ROL2", "name": "Viewer", "permissionNames": []}),
        ],
    );
    let problems =
        plan_of(&cfg, &both, &Ownership::default(), &PlanOptions::default()).unwrap_err();
    assert!(
        problems.iter().any(
            |p| p.address == Address::role(None, "Viewer") && p.message.contains("role.Reader")
        ),
        "{problems:?}"
    );
}
