//! `drift`, `export`, `backup` and `state`: parse → library operation → output and exit code.

use std::fmt::Write as _;
use std::time::Duration;

use super::args::{
    AccessKeyCommand, BackupCommand, DriftArgs, ExportArgs, Format, GlobalArgs, ListArgs,
    ListFormat, StateCommand,
};
use super::commands::{fail, global_options, notices, runtime, with_session};
use super::exit;
use descope_mgmt::config::{self, LoadOptions, VarSource};
use descope_mgmt::ops::backup::{self, RestoreRequest};
use descope_mgmt::ops::drift::{drift, DriftReport};
use descope_mgmt::ops::export::{blank_config, export, ExportRequest};
use descope_mgmt::ops::state_cmd::{self, ImportOutcome};
use descope_mgmt::ops::{OpError, Session};
use descope_mgmt::plan::render;
use descope_mgmt::state::StateDir;

/// State writes outside apply are quick; a held lock means an apply is running, so they fail
/// at once with the holder named rather than wait.
const LOCK_TIMEOUT: Duration = Duration::ZERO;

/// The environment's state directory, from the configuration alone (no credentials needed).
fn state_dir(g: &GlobalArgs) -> Result<StateDir, OpError> {
    let loaded = config::load(&LoadOptions {
        path: g.config.clone(),
        env: g.env.clone(),
        vars: VarSource::Process.offline(),
    })?;
    Ok(StateDir::open(
        &g.state_dir,
        &loaded.environment,
        loaded.config.settings.state.as_ref(),
        &VarSource::Process,
    )?)
}

// ---------------------------------------------------------------------------------------------
// drift

pub fn run_drift(g: &GlobalArgs, a: &DriftArgs) -> u8 {
    let format = a.format;
    with_session(g, async move |session: &Session| {
        let report = drift(session).await?;
        let out = match format {
            Format::Text => drift_text(&report),
            Format::Markdown => drift_markdown(&report),
            Format::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&report)
                    .map_err(|e| OpError::Io(format!("cannot render the report: {e}")))?
            ),
        };
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        let code = super::write_stdout(out.as_bytes());
        if code != exit::OK {
            return Ok(code);
        }
        Ok(if report.has_drift() {
            exit::CHANGES
        } else {
            exit::OK
        })
    })
}

fn json_short(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
    }
}

fn drift_text(r: &DriftReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Drift check of environment `{}` (project {}) at {}",
        r.environment, r.project_id, r.checked_at
    );
    if !r.differences.is_empty() {
        let _ = writeln!(
            s,
            "\nThe live project differs from the configuration ({}):",
            r.differences.len()
        );
        for d in &r.differences {
            let _ = writeln!(
                s,
                "  {} {} ({}; plan would {})",
                d.action.symbol(),
                d.address,
                d.reason,
                d.action.verb()
            );
            for f in &d.fields {
                if f.paths.is_empty() {
                    let _ = writeln!(
                        s,
                        "      {}: live {}, config {}",
                        f.field,
                        json_short(&f.live),
                        json_short(&f.config)
                    );
                } else {
                    for p in &f.paths {
                        let _ = writeln!(s, "      {} {p}", f.field);
                    }
                }
            }
        }
    }
    if !r.changed_outside.is_empty() {
        let _ = writeln!(
            s,
            "\nChanged outside descope-mgmt since the last apply ({}):",
            r.changed_outside.len()
        );
        for c in &r.changed_outside {
            if c.live_fingerprint == descope_mgmt::plan::diff::ABSENT {
                let _ = writeln!(s, "  {}: deleted", c.address);
            } else {
                let _ = writeln!(
                    s,
                    "  {}: live object no longer matches the recorded fingerprint",
                    c.address
                );
            }
        }
    }
    if !r.unmanaged.is_empty() {
        let _ = writeln!(
            s,
            "\nUnmanaged (information only; to manage one, add it to the config, then `state import ADDR`) ({}):",
            r.unmanaged.len()
        );
        for a in &r.unmanaged {
            let _ = writeln!(s, "  {a}");
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        if r.in_sync {
            "No drift: the live project matches the configuration.".to_string()
        } else {
            format!(
                "Drift: {} difference(s), {} changed outside the tool. `descope-mgmt plan` shows how to reconcile.",
                r.differences.len(),
                r.changed_outside.len()
            )
        }
    );
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn drift_markdown(r: &DriftReport) -> String {
    let mut s = String::new();
    let verdict = if r.in_sync {
        "in sync"
    } else {
        "drift detected"
    };
    let _ = writeln!(
        s,
        "### descope-mgmt drift: `{}` — {verdict}\n",
        r.environment
    );
    let _ = writeln!(
        s,
        "Project `{}`, checked at {}. {} difference(s), {} changed outside descope-mgmt, {} unmanaged.\n",
        r.project_id,
        r.checked_at,
        r.differences.len(),
        r.changed_outside.len(),
        r.unmanaged.len()
    );
    if !r.differences.is_empty() {
        let _ = writeln!(s, "#### Live project vs configuration\n");
        let _ = writeln!(s, "| Resource | Plan would | Field | Live | Config |");
        let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
        for d in &r.differences {
            if d.fields.is_empty() {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | — | — | {} |",
                    md_cell(&d.address.to_string()),
                    d.action.verb(),
                    md_cell(&d.reason)
                );
            }
            for f in &d.fields {
                let (live, config) = if f.paths.is_empty() {
                    (
                        format!("`{}`", md_cell(&json_short(&f.live))),
                        format!("`{}`", md_cell(&json_short(&f.config))),
                    )
                } else {
                    let paths: Vec<String> = f
                        .paths
                        .iter()
                        .map(|p| format!("`{}`", md_cell(p)))
                        .collect();
                    ("(document)".to_string(), paths.join("<br>"))
                };
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {live} | {config} |",
                    md_cell(&d.address.to_string()),
                    d.action.verb(),
                    md_cell(&f.field)
                );
            }
        }
        s.push('\n');
    }
    if !r.changed_outside.is_empty() {
        let _ = writeln!(
            s,
            "#### Changed outside descope-mgmt since the last apply\n"
        );
        for c in &r.changed_outside {
            let what = if c.live_fingerprint == descope_mgmt::plan::diff::ABSENT {
                "deleted"
            } else {
                "modified"
            };
            let _ = writeln!(s, "- `{}` — {what}", md_cell(&c.address.to_string()));
        }
        s.push('\n');
    }
    if !r.unmanaged.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>{} unmanaged resource(s) (information only)</summary>\n",
            r.unmanaged.len()
        );
        for a in &r.unmanaged {
            let _ = writeln!(s, "- `{}`", md_cell(&a.to_string()));
        }
        let _ = writeln!(s, "\n</details>\n");
    }
    if !r.in_sync {
        let _ = writeln!(
            s,
            "Run `descope-mgmt plan --env {}` to see the changes that reconcile them.",
            r.environment
        );
    }
    s
}

// ---------------------------------------------------------------------------------------------
// list

pub fn run_list(g: &GlobalArgs, a: &ListArgs) -> u8 {
    let kind = match descope_mgmt::ops::list::parse_kind(&a.kind) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let format = a.format;
    with_session(g, async move |session: &Session| {
        let listed = descope_mgmt::ops::list::list(session, kind).await?;
        let out = match format {
            ListFormat::Json => format!(
                "{}\n",
                serde_json::to_string_pretty(&listed)
                    .map_err(|e| OpError::Io(format!("cannot render the list: {e}")))?
            ),
            ListFormat::Table => {
                let width = listed
                    .iter()
                    .map(|l| l.address.to_string().chars().count())
                    .max()
                    .unwrap_or(0)
                    .max("ADDRESS".len());
                let mut s = format!("{:<width$}  {:<28}  STATUS\n", "ADDRESS", "NAME");
                for l in &listed {
                    let status = match (l.system, l.managed, l.in_config) {
                        (true, _, _) => "Descope default (never touched)",
                        (_, true, true) => "managed",
                        (_, true, false) => "managed, not in the config (plan deletes it)",
                        (_, false, true) => "in the config, not applied yet",
                        (_, false, false) => "unmanaged",
                    };
                    let _ = writeln!(
                        s,
                        "{:<width$}  {:<28}  {status}",
                        l.address.to_string(),
                        l.name
                    );
                }
                let managed = listed.iter().filter(|l| l.managed).count();
                let _ = writeln!(
                    s,
                    "\n{} live in environment `{}` (project {}), {managed} managed.",
                    listed.len(),
                    session.loaded.environment,
                    session.credentials.project_id
                );
                s
            }
        };
        Ok(super::write_stdout(out.as_bytes()))
    })
}

// ---------------------------------------------------------------------------------------------
// export

pub fn run_export(g: &GlobalArgs, a: &ExportArgs) -> u8 {
    let req = ExportRequest {
        out: a.out.clone(),
        adopt: a.adopt,
        lock_timeout: LOCK_TIMEOUT,
    };
    let quiet = g.quiet;
    let report = async move |session: &Session| {
        let outcome = export(session, &req).await?;
        for w in &outcome.warnings {
            eprintln!("warning: {w}");
        }
        if !quiet {
            for f in &outcome.files {
                println!(
                    "{} {}",
                    if f.written { "wrote    " } else { "unchanged" },
                    f.path.display()
                );
            }
            println!(
                "\nExported {} resources of environment `{}` (project {}).",
                outcome.addresses.len(),
                session.loaded.environment,
                session.credentials.project_id
            );
            if outcome.adopted {
                println!(
                    "Recorded them as managed in {}.",
                    session.state.state_file().display()
                );
            }
            // Exactly as they must be typed: the exported file always has an environment.
            println!(
                "Next: descope-mgmt validate --config {0} --env {1}  and  descope-mgmt plan --config {0} --env {1} (no changes expected)",
                req.out.join("descope.yaml").display(),
                session.loaded.environment
            );
        }
        Ok(exit::OK)
    };
    if g.config.exists() {
        return with_session(g, report);
    }
    // No configuration yet (the usual first export): the SDKs' variables say where to read.
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    rt.block_on(async {
        let opts = global_options(g, g.env.clone());
        let loaded = blank_config(&g.config, g.env.as_deref());
        let (tx, _notices) = notices(g);
        let session = match Session::from_loaded(&opts, loaded, Some(tx)) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        match report(&session).await {
            Ok(code) => code,
            Err(e) => fail(&e),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// backup

pub fn run_backup(g: &GlobalArgs, c: &BackupCommand) -> u8 {
    match c {
        BackupCommand::List => {
            let result = state_dir(g).and_then(|dir| Ok((backup::list(&dir)?, dir)));
            let (list, dir) = match result {
                Ok(x) => x,
                Err(e) => return fail(&e),
            };
            let mut s = String::new();
            if list.is_empty() {
                let _ = writeln!(s, "No backups in {}.", dir.backups_dir().display());
            } else {
                let _ = writeln!(
                    s,
                    "{:<22} {:<12} {:<20} {:>9}  FILE",
                    "TIME", "ENVIRONMENT", "PLAN", "RESOURCES"
                );
                for b in &list {
                    let digest = b.plan_digest.trim_start_matches("sha256:");
                    let file = b
                        .path
                        .file_name()
                        .map(|f| f.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "{:<22} {:<12} sha256:{:<13} {:>9}  {file}",
                        b.created_at.to_string(),
                        b.environment,
                        digest.get(..12).unwrap_or(digest),
                        b.addresses.len()
                    );
                }
            }
            super::write_stdout(s.as_bytes())
        }
        BackupCommand::Restore {
            backup,
            out,
            allow_replace,
        } => {
            let allow_replace = match allow_replace
                .iter()
                .map(|a| state_cmd::parse_address(a))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(a) => a,
                Err(e) => return fail(&e),
            };
            let req = RestoreRequest {
                backup: backup.clone(),
                out: g.place(out),
                allow_replace,
            };
            let quiet = g.quiet;
            let color = super::output::use_color(g.no_color);
            with_session(g, async move |session: &Session| {
                let outcome = backup::restore(session, &req).await?;
                for w in &outcome.warnings {
                    eprintln!("warning: {w}");
                }
                if !quiet {
                    print!("{}", render::text(&outcome.plan, color));
                    if !outcome.unchanged.is_empty() {
                        println!(
                            "Already as backed up: {}",
                            outcome
                                .unchanged
                                .iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    if !outcome.unmanaged.is_empty() {
                        println!(
                            "Not managed in state.json, so they come back unmanaged (add them to the config or `state import` them): {}",
                            outcome
                                .unmanaged
                                .iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    println!(
                        "\nSaved the restore plan to {}. Nothing was written to Descope. Review it, then run:\n  descope-mgmt apply {}",
                        outcome.saved_to.display(),
                        outcome.saved_to.display()
                    );
                }
                Ok(exit::OK)
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// state

pub fn run_state(g: &GlobalArgs, c: &StateCommand) -> u8 {
    let addr = |text: &str| state_cmd::parse_address(text);
    match c {
        StateCommand::List => {
            let list = match state_dir(g).and_then(|d| state_cmd::list(&d)) {
                Ok(l) => l,
                Err(e) => return fail(&e),
            };
            let mut s = String::new();
            for (a, r) in &list {
                let _ = writeln!(s, "{a}{}", if r.protect { "  (protected)" } else { "" });
            }
            super::write_stdout(s.as_bytes())
        }
        StateCommand::Show { address } => {
            let result = addr(address).and_then(|a| {
                let dir = state_dir(g)?;
                Ok((state_cmd::show(&dir, &a)?, a, dir))
            });
            match result {
                Ok((r, a, dir)) => {
                    let mut text = format!(
                        "address:     {a}\nenvironment: {}\nfingerprint: {}\nprotect:     {}\n",
                        dir.env(),
                        r.fingerprint,
                        r.protect
                    );
                    if r.delete_cascade {
                        text.push_str("cascade:     true (a delete also removes its users)\n");
                    }
                    for (attribute, var) in &r.secrets {
                        let _ = writeln!(text, "secret:      {attribute} from ${{secret:{var}}}");
                    }
                    match &r.attributes {
                        Some(v) => {
                            let pretty =
                                serde_json::to_string_pretty(&v.value()).unwrap_or_default();
                            let _ = writeln!(text, "attributes (as last applied or imported):");
                            for line in pretty.lines() {
                                let _ = writeln!(text, "  {line}");
                            }
                        }
                        None => text.push_str(
                            "attributes:  not recorded (a flow or the theme, or not applied since this was added)\n",
                        ),
                    }
                    super::write_stdout(text.as_bytes())
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::Rm { address } => {
            let result = addr(address).and_then(|a| {
                let dir = state_dir(g)?;
                state_cmd::rm(&dir, &a, LOCK_TIMEOUT)?;
                Ok(a)
            });
            match result {
                Ok(a) => {
                    if !g.quiet {
                        println!("{a} is no longer managed; the live resource was not changed.");
                    }
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::Migrate {
            to,
            region,
            endpoint,
            lock_timeout,
        } => {
            let result = state_dir(g).and_then(|from| {
                let dest = migrate_target(g, &from, to, region, endpoint)?;
                let warn = |w: String| eprintln!("warning: {w}");
                let report = descope_mgmt::state::transfer::migrate(
                    &from,
                    &dest,
                    (*lock_timeout).into(),
                    &warn,
                )
                .map_err(transfer_error)?;
                Ok((report, from, dest))
            });
            match result {
                Ok((report, from, dest)) => {
                    for w in &report.warnings {
                        eprintln!("warning: {w}");
                    }
                    if !g.quiet {
                        println!(
                            "Copied {} file(s) of environment `{}` from {} to {}.\nNext: point settings.state at {} (remove it for a local directory); {} was left as it was.",
                            report.copied.len(),
                            from.env(),
                            from.path().display(),
                            dest.path().display(),
                            dest.root().display(),
                            from.path().display()
                        );
                    }
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::Pull => {
            match state_dir(g).and_then(|d| Ok(descope_mgmt::state::transfer::pull(&d)?)) {
                Ok(Some(bytes)) => super::write_stdout(&bytes),
                Ok(None) => {
                    eprintln!("No state.json yet: nothing was applied to this environment.");
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::Push { file, force } => {
            let result = std::fs::read(file)
                .map_err(|e| OpError::Io(format!("cannot read {}: {e}", file.display())))
                .and_then(|bytes| {
                    let dir = state_dir(g)?;
                    descope_mgmt::state::transfer::push(&dir, &bytes, *force, LOCK_TIMEOUT)
                        .map_err(transfer_error)?;
                    Ok(dir)
                });
            match result {
                Ok(dir) => {
                    if !g.quiet {
                        println!(
                            "Pushed {} to {}.",
                            file.display(),
                            dir.state_file().display()
                        );
                    }
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::ForceUnlock { id } => {
            let result = state_dir(g)
                .and_then(|d| Ok(descope_mgmt::state::StateLock::force_unlock(&d, id)?));
            match result {
                Ok(holder) => {
                    if !g.quiet {
                        println!(
                            "Removed the lock held by {}. If that apply is in fact still running, its next state write is refused.",
                            holder.describe()
                        );
                    }
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        StateCommand::Import { address } => {
            let a = match addr(address) {
                Ok(a) => a,
                Err(e) => return fail(&e),
            };
            let quiet = g.quiet;
            with_session(g, async move |session: &Session| {
                let outcome = state_cmd::import(session, &a, LOCK_TIMEOUT).await?;
                if !quiet {
                    match outcome {
                        ImportOutcome::Imported(_) => println!(
                            "{a} is now managed in environment `{}`.",
                            session.loaded.environment
                        ),
                        ImportOutcome::AlreadyManaged(_) => {
                            println!("{a} was already managed; its fingerprint was refreshed.")
                        }
                    }
                }
                Ok(exit::OK)
            })
        }
    }
}

fn transfer_error(e: descope_mgmt::state::transfer::TransferError) -> OpError {
    use descope_mgmt::state::transfer::TransferError;
    match e {
        TransferError::State(e) => e.into(),
        TransferError::Lock(e) => e.into(),
        TransferError::Refused(m) => OpError::Usage(m),
    }
}

/// `--to`: a bucket URL, or a directory on this machine.
fn migrate_target(
    g: &GlobalArgs,
    from: &StateDir,
    to: &str,
    region: &Option<String>,
    endpoint: &Option<String>,
) -> Result<StateDir, OpError> {
    use descope_mgmt::state::{ObjectStateStore, RemoteSpec};
    match RemoteSpec::parse_url(to) {
        Some(mut spec) => {
            spec.region = region.clone();
            spec.endpoint = endpoint.clone();
            Ok(StateDir::with_store(
                std::sync::Arc::new(ObjectStateStore::open(spec, &VarSource::Process)?),
                from.env(),
            )?)
        }
        None if to.contains("://") => Err(OpError::Usage(format!(
            "`{to}` is neither s3://, gs:// or az:// nor a directory"
        ))),
        None if to == "local" => Ok(StateDir::new(&g.state_dir, from.env())?),
        None => Ok(StateDir::new(to, from.env())?),
    }
}

/// `access-key rotate`: the library does the work (ops::access_key); this prints where the
/// secret went, never the secret.
pub fn run_access_key(g: &GlobalArgs, a: &AccessKeyCommand) -> u8 {
    let AccessKeyCommand::Rotate { name, out, force } = a;
    let req = descope_mgmt::ops::access_key::RotateRequest {
        name: name.clone(),
        out: out.clone(),
        force: *force,
        lock_timeout: LOCK_TIMEOUT,
    };
    let quiet = g.quiet;
    with_session(g, async move |session: &Session| {
        let report = descope_mgmt::ops::access_key::rotate(session, &req).await?;
        if !quiet {
            println!(
                "Rotated {} (id {}): its new secret is in {} (mode 0600); the old one no longer works.",
                report.address,
                report.id,
                report.out.display()
            );
        }
        Ok(exit::OK)
    })
}
