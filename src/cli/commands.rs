//! `plan`, `show` and `apply`: parse → library operation → output and exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;

use super::args::{ApplyArgs, Format, GlobalArgs, PlanArgs, ShowArgs};
use super::exit;
use super::output::{report_gateway_events, use_color, ApplyProgress};
use descope_emulator::{Emulator, EmulatorOptions};
use descope_mgmt::ops::apply::{apply, ApplyReport, ApplyRequest};
use descope_mgmt::ops::plan::{plan, PlanOutcome, PlanRequest};
use descope_mgmt::ops::{EndpointOverride, GlobalOptions, OpError, Session};
use descope_mgmt::plan::{render, Action, PlanFile};

pub fn runtime() -> Result<tokio::runtime::Runtime, OpError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| OpError::Io(format!("cannot start the async runtime: {e}")))
}

pub fn fail(e: &OpError) -> u8 {
    eprintln!("error: {e}");
    e.exit_code()
}

pub(super) fn global_options(g: &GlobalArgs, env: Option<String>) -> GlobalOptions {
    let mut o = GlobalOptions::new(&g.config, env.as_deref(), &g.state_dir);
    o.rate_limit = g.rate_limit;
    o.parallelism = g.parallelism;
    o.cache_dir = descope_mgmt::api::window::Memory::default_dir();
    o
}

/// With `--emulator`: a local emulator persisted in the state directory, accepting the
/// configured project and key, for the life of the command.
pub(super) async fn start_emulator_if_asked(
    g: &GlobalArgs,
    opts: &mut GlobalOptions,
) -> Result<Option<Emulator>, OpError> {
    if !g.emulator {
        return Ok(None);
    }
    let probe = descope_mgmt::config::load(&descope_mgmt::config::LoadOptions {
        path: opts.config.clone(),
        env: opts.env.clone(),
        vars: opts.vars.clone(),
    })?;
    let defaults = EmulatorOptions::default();
    let project_id = probe
        .env
        .as_ref()
        .and_then(|e| e.project_id.clone())
        .unwrap_or(defaults.project_id.clone());
    let key = descope_mgmt::config::resolve_credentials(&probe, &opts.vars)
        .map(|c| c.management_key.expose().to_string())
        .unwrap_or(defaults.management_key.clone());
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| OpError::Io(format!("cannot create {}: {e}", opts.state_dir.display())))?;
    let emulator = Emulator::start(EmulatorOptions {
        project_id: project_id.clone(),
        management_key: key.clone(),
        state_file: Some(
            opts.state_dir
                .join(format!("emulator-{}.json", probe.environment)),
        ),
        ..defaults
    })
    .await
    .map_err(|e| OpError::Io(format!("cannot start the local emulator: {e}")))?;
    opts.endpoint_override = Some(EndpointOverride {
        base_url: emulator.base_url(),
        project_id,
        management_key: key,
    });
    eprintln!(
        "Using the local emulator at {} (state in {})",
        emulator.base_url(),
        opts.state_dir.display()
    );
    Ok(Some(emulator))
}

pub fn plan_options(p: &PlanArgs) -> PlanRequest {
    PlanRequest {
        out: p.out.clone(),
        targets: p.targets.clone(),
        prune: p.prune.clone(),
        allow_replace: p.allow_replace.clone(),
    }
}

pub fn print_plan(outcome: &PlanOutcome, color: bool, quiet: bool) {
    if !quiet {
        print!("{}", render::text(&outcome.plan, color));
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
    }
    if outcome.plan.has_changes() && !quiet {
        println!(
            "Apply will send about {} requests; at the rate budget that takes at least {}.",
            outcome.apply_requests,
            humantime::format_duration(std::time::Duration::from_secs(
                outcome.apply_estimate.as_secs()
            ))
        );
    }
    if let Some(path) = &outcome.saved_to {
        println!(
            "\nSaved the plan to {}. To apply exactly these changes, run:\n  descope-mgmt apply {}",
            path.display(),
            path.display()
        );
    }
}

/// Runs `body` with a session on a runtime, the local emulator started first with `--emulator`.
pub(super) fn with_session<F>(g: &GlobalArgs, body: F) -> u8
where
    F: AsyncFnOnce(&Session) -> Result<u8, OpError>,
{
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    rt.block_on(async {
        let mut opts = global_options(g, g.env.clone());
        let _emulator = match start_emulator_if_asked(g, &mut opts).await {
            Ok(e) => e,
            Err(e) => return fail(&e),
        };
        let session = match Session::open(&opts, None) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match body(&session).await {
            Ok(code) => code,
            Err(e) => fail(&e),
        }
    })
}

pub fn run_plan(g: &GlobalArgs, p: &PlanArgs) -> u8 {
    with_session(g, async move |session: &Session| {
        let outcome = plan(session, &plan_options(p)).await?;
        print_plan(&outcome, use_color(g.no_color), g.quiet);
        Ok(if p.detailed_exitcode && outcome.plan.has_changes() {
            exit::CHANGES
        } else {
            exit::OK
        })
    })
}

pub fn run_show(g: &GlobalArgs, s: &ShowArgs) -> u8 {
    // The same checks as apply: an edited plan is refused here too (exit 3), so what a
    // reviewer reads is what apply would run.
    let text = match std::fs::read_to_string(&s.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", s.file.display());
            return exit::ERROR;
        }
    };
    let plan = match PlanFile::parse_verified(&text, &s.file) {
        Ok(p) => p,
        Err(e) => return fail(&OpError::from(e)),
    };
    let out = match s.format {
        Format::Text => render::text(&plan, use_color(g.no_color)),
        Format::Markdown => render::markdown(&plan, &s.file.display().to_string()),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::json(&plan)).unwrap_or_default()
        ),
    };
    super::write_stdout(out.as_bytes())
}

pub fn print_report(report: &ApplyReport, plan_path: &Path) {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.resumed {
        println!("Resumed an interrupted apply of this plan: finished operations were verified live and skipped.");
    }
    if let Some(b) = &report.backup {
        println!("Backup of the changed resources: {}", b.display());
    }
    let already = report.count(|r| {
        matches!(
            r.outcome,
            descope_mgmt::apply::execute::OpOutcome::AlreadyDone
        )
    });
    println!(
        "\nApply {}: {} created, {} updated, {} deleted, {} replaced{}, {} failed, {} skipped in {:.1}s ({} requests, {} rate-limited).",
        if report.all_succeeded() { "complete" } else { "INCOMPLETE" },
        report.succeeded(Action::Create),
        report.succeeded(Action::Update),
        report.succeeded(Action::Delete),
        report.succeeded(Action::Replace),
        if already > 0 { format!(" ({already} already done)") } else { String::new() },
        report.failed(),
        report.skipped(),
        report.duration.as_secs_f64(),
        report.requests,
        report.rate_limited,
    );
    if report.not_run() > 0 {
        println!(
            "\nInterrupted: {} operation(s) were not started. Operations in flight finished and were journaled.",
            report.not_run()
        );
    }
    if report.failed() > 0 {
        println!("\nFailures:");
        for r in &report.results {
            if let descope_mgmt::apply::execute::OpOutcome::Failed {
                message,
                error_code,
                ..
            } = &r.outcome
            {
                println!(
                    "  {} [{}]: {message}",
                    r.address,
                    error_code.as_deref().unwrap_or("no error code")
                );
            }
        }
    }
    if !report.all_succeeded() {
        println!(
            "\nNothing is lost: a backup, the journal and state.json record what happened. Fix the cause, then re-run:\n  descope-mgmt apply {}",
            plan_path.display()
        );
    }
}

/// Runs `apply` for an already verified plan file, with progress output.
pub async fn apply_with_progress(
    session: &Session,
    plan: PlanFile,
    plan_path: PathBuf,
    lock_timeout: std::time::Duration,
    quiet: bool,
) -> Result<ApplyReport, OpError> {
    let progress = Arc::new(ApplyProgress::new(plan.changes.len(), quiet));
    let req = ApplyRequest {
        plan,
        plan_path,
        lock_timeout,
    };
    let result = apply(session, req, progress.clone()).await;
    progress.finish();
    result
}

pub fn run_apply(g: &GlobalArgs, a: &ApplyArgs) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    rt.block_on(async {
        // A saved plan is checked before anything else, network included.
        let saved = match &a.file {
            Some(path) => match PlanFile::read_verified(path) {
                Ok(p) => Some((p, path.clone())),
                Err(e) => return fail(&OpError::from(e)),
            },
            None => None,
        };
        let env = g
            .env
            .clone()
            .or_else(|| saved.as_ref().map(|(p, _)| p.environment.clone()));
        let mut opts = global_options(g, env);
        let _emulator = match start_emulator_if_asked(g, &mut opts).await {
            Ok(e) => e,
            Err(e) => return fail(&e),
        };
        let (tx, rx) = unbounded_channel();
        let session = match Session::open(&opts, Some(tx)) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        let (plan, path) = match saved {
            Some(s) => s,
            None => match plan_then_confirm(&session, g, a).await {
                Ok(Some(s)) => s,
                Ok(None) => return exit::ERROR,
                Err(e) => return fail(&e),
            },
        };
        if !plan.has_changes() {
            println!("No changes to apply.");
        }
        let progress = Arc::new(ApplyProgress::new(plan.changes.len(), g.quiet));
        let events = tokio::spawn(report_gateway_events(rx, progress.clone()));
        let interrupts = tokio::spawn(stop_on_interrupt(
            session.interrupt.clone(),
            progress.clone(),
        ));
        let req = ApplyRequest {
            plan,
            plan_path: path.clone(),
            lock_timeout: a.lock_timeout.into(),
        };
        let result = apply(&session, req, progress.clone()).await;
        progress.finish();
        events.abort();
        interrupts.abort();
        match result {
            Ok(report) => {
                print_report(&report, &path);
                if report.all_succeeded() {
                    exit::OK
                } else {
                    exit::ERROR
                }
            }
            Err(e) => fail(&e),
        }
    })
}

/// First Ctrl-C: start nothing new, let operations in flight finish and be journaled, then
/// report (exit 1). Second Ctrl-C: stop at once — the journal is fsynced line by line, so a
/// re-run still resumes correctly.
async fn stop_on_interrupt(flag: Arc<std::sync::atomic::AtomicBool>, progress: Arc<ApplyProgress>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    progress.note("Interrupted: finishing the operations in flight, then stopping (Ctrl-C again to stop at once).");
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("Stopped. Re-run the same apply to finish the plan.");
        std::process::exit(i32::from(exit::ERROR));
    }
}

/// `apply` without a file: plan now, save the plan under state/<env>/plans/ (so it can be
/// resumed), show it, and ask for `yes` unless `--auto-approve`.
async fn plan_then_confirm(
    session: &Session,
    g: &GlobalArgs,
    a: &ApplyArgs,
) -> Result<Option<(PlanFile, PathBuf)>, OpError> {
    let mut req = plan_options(&a.plan);
    req.out = None;
    let outcome = plan(session, &req).await?;
    let dir = session.state.plans_dir();
    let path = session.state.plan_file(&outcome.plan.digest)?;
    descope_mgmt::util::atomic::create_private_dir_all(&dir)
        .map_err(|e| OpError::Io(e.to_string()))?;
    descope_mgmt::util::atomic::write_atomic(&path, outcome.plan.to_canonical_string().as_bytes())
        .map_err(|e| OpError::Io(e.to_string()))?;
    print_plan(&outcome, use_color(g.no_color), g.quiet);
    if !outcome.plan.has_changes() {
        return Ok(Some((outcome.plan, path)));
    }
    if !a.auto_approve {
        if !std::io::stdin().is_terminal() {
            eprintln!("error: apply without a plan file asks for confirmation, but there is no terminal; pass --auto-approve, or save a plan with `plan -out FILE` and apply that");
            return Ok(None);
        }
        let deletes: Vec<String> = outcome
            .plan
            .changes
            .iter()
            .filter(|c| c.action.is_destructive())
            .map(|c| format!("  {} {} ({})", c.action.symbol(), c.address, c.reason))
            .collect();
        if !deletes.is_empty() {
            println!("\nThis plan DELETES or REPLACES:\n{}", deletes.join("\n"));
        }
        let answer: String = dialoguer::Input::new()
            .with_prompt(format!(
                "Apply these changes to {} ({})? Only `yes` is accepted",
                outcome.plan.environment, outcome.plan.project_id
            ))
            .allow_empty(true)
            .interact_text()
            .map_err(|e| OpError::Io(format!("cannot read the answer: {e}")))?;
        if answer.trim() != "yes" {
            eprintln!("Apply cancelled.");
            return Ok(None);
        }
    }
    Ok(Some((outcome.plan, path)))
}
