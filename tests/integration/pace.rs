//! Pacing against Descope's rate window: commands run back to back share one window, reads
//! go out together, a budget set too high costs one lockout, and the budget's one grammar.

use std::sync::Arc;
use std::time::Duration;

use descope_emulator::{EmulatorOptions, RateBudget};
use descope_mgmt::api::gateway::GatewayEvent;
use descope_mgmt::apply::execute::NoProgress;
use descope_mgmt::ops::apply::{apply, ApplyRequest};
use descope_mgmt::ops::plan::{plan, PlanRequest};
use descope_mgmt::ops::Session;

use crate::util::TestEnv;

fn config(project_id: &str, settings: &str, tenants: usize) -> String {
    let mut y = format!(
        "version: 1\nsettings:\n{settings}environments:\n  dev:\n    project_id: {project_id}\n    management_key: ${{secret:DESCOPE_MANAGEMENT_KEY}}\ntenants:\n"
    );
    for i in 0..tenants {
        y.push_str(&format!("  - id: t-{i:03}\n    name: Tenant {i}\n"));
    }
    y
}

/// Four plans in a row would be 16 requests; the emulator allows 12 in any 3 s. Each command
/// is its own process, and only the window remembered between them keeps the fourth from
/// being locked out.
#[test]
fn commands_run_back_to_back_share_the_window() {
    let env = TestEnv::start_blocking(EmulatorOptions {
        rate: Some(RateBudget::new(12, Duration::from_secs(3))),
        ..EmulatorOptions::default()
    });
    env.write_config(&config(env.emu().project_id(), "  rate_limit: 12/3s\n", 2));
    for round in 0..4 {
        let out = env.cmd(&["plan", "--env", "dev"]).output().unwrap();
        assert!(
            out.status.success(),
            "plan {round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.emu().counters().rate_limited, 0);
    assert!(env.emu().counters().requests >= 16);
    let memory: Vec<_> = std::fs::read_dir(env.path("cache/descope-mgmt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        memory.len() == 1 && memory[0].starts_with("window-"),
        "{memory:?}"
    );
}

/// The license call and every list read go out together (one round trip, not four), and each
/// list is read once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_license_call_and_the_reads_go_out_together() {
    let mut env = TestEnv::start(EmulatorOptions {
        latency: Duration::from_millis(800),
        ..EmulatorOptions::default()
    })
    .await;
    env.env = Some("dev".into());
    env.write_config(&config(env.emu().project_id(), "", 2));
    let session = env.session();
    let started = std::time::Instant::now();
    plan(&session, &PlanRequest::default()).await.unwrap();
    let took = started.elapsed();
    let mut paths: Vec<String> = env.emu().log().into_iter().map(|e| e.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/v1/mgmt/license",
            "/v1/mgmt/permission/all",
            "/v1/mgmt/role/all",
            "/v1/mgmt/tenant/all"
        ],
        "each list once, the tenants' shared with their default roles"
    );
    // One after another they take 3.2 s at 800 ms each.
    assert!(took < Duration::from_millis(2400), "{took:?}");
}

/// A client budget twice Descope's: one lockout, after which the apply runs at the budget the
/// 429 showed, said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_twice_too_high_costs_one_lockout() {
    let mut env = TestEnv::start(EmulatorOptions {
        rate: Some(RateBudget::new(10, Duration::from_secs(1))),
        latency: Duration::from_millis(20),
        ..EmulatorOptions::default()
    })
    .await;
    env.env = Some("dev".into());
    env.write_config(&config(env.emu().project_id(), "  rate_limit: 20/1\n", 30));
    let planned = plan(&env.session(), &PlanRequest::default()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let session = Session::open(&env.options(None), Some(tx)).unwrap();
    let report = apply(
        &session,
        ApplyRequest {
            plan: descope_mgmt::plan::PlanFile::parse_verified(
                &planned.plan.to_canonical_string(),
                std::path::Path::new("p.plan"),
            )
            .unwrap(),
            lock_timeout: Duration::ZERO,
            access_key_out: None,
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert!(report.all_succeeded());
    drop(session);
    let mut lockouts = 0;
    let mut learned = Vec::new();
    while let Ok(e) = rx.try_recv() {
        match e {
            GatewayEvent::LockedOut { .. } => lockouts += 1,
            GatewayEvent::BudgetLearned { budget } => learned.push(budget),
            _ => {}
        }
    }
    assert!(report.rate_limited >= 1, "the budget was too high");
    assert_eq!(lockouts, 1, "one lockout, said once");
    assert!(
        !learned.is_empty() && learned.iter().all(|b| b.requests <= 10),
        "{learned:?}"
    );
}

#[test]
fn the_budget_has_one_grammar_and_parallelism_is_at_least_one() {
    let env = TestEnv::new();
    env.write_config("version: 1\nsettings:\n  rate_limit: 90/60s\n");
    env.bin(&["--rate-limit", "90/60s", "validate"])
        .assert()
        .success();

    env.write_config("version: 1\nsettings:\n  parallelism: 4\n  rate_limit: \"90\"\n");
    let out = env.cmd(&["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("descope.yaml:4:") && err.contains("invalid rate limit `90`"),
        "{err}"
    );

    env.write_config("version: 1\nsettings:\n  parallelism: 0\n");
    let out = env.cmd(&["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("parallelism must be at least 1"),
        "{err}"
    );

    for (flag, value) in [("--parallelism", "0"), ("--rate-limit", "90")] {
        let out = env.cmd(&[flag, value, "validate"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(flag), "{err}");
    }
}
