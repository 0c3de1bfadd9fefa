//! `plan`, `show` and `apply`: parse → library operation → output and exit code.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;

use super::args::{ApplyArgs, Format, GlobalArgs, PlanArgs, ShowArgs};
use super::exit;
use super::output::{report_gateway_events, use_color, ApplyProgress};
use descope_emulator::{Emulator, EmulatorOptions};
use descope_mgmt::config::LoadedConfig;
use descope_mgmt::ops::apply::{apply, ApplyReport, ApplyRequest};
use descope_mgmt::ops::plan::{plan, PlanOutcome, PlanRequest};
use descope_mgmt::ops::{EndpointOverride, GlobalOptions, OpError, Session};
use descope_mgmt::plan::{render, Action, PlanFile, VerifiedPlan};

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
    o.timeout = g.timeout.into();
    o.cache_dir = descope_mgmt::api::window::Memory::default_dir();
    o
}

/// The configuration, loaded once per command: the emulator (with `--emulator`) and the
/// session both use this one load.
pub(super) fn load_config(opts: &GlobalOptions) -> Result<LoadedConfig, OpError> {
    Ok(descope_mgmt::config::load(
        &descope_mgmt::config::LoadOptions {
            path: opts.config.clone(),
            env: opts.env.clone(),
            vars: opts.vars.clone(),
        },
    )?)
}

/// Waits and retries are shown for every networked command, not only apply: a dead API must
/// not look like a hung one. The printer stops when the guard is dropped. Call on a runtime.
pub(super) fn notices(
    g: &GlobalArgs,
) -> (
    tokio::sync::mpsc::UnboundedSender<descope_mgmt::api::gateway::GatewayEvent>,
    AbortOnDrop,
) {
    let (tx, rx) = unbounded_channel();
    let printer = tokio::spawn(report_gateway_events(
        rx,
        Arc::new(ApplyProgress::notices_only(g.quiet)),
    ));
    (tx, AbortOnDrop(printer))
}

/// Stops a background task when the scope ends.
pub(super) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// With `--emulator`: a local emulator persisted in the state directory, accepting the
/// configured project and key, for the life of the command.
pub(super) async fn start_emulator_if_asked(
    g: &GlobalArgs,
    opts: &mut GlobalOptions,
    loaded: &LoadedConfig,
) -> Result<Option<Emulator>, OpError> {
    if !g.emulator {
        return Ok(None);
    }
    let defaults = EmulatorOptions::default();
    let project_id = loaded
        .env
        .as_ref()
        .and_then(|e| e.project_id.clone())
        .unwrap_or(defaults.project_id.clone());
    let key = descope_mgmt::config::resolve_credentials(loaded, &opts.vars)
        .map(|c| c.management_key.expose().to_string())
        .unwrap_or(defaults.management_key.clone());
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| OpError::Io(format!("cannot create {}: {e}", opts.state_dir.display())))?;
    let emulator = Emulator::start(EmulatorOptions {
        project_id: project_id.clone(),
        management_key: key.clone(),
        state_file: Some(
            opts.state_dir
                .join(format!("emulator-{}.json", loaded.environment)),
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

/// Loads the configuration once, starts the emulator if asked, and opens the session.
pub(super) async fn open_session(
    g: &GlobalArgs,
    mut opts: GlobalOptions,
    events: Option<tokio::sync::mpsc::UnboundedSender<descope_mgmt::api::gateway::GatewayEvent>>,
) -> Result<(Session, Option<Emulator>), OpError> {
    let loaded = load_config(&opts)?;
    let emulator = start_emulator_if_asked(g, &mut opts, &loaded).await?;
    let session = Session::from_loaded(&opts, loaded, events)?;
    Ok((session, emulator))
}

pub fn plan_options(g: &GlobalArgs, p: &PlanArgs) -> PlanRequest {
    PlanRequest {
        out: p.out.as_deref().map(|o| g.place(o)),
        // Parsed by clap already (a malformed address is a usage error before anything runs);
        // the request carries the text the plan file records.
        targets: p.targets.iter().map(ToString::to_string).collect(),
        prune: p.prune.iter().map(ToString::to_string).collect(),
        allow_replace: p.allow_replace.iter().map(ToString::to_string).collect(),
        keep_in_state: false,
    }
}

pub fn print_plan(outcome: &PlanOutcome, color: bool, quiet: bool) {
    if quiet {
        // No narration, but the result: a CI log must still say whether anything changes.
        println!(
            "{}",
            descope_mgmt::plan::file::Summary::of(&outcome.plan.changes).line()
        );
        if let Some(path) = &outcome.saved_to {
            println!("Saved the plan to {}.", path.display());
        }
        return;
    }
    {
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
        let (tx, _notices) = notices(g);
        let (session, _emulator) =
            match open_session(g, global_options(g, g.env.clone()), Some(tx)).await {
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
        let outcome = plan(session, &plan_options(g, p)).await?;
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
    let file = g.locate(&s.file);
    let plan = match PlanFile::read_verified(&file) {
        Ok(p) => p,
        Err(e) => return fail(&OpError::from(e)),
    };
    let out = match s.format {
        Format::Text => render::text(&plan, use_color(g.no_color)),
        Format::Markdown => render::markdown(&plan, &file.display().to_string()),
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&render::json(&plan)).unwrap_or_default()
        ),
    };
    let code = super::write_stdout(out.as_bytes());
    // The process ends with this command: freeing a 10k-change plan object by object took
    // longer than rendering it (docs/benchmarks.md), and the system takes it back at once.
    std::mem::forget((plan, out));
    code
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
        if report.not_run() > 0 {
            "INTERRUPTED"
        } else if report.all_succeeded() {
            "complete"
        } else {
            "INCOMPLETE"
        },
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
    let notes: Vec<String> = report
        .results
        .iter()
        .filter(|r| matches!(r.action, Action::Create | Action::Replace) && r.outcome.is_success())
        .filter_map(|r| descope_mgmt::kinds::of(r.address.kind()).created_note(&r.address))
        .collect();
    if !notes.is_empty() {
        println!("\n{}", notes.join("\n"));
    }
    if report.not_run() > 0 {
        println!(
            "\nInterrupted: {} operation(s) were not started (nothing of them was sent). Requests already sent finished and were journaled.",
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

/// The exact command that turns this apply's backup into a plan undoing it; `None` when
/// nothing was backed up (nothing existing was changed).
pub fn undo_hint(g: &GlobalArgs, environment: &str, report: &ApplyReport) -> Option<String> {
    let done = |pick: fn(Action) -> bool| {
        report
            .results
            .iter()
            .filter(|r| pick(r.action) && r.outcome.is_success())
            .count()
    };
    let created = done(|a| a == Action::Create);
    let changed = done(|a| a != Action::Create);
    let creations = format!(
        "{created} resource(s) this apply created existed nowhere before, so no backup brings them back: \
         to remove them, take them out of the configuration (e.g. `git revert` the change), then plan and apply."
    );
    let backup = match (&report.backup, changed) {
        (Some(b), 1..) => b,
        _ if created > 0 => return Some(format!("\nTo undo this apply: {creations}")),
        _ => return None,
    };
    let mut cmd = format!(
        "descope-mgmt backup restore {} -out plans/undo.plan",
        backup.display()
    );
    // Only what was typed: a discovered configuration is found again the same way.
    if let Some(c) = &g.config_arg {
        cmd.push_str(&format!(" --config {}", c.display()));
    }
    if let Some(d) = &g.state_dir_arg {
        cmd.push_str(&format!(" --state-dir {}", d.display()));
    }
    if g.emulator {
        cmd.push_str(" --emulator");
    }
    if environment != descope_mgmt::config::DEFAULT_ENVIRONMENT {
        cmd.push_str(&format!(" --env {environment}"));
    }
    // Undoing a replace is a replace again, which is never planned unasked.
    for r in report
        .results
        .iter()
        .filter(|r| r.action == Action::Replace && r.outcome.is_success())
    {
        cmd.push_str(&format!(" --allow-replace {}", r.address));
    }
    let mut text = format!(
        "\nTo undo this apply, make a plan from its backup, review it, and apply it (and revert the \
         configuration change too, or the next plan makes it again):\n  {cmd}\n  descope-mgmt apply plans/undo.plan"
    );
    if created > 0 {
        text.push_str(&format!("\n{creations}"));
    }
    Some(text)
}

/// Runs `apply` for a verified plan file, with progress output.
pub async fn apply_with_progress(
    session: &Session,
    plan: VerifiedPlan,
    lock_timeout: std::time::Duration,
    quiet: bool,
) -> Result<ApplyReport, OpError> {
    let progress = Arc::new(ApplyProgress::new(plan.changes.len(), quiet));
    let req = ApplyRequest {
        plan,
        lock_timeout,
        access_key_out: None,
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
    if let Some(e) = planning_flags_with_a_plan_file(a) {
        return fail(&e);
    }
    rt.block_on(async {
        // A saved plan is checked before anything else, network included. One that `apply`
        // saved in object storage (`s3://…/<env>/plans/<digest>.json`) is read through the
        // state store once the session knows it, still before the lock and any Descope request.
        let stored = a.file.as_ref().filter(|p| is_state_url(p));
        let saved = match a.file.as_deref().map(|f| g.locate(f)) {
            Some(path) if stored.is_none() => match PlanFile::read_verified(&path) {
                Ok(p) => Some(p),
                Err(e) => return fail(&OpError::from(e)),
            },
            _ => None,
        };
        let env = g
            .env
            .clone()
            .or_else(|| saved.as_ref().map(|p| p.environment.clone()))
            .or_else(|| stored.and_then(|p| env_of_saved_plan(p)));
        let (tx, rx) = unbounded_channel();
        let (session, _emulator) = match open_session(g, global_options(g, env), Some(tx)).await {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        let saved = match (saved, stored) {
            (None, Some(url)) => match session
                .state
                .read_saved_plan(url)
                .map_err(OpError::from)
                .and_then(|bytes| {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        OpError::from(descope_mgmt::plan::file::PlanFileError::NotCanonical {
                            path: url.display().to_string(),
                        })
                    })?;
                    Ok(PlanFile::parse_verified(&text, url)?)
                }) {
                Ok(p) => Some(p),
                Err(e) => return fail(&e),
            },
            (s, _) => s,
        };
        let plan = match saved {
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
        let path = plan.path().to_path_buf();
        let req = ApplyRequest {
            plan,
            lock_timeout: a.lock_timeout.into(),
            access_key_out: a.access_key_out.clone(),
        };
        let result = apply(&session, req, progress.clone()).await;
        progress.finish();
        events.abort();
        interrupts.abort();
        match result {
            Ok(report) => {
                print_report(&report, &path);
                if let Some(undo) = undo_hint(g, &session.loaded.environment, &report) {
                    println!("{undo}");
                }
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

/// `apply FILE` carries out the file as reviewed; a flag that would change what is planned
/// cannot apply to it, and ignoring it would be a silent surprise.
fn planning_flags_with_a_plan_file(a: &ApplyArgs) -> Option<OpError> {
    let file = a.file.as_ref()?;
    let p = &a.plan;
    let flag = [
        ("--target", !p.targets.is_empty()),
        ("--prune", !p.prune.is_empty()),
        ("--allow-replace", !p.allow_replace.is_empty()),
        ("--out", p.out.is_some()),
        ("--detailed-exitcode", p.detailed_exitcode),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))?;
    Some(OpError::Usage(format!(
        "{flag} cannot be used with a plan file: the plan file is what was reviewed, and apply \
         carries it out exactly. Plan again with {flag} (`descope-mgmt plan {flag} … -out FILE`), \
         then apply that file instead of {}",
        file.display()
    )))
}

fn is_state_url(path: &Path) -> bool {
    let p = path.to_string_lossy();
    ["s3://", "gs://", "gcs://", "az://", "azure://"]
        .iter()
        .any(|s| p.starts_with(s))
}

/// `<env>` of `…/<env>/plans/<digest>.json`.
fn env_of_saved_plan(path: &Path) -> Option<String> {
    let plans = path.parent()?;
    (plans.file_name()? == "plans")
        .then(|| plans.parent()?.file_name()?.to_str().map(str::to_string))
        .flatten()
}

/// First Ctrl-C: send nothing new (operations still waiting for the request budget are not
/// started), let requests already sent finish and be journaled, then report (exit 1). Second Ctrl-C: stop at once — the journal is fsynced line by line, so a
/// re-run still resumes correctly.
async fn stop_on_interrupt(
    stop: descope_mgmt::util::interrupt::Interrupt,
    progress: Arc<ApplyProgress>,
) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    stop.trigger();
    progress.note("Interrupted: requests already sent finish; nothing else is sent (Ctrl-C again to stop at once).");
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("Stopped. Re-run the same apply to finish the plan.");
        std::process::exit(i32::from(exit::ERROR));
    }
}

/// `apply` without a file: plan now, keeping the plan under state/<env>/plans/ (so it can be
/// resumed), show it, and ask for `yes` unless `--auto-approve`. What is applied is the file
/// read back and verified, like any saved plan.
async fn plan_then_confirm(
    session: &Session,
    g: &GlobalArgs,
    a: &ApplyArgs,
) -> Result<Option<VerifiedPlan>, OpError> {
    let mut req = plan_options(g, &a.plan);
    req.out = None;
    req.keep_in_state = true;
    let mut outcome = plan(session, &req).await?;
    let kept = outcome
        .saved_to
        .take()
        .ok_or_else(|| OpError::Io("the plan was not kept in the state directory".into()))?;
    print_plan(&outcome, use_color(g.no_color), g.quiet);
    // The kept file may be in object storage: verify the bytes that were written there.
    let verified = PlanFile::parse_verified(&outcome.plan.to_canonical_string(), &kept)?;
    if !outcome.plan.has_changes() {
        return Ok(Some(verified));
    }
    // Before asking: a yes that apply then refuses would waste the reviewer's time.
    descope_mgmt::ops::apply::issued_secrets_needed(&outcome.plan, a.access_key_out.as_deref())?;
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
    Ok(Some(verified))
}
