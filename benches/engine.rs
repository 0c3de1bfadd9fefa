//! Benchmarks of the engine, written to docs/benchmarks.md:
//!   cargo bench --bench engine
//!
//! 1. Planning (desired graph + live graph + diff + seal + render) for 1,000 and 10,000 tenants:
//!    wall time and peak heap, measured with a counting allocator.
//! 2. Plan + apply of 200 tenants, 20 permissions and 10 roles against the in-process emulator
//!    (no latency, budget 6000/60): wall time, requests sent, requests per second.
//! 3. Rate-limit compliance: 40 reads with a 20/1s budget against an emulator that locks out
//!    after 20 requests in any 1 s window: no 429 expected, elapsed ≥ 1.95 s.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use descope_mgmt::config::{Config, PermissionConfig, RoleConfig, TenantConfig};
use descope_mgmt::plan::diff::{Ownership, PlanOptions};
use descope_mgmt::plan::{make_plan, render, PlanContext};
use descope_mgmt::resource::desired::{self, DesiredInput};
use descope_mgmt::resource::live::{self, LiveSnapshot};
use descope_mgmt::secret::Secret;
use serde_json::{json, Value};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn config(tenants: usize) -> Config {
    let mut c = Config {
        version: 1,
        ..Default::default()
    };
    for p in 0..20 {
        c.permissions.push(PermissionConfig {
            name: format!("perm.{p:02}"),
            description: Some(format!("Permission {p}")),
            ..Default::default()
        });
    }
    for r in 0..10 {
        c.roles.push(RoleConfig {
            name: format!("role-{r}"),
            permissions: Some(vec![
                format!("perm.{:02}", r),
                format!("perm.{:02}", r + 10),
            ]),
            ..Default::default()
        });
    }
    for t in 0..tenants {
        // Three levels: every 10th tenant is a root, the next ones its children and grandchildren.
        let parent = match t % 10 {
            0 => None,
            1..=4 => Some(format!("t-{:05}", t - t % 10)),
            _ => Some(format!("t-{:05}", t - t % 10 + 1)),
        };
        c.tenants.push(TenantConfig {
            id: format!("t-{t:05}"),
            name: format!("Tenant {t}"),
            domains: Some(vec![format!("t{t}.example.com")]),
            parent,
            custom_attributes: Some(BTreeMap::from([("plan".to_string(), json!("gold"))])),
            default_roles: Some(vec!["role-1".into()]),
            ..Default::default()
        });
    }
    c
}

/// Live state where half the tenants exist, a fifth of those with a changed name.
fn live_snapshot(cfg: &Config) -> LiveSnapshot {
    let tenants = cfg
        .tenants
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, t)| {
            json!({"id": t.id, "name": if i % 10 == 0 { format!("{} (old)", t.name) } else { t.name.clone() },
                   "selfProvisioningDomains": t.domains, "parent": t.parent.clone().unwrap_or_default(),
                   "customAttributes": {"plan": "gold"}, "createdTime": 1_700_000_000, "defaultRoles": ["role-1"]})
        })
        .collect();
    LiveSnapshot::default().with_list("tenants", tenants)
}

fn no_docs(_: &str) -> Result<Value, String> {
    Err("no documents".into())
}

fn bench_plan(tenants: usize) -> (Duration, usize, usize, usize) {
    let cfg = config(tenants);
    let snap = live_snapshot(&cfg);
    let key = Secret::new("bench-key");
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let d = desired::build(&DesiredInput {
        config: &cfg,
        secrets: &BTreeMap::new(),
        key: &key,
        read_document: &no_docs,
        read_text: &|_: &str| Err("no files in the benchmark".to_string()),
    })
    .expect("valid");
    let l = live::build(&snap, &d.secret_fields, &key);
    let ctx = PlanContext {
        project_id: "P2bench".into(),
        environment: "bench".into(),
        config_digest: "x".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let plan =
        make_plan(&ctx, &d, &l, &Ownership::default(), &PlanOptions::default()).expect("plans");
    let text = plan.to_canonical_string();
    let shown = render::text(&plan, false);
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(shown.contains("Plan:"));
    (elapsed, peak, plan.changes.len(), text.len())
}

fn main() {
    let mut md = String::from("# Benchmarks\n\nReproduce with `cargo bench --bench engine` (this part of the file is rewritten by it; `cargo bench --bench pace` rewrites its own section below). Machine: 2 cores, as CI.\n\n");
    md.push_str("## Planning (library: desired + live graphs, diff, seal, text rendering)\n\n| tenants | changes | wall time | peak heap | plan file |\n| --- | --- | --- | --- | --- |\n");
    for n in [1_000, 10_000] {
        let (t, peak, changes, bytes) = bench_plan(n);
        let _ = writeln!(
            md,
            "| {n} | {changes} | {:.0} ms | {:.1} MiB | {:.1} MiB |",
            t.as_secs_f64() * 1000.0,
            peak as f64 / 1048576.0,
            bytes as f64 / 1048576.0
        );
        println!(
            "plan {n} tenants: {:?}, peak {} KiB, {changes} changes",
            t,
            peak / 1024
        );
    }

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let e2e = rt.block_on(end_to_end(200));
    md.push_str("\n## Plan + apply against the in-process emulator (200 tenants, 20 permissions, 10 roles; budget 6000/60; no latency)\n\n| step | wall time | requests |\n| --- | --- | --- |\n");
    for (step, t, req) in &e2e {
        let _ = writeln!(md, "| {step} | {:.2} s | {req} |", t.as_secs_f64());
        println!("{step}: {:?}, {req} requests", t);
    }
    if let Some((_, t, req)) = e2e.iter().find(|(s, _, _)| *s == "apply") {
        // The window rule (docs/design.md §2): a fresh window takes its whole budget at once,
        // then the budget per window.
        let windows_after_the_first = (*req as f64 - 90.0).max(0.0) / 90.0;
        let _ = writeln!(
            md,
            "\n{req} requests fit in one 6000/60 window, so nothing waits for the budget: the {:.2} s are round trips and dependency rounds. \
             At the default budget against real Descope (90 in any 60 s) the same apply sends 90 at once and 90 a minute after: about {:.1} min.",
            t.as_secs_f64(),
            windows_after_the_first
        );
    }
    let (elapsed, limited, sent) = rt.block_on(rate_compliance());
    md.push_str("\n## Rate-limit compliance\n\n40 reads through the gateway with a 20/1s budget, against an emulator that allows 20 requests in any 1 s window and then locks out for 1 s.\n\n| requests | 429s | wall time |\n| --- | --- | --- |\n");
    let _ = writeln!(
        md,
        "| {sent} | {limited} | {:.2} s |",
        elapsed.as_secs_f64()
    );
    println!("rate: {sent} requests, {limited} 429s in {elapsed:?}");

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md");
    // `--bench pace` owns the section from its marker on.
    let kept = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| {
            old.find("<!-- pace:begin -->")
                .map(|i| old[i..].to_string())
        })
        .map(|pace| format!("\n{pace}"))
        .unwrap_or_default();
    std::fs::write(path, md + &kept).expect("write docs/benchmarks.md");
    println!("wrote {path}");
}

async fn end_to_end(tenants: usize) -> Vec<(&'static str, Duration, u64)> {
    use descope_emulator::{Emulator, EmulatorOptions};
    use descope_mgmt::apply::execute::NoProgress;
    use descope_mgmt::ops::apply::{apply, ApplyRequest};
    use descope_mgmt::ops::plan::{plan, PlanRequest};
    use descope_mgmt::ops::{EndpointOverride, GlobalOptions, Session};

    let dir = std::env::temp_dir().join(format!("descope-mgmt-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let mut cfg = config(tenants);
    cfg.settings.rate_limit = "6000/60".parse().expect("rate");
    cfg.environments.insert(
        "bench".into(),
        descope_mgmt::config::Environment {
            project_id: Some("P2benchproject00000000000000".into()),
            ..Default::default()
        },
    );
    std::fs::write(
        dir.join("descope.yaml"),
        serde_yaml_ng::to_string(&cfg).expect("yaml"),
    )
    .expect("write config");
    let emulator = Emulator::start(EmulatorOptions {
        project_id: "P2benchproject00000000000000".into(),
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulator");
    let mut opts = GlobalOptions::new(dir.join("descope.yaml"), Some("bench"), dir.join("state"));
    opts.vars = descope_mgmt::config::VarSource::from_pairs([(
        "DESCOPE_MANAGEMENT_KEY",
        emulator.management_key(),
    )]);
    opts.endpoint_override = Some(EndpointOverride {
        base_url: emulator.base_url(),
        project_id: emulator.project_id().into(),
        management_key: emulator.management_key().into(),
    });
    let session = Session::open(&opts, None).expect("session");
    let mut out = Vec::new();
    let before = emulator.counters().requests;
    let t = Instant::now();
    let plan_path = dir.join("bench.plan");
    let planned = plan(
        &session,
        &PlanRequest {
            out: Some(plan_path.clone()),
            ..PlanRequest::default()
        },
    )
    .await
    .expect("plan");
    out.push((
        "plan (all creates)",
        t.elapsed(),
        emulator.counters().requests - before,
    ));
    let before = emulator.counters().requests;
    let t = Instant::now();
    let n = planned.plan.changes.len();
    let report = apply(
        &session,
        ApplyRequest {
            plan: descope_mgmt::plan::PlanFile::read_verified(&plan_path).expect("saved plan"),
            lock_timeout: Duration::ZERO,
            access_key_out: None,
        },
        std::sync::Arc::new(NoProgress),
    )
    .await
    .expect("apply");
    assert!(report.all_succeeded(), "bench apply failed");
    out.push((
        if n > 0 { "apply" } else { "apply (nothing)" },
        t.elapsed(),
        emulator.counters().requests - before,
    ));
    let before = emulator.counters().requests;
    let t = Instant::now();
    let again = plan(&session, &PlanRequest::default())
        .await
        .expect("plan again");
    assert!(!again.plan.has_changes(), "second plan has changes");
    out.push((
        "plan again (no changes)",
        t.elapsed(),
        emulator.counters().requests - before,
    ));
    emulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    out
}

async fn rate_compliance() -> (Duration, u64, u64) {
    use descope_emulator::{Emulator, EmulatorOptions};
    use descope_mgmt::api::credentials::Credentials;
    use descope_mgmt::api::endpoints;
    use descope_mgmt::api::gateway::{Gateway, GatewayOptions, RateBudget};
    use descope_mgmt::api::transport::{Transport, TransportOptions};

    let emulator = Emulator::start(EmulatorOptions {
        rate: Some(RateBudget::new(20, Duration::from_secs(1))),
        ..EmulatorOptions::default()
    })
    .await
    .expect("emulator");
    let creds = Credentials::new(
        emulator.project_id(),
        Secret::new(emulator.management_key()),
        Some(&emulator.base_url()),
    );
    let gw = Gateway::new(
        Transport::new(creds, TransportOptions::default()).expect("transport"),
        GatewayOptions {
            rate: "20/1".parse().expect("rate"),
            ..GatewayOptions::default()
        },
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            gw.read(endpoints::tenant_load_all()).await.is_ok()
        }));
    }
    for t in tasks {
        assert!(t.await.expect("task"), "a read failed");
    }
    let elapsed = start.elapsed();
    let c = emulator.counters();
    emulator.shutdown().await;
    (elapsed, c.rate_limited, c.requests)
}
