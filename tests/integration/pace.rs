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
    let report = apply_planned(&session, &planned).await;
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

/// Applies what `plan` made, as `apply FILE` would.
async fn apply_planned(
    session: &Session,
    planned: &descope_mgmt::ops::plan::PlanOutcome,
) -> descope_mgmt::ops::apply::ApplyReport {
    apply(
        session,
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
    .unwrap()
}

/// Plans 3 tenant creates, installs `hook` on the emulator, applies; the apply's report.
async fn apply_three_creates(
    env: &mut TestEnv,
    hook: descope_emulator::Hook,
) -> descope_mgmt::ops::apply::ApplyReport {
    env.env = Some("dev".into());
    env.write_config(&config(env.emu().project_id(), "", 3));
    let planned = plan(&env.session(), &PlanRequest::default()).await.unwrap();
    env.emu().set_hook(Some(hook));
    let report = apply_planned(&env.session(), &planned).await;
    env.emu().set_hook(None);
    assert!(report.all_succeeded());
    report
}

/// state.json records every tenant with the fingerprint it has live.
async fn state_matches_live(env: &TestEnv) {
    let session = env.session();
    let state = descope_mgmt::state::StateFile::load(&session.state).unwrap();
    let addresses: Vec<descope_mgmt::model::Address> = (0..3)
        .map(|i| descope_mgmt::model::Address::tenant(format!("t-{i:03}")))
        .collect();
    let scope = descope_mgmt::kinds::ReadScope::for_addresses(&addresses, &Default::default());
    let live = session.read_live(&scope, &[]).await.unwrap();
    for a in &addresses {
        let recorded = state.get(a).unwrap_or_else(|| panic!("{a} is not managed"));
        assert_eq!(recorded.fingerprint, live.resources[a].fingerprint(), "{a}");
    }
}

/// Which requests the hook saw, in the order it saw them (`phase`, path, tenant in the body
/// is not visible here, so creates are told apart by order).
type Seen = Arc<std::sync::Mutex<Vec<(descope_emulator::HookPhase, String)>>>;

fn recorder(seen: &Seen) -> descope_emulator::Hook {
    let seen = seen.clone();
    Arc::new(move |ev: &descope_emulator::HookEvent| {
        seen.lock().unwrap().push((ev.phase, ev.path.clone()));
    })
}

/// An apply that only creates reads its result back as the last create goes out, not a round
/// trip after its answer: the read arrives before the last create has committed, and it is
/// the only read after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_of_creates_reads_back_as_the_last_create_goes_out() {
    use descope_emulator::HookPhase::{AfterCommit, BeforeHandling};
    let mut env = TestEnv::start(EmulatorOptions {
        // Far longer than the gap between the last create and the read back.
        latency: Duration::from_millis(300),
        ..EmulatorOptions::default()
    })
    .await;
    let seen: Seen = Default::default();
    apply_three_creates(&mut env, recorder(&seen)).await;
    let seen = seen.lock().unwrap().clone();
    let reads: Vec<usize> = (0..seen.len())
        .filter(|&i| seen[i] == (BeforeHandling, "/v1/mgmt/tenant/all".to_string()))
        .collect();
    let commits: Vec<usize> = (0..seen.len())
        .filter(|&i| seen[i].0 == AfterCommit)
        .collect();
    assert_eq!(
        reads.len(),
        2,
        "the check before the writes, one read back: {seen:?}"
    );
    assert_eq!(commits.len(), 3, "{seen:?}");
    assert!(
        reads[1] < commits[2],
        "the read back arrived before the last create committed: {seen:?}"
    );
    state_matches_live(&env).await;
}

/// A read back that overtook a create (it does not show it) does not count: the tenants are
/// read again once every create has been answered, and state.json records what they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_back_that_overtook_a_create_is_read_again() {
    use descope_emulator::HookPhase::BeforeHandling;
    let mut env = TestEnv::start(EmulatorOptions {
        latency: Duration::from_millis(100),
        ..EmulatorOptions::default()
    })
    .await;
    // The second create waits at the door until the read back has arrived, then a little
    // longer, so the read (100 ms behind it) is answered first.
    let (arrived, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let counts = std::sync::Mutex::new((0usize, 0usize));
    let seen: Seen = Default::default();
    let record = recorder(&seen);
    let hook: descope_emulator::Hook = Arc::new(move |ev: &descope_emulator::HookEvent| {
        record(ev);
        if ev.phase != BeforeHandling {
            return;
        }
        let mut c = counts.lock().unwrap();
        match ev.path.as_str() {
            "/v1/mgmt/tenant/create" => {
                c.0 += 1;
                if c.0 == 2 {
                    drop(c);
                    let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
                    std::thread::sleep(Duration::from_millis(30));
                }
            }
            "/v1/mgmt/tenant/all" => {
                c.1 += 1;
                if c.1 == 2 {
                    let _ = arrived.send(());
                }
            }
            _ => {}
        }
    });
    apply_three_creates(&mut env, hook).await;
    let seen = seen.lock().unwrap().clone();
    let reads = seen
        .iter()
        .filter(|s| **s == (BeforeHandling, "/v1/mgmt/tenant/all".to_string()))
        .count();
    assert_eq!(
        reads, 3,
        "the check, the read back that missed one, the read again: {seen:?}"
    );
    state_matches_live(&env).await;
}
