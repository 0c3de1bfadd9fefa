//! `descope-mgmt demo`: the README's quick start. An in-process emulator stands in for Descope;
//! the example configuration goes through plan → show → apply → plan again, narrated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::args::{DemoArgs, GlobalArgs};
use super::commands::{apply_with_progress, fail, print_plan, print_report, runtime};
use super::exit;
use super::output::use_color;
use descope_emulator::{Emulator, EmulatorOptions};
use descope_mgmt::config::VarSource;
use descope_mgmt::ops::plan::{plan, PlanRequest};
use descope_mgmt::ops::{EndpointOverride, GlobalOptions, OpError, Session};
use descope_mgmt::plan::{render, PlanFile};

/// The example project, embedded so the demo runs from any directory and from an installed binary.
const FILES: &[(&str, &str)] = &[
    ("descope.yaml", include_str!("../../examples/descope.yaml")),
    (
        "envs/prod.yaml",
        include_str!("../../examples/envs/prod.yaml"),
    ),
    (
        "flows/sign-up-or-in.json",
        include_str!("../../examples/flows/sign-up-or-in.json"),
    ),
    ("theme.json", include_str!("../../examples/theme.json")),
];

const ENV: &str = "dev";

fn write_examples(dir: &Path) -> Result<(), OpError> {
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| OpError::Io(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| OpError::Io(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

fn step(n: u32, title: &str, command: &str) {
    println!("\n━━ Step {n}: {title}\n   $ {command}\n");
}

pub fn run_demo(g: &GlobalArgs, args: &DemoArgs) -> u8 {
    let dir: PathBuf = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("descope-mgmt-demo-{}", std::process::id()))
    });
    match runtime().and_then(|rt| rt.block_on(demo(g, &dir))) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

async fn demo(g: &GlobalArgs, dir: &Path) -> Result<u8, OpError> {
    let color = use_color(g.no_color);
    write_examples(dir)?;
    let config = dir.join("descope.yaml");
    let project_id = "P2cHv5NwK82mRtYxB9qLf4GsD7pA"; // environments.dev.project_id in the example
    let emulator = Emulator::start(EmulatorOptions {
        project_id: project_id.to_string(),
        ..EmulatorOptions::default()
    })
    .await
    .map_err(|e| OpError::Io(format!("cannot start the emulator: {e}")))?;

    println!("descope-mgmt demo — Descope as code, end to end, with no account.");
    println!(
        "A local emulator of Descope's Management API is running at {}.",
        emulator.base_url()
    );
    println!("It starts like a fresh Descope project: system permissions, the built-in Tenant Admin role, a few flows and a theme.");
    println!("The example configuration (5 environments, 12 tenants in 3 levels, roles, permissions, a flow and the theme) is in {}.", dir.display());

    let mut opts = GlobalOptions::new(&config, Some(ENV), dir.join("state"));
    opts.vars = VarSource::Map(BTreeMap::from([(
        "DESCOPE_DEV_KEY".to_string(),
        emulator.management_key().to_string(),
    )]));
    opts.endpoint_override = Some(EndpointOverride {
        base_url: emulator.base_url(),
        project_id: project_id.to_string(),
        management_key: emulator.management_key().to_string(),
    });
    // Real Descope allows 100 requests a minute per IP (the default budget is 90/60); the
    // emulator has no such limit, so the demo spends less time waiting.
    opts.rate_limit = Some(
        g.rate_limit
            .unwrap_or(descope_mgmt::api::gateway::RateBudget::new(
                1200,
                std::time::Duration::from_secs(60),
            )),
    );
    let session = Session::open(&opts, None)?;
    let plan_path = dir.join("plans").join("dev.plan");

    step(
        1,
        "plan: compare the YAML with the live project and save a reviewable plan",
        "descope-mgmt plan --env dev -out plans/dev.plan",
    );
    let first = plan(
        &session,
        &PlanRequest {
            out: Some(plan_path.clone()),
            ..PlanRequest::default()
        },
    )
    .await?;
    print_plan(&first, color, false);

    step(
        2,
        "show: the saved plan as a pull-request comment (markdown; first lines)",
        "descope-mgmt show plans/dev.plan --format markdown",
    );
    let saved = PlanFile::read_verified(&plan_path)?;
    for line in render::markdown(&saved, "plans/dev.plan").lines().take(14) {
        println!("   {line}");
    }
    println!("   …");

    step(
        3,
        "apply: verify the plan's digest and the live state, then execute it rate-limited",
        "descope-mgmt apply plans/dev.plan",
    );
    let report = apply_with_progress(&session, saved, std::time::Duration::ZERO, g.quiet).await?;
    print_report(&report, &plan_path);
    if !report.all_succeeded() {
        return Ok(exit::ERROR);
    }

    step(
        4,
        "plan again: the live project now matches the configuration",
        "descope-mgmt plan --env dev --detailed-exitcode",
    );
    let again = plan(&session, &PlanRequest::default()).await?;
    print!("{}", render::text(&again.plan, color));
    let counters = emulator.counters();
    emulator.shutdown().await;
    if again.plan.has_changes() {
        eprintln!("error: the second plan still has changes; this is a bug in descope-mgmt or its emulator");
        return Ok(exit::ERROR);
    }
    println!(
        "\nDone. The emulator answered {} requests. State, backup, journal and audit log are in {}.",
        counters.requests,
        dir.join("state").join(ENV).display()
    );
    println!("Next: `descope-mgmt emulator` runs the emulator on its own; README.md shows how to point the tool at a real project.");
    Ok(exit::OK)
}
