//! The thin command-line layer: parse, resolve global settings, call one library operation per
//! command, and turn its result into output and an exit code (docs/design.md §1, Exit codes).

pub mod args;
mod commands;
mod demo;
mod manage;
mod output;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

/// Exit codes of the contract: 0 success / no changes, 1 error, 2 changes present, 3 plan refused.
pub use descope_mgmt::ops::exit_code as exit;

pub fn main() -> ExitCode {
    let argv = args::rewrite_terraform_flags(std::env::args());
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own usage code is 2, which our contract reserves for "changes present".
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    let mut cli = cli;
    init_logging(cli.global.verbose, cli.global.quiet, cli.global.no_color);
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(note) = cli.global.resolve(&cwd) {
        if !cli.global.quiet {
            eprintln!("{note}");
        }
    }
    if let Err(message) = environment_from_branch(&mut cli, &cwd) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::ERROR);
    }
    ExitCode::from(run(cli))
}

/// `settings.branch_environments`, when neither `--env` nor `DESCOPE_ENV` chose one: said on
/// stderr, and never for `apply` without a plan file (with one, the file's environment rules).
fn environment_from_branch(cli: &mut Cli, cwd: &std::path::Path) -> Result<(), String> {
    use descope_mgmt::config::branch::{branch_settings, current_branch};
    if cli.global.env.is_some() {
        return Ok(());
    }
    let apply_without_file = matches!(&cli.command, Command::Apply(a) if a.file.is_none());
    let eligible = apply_without_file
        || matches!(
            cli.command,
            Command::Plan(_)
                | Command::Drift(_)
                | Command::List(_)
                | Command::Export(_)
                | Command::Backup(_)
                | Command::State(_)
                | Command::AccessKey(_)
        );
    if !eligible {
        return Ok(());
    }
    let Some(settings) = branch_settings(&cli.global.config) else {
        return Ok(());
    };
    let Some(branch) = current_branch(cwd, std::env::var("GITHUB_HEAD_REF").ok()) else {
        return Ok(());
    };
    let Some((pattern, env)) = settings.environment_for_branch(&branch) else {
        return Ok(());
    };
    if apply_without_file {
        return Err(format!(
            "apply without a plan file never takes its environment from the git branch \
             (`{branch}` would be `{env}`); pass --env {env}, or apply a plan file"
        ));
    }
    if !cli.global.quiet {
        eprintln!(
            "Environment `{env}` from git branch `{branch}` (settings.branch_environments: \"{pattern}\"); --env overrides"
        );
    }
    cli.global.env = Some(env.to_string());
    Ok(())
}

/// Log lines go to stderr: warnings by default, more with -v/-vv, `RUST_LOG` overrides.
/// Nothing logged carries a secret: the management key only exists inside `Secret`. Colour
/// follows the same rule as the rest of the output, judged on stderr, where the lines go.
fn init_logging(verbose: u8, quiet: bool, no_color: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("descope_mgmt={level},warn"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::color_allowed(no_color) && output::stderr_is_terminal())
        .with_target(false)
        .without_time()
        .try_init();
}

fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Plan(p) => commands::run_plan(&cli.global, &p),
        Command::Show(s) => commands::run_show(&cli.global, &s),
        Command::Apply(a) => commands::run_apply(&cli.global, &a),
        Command::Demo(d) => demo::run_demo(&cli.global, &d),
        Command::Validate(v) => validate(&cli.global, &v),
        Command::Init => init(&cli.global),
        Command::Schema => schema(),
        Command::Man => {
            use clap::CommandFactory;
            let mut buf = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
                Ok(()) => write_stdout(&buf),
                Err(e) => {
                    eprintln!("error: cannot render the manual page: {e}");
                    exit::ERROR
                }
            }
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into a buffer first: clap_complete panics when its writer fails (e.g. `| head`).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "descope-mgmt", &mut buf);
            write_stdout(&buf)
        }
        Command::Emulator(args) => match descope_emulator::cli::run(&args) {
            code if code == ExitCode::SUCCESS => exit::OK,
            _ => exit::ERROR,
        },
        Command::Drift(d) => manage::run_drift(&cli.global, &d),
        Command::List(l) => manage::run_list(&cli.global, &l),
        Command::Export(e) => manage::run_export(&cli.global, &e),
        Command::Backup(b) => manage::run_backup(&cli.global, &b),
        Command::State(s) => manage::run_state(&cli.global, &s),
        Command::AccessKey(a) => manage::run_access_key(&cli.global, &a),
    }
}

fn validate(global: &args::GlobalArgs, v: &args::ValidateArgs) -> u8 {
    let opts = descope_mgmt::ops::validate::ValidateOptions {
        config: global.config.clone(),
        env: global.env.clone(),
        vars: descope_mgmt::config::VarSource::Process,
        print: v.print,
    };
    match descope_mgmt::ops::validate::validate(&opts) {
        Ok(envs) => {
            // Said once, and only when every environment checked agrees: a template that only
            // prod's overlay uses is not unused.
            let mut seen = std::collections::BTreeMap::new();
            for w in envs.iter().flat_map(|e| &e.warnings) {
                *seen.entry(w).or_insert(0) += 1;
            }
            for (w, n) in seen {
                if n == envs.len() {
                    eprintln!("{}", w.as_warning());
                }
            }
            if v.print {
                for e in &envs {
                    if let Some(text) = &e.rendered {
                        print!("--- # environment {}\n{text}", e.environment);
                    }
                }
            }
            if !global.quiet {
                for e in envs {
                    if v.print {
                        eprintln!("{e}");
                    } else {
                        println!("{e}");
                    }
                }
            }
            exit::OK
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            exit::ERROR
        }
    }
}

/// The starter is a file of its own so it stays readable YAML with its comments.
const STARTER: &str = include_str!("starter.yaml");

fn init(global: &args::GlobalArgs) -> u8 {
    let path = global
        .config_arg
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(args::CONFIG_NAMES[0]));
    if path.exists() {
        eprintln!(
            "error: {} already exists; init never overwrites a configuration (check it with `descope-mgmt validate`)",
            path.display()
        );
        return exit::ERROR;
    }
    // A project further up would have been used from here; the new file now takes its place.
    if global.config_arg.is_none() && global.config.exists() {
        eprintln!(
            "note: {} exists further up; commands run from here will use the new {} instead",
            global.config.display(),
            path.display()
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return exit::ERROR;
        }
    }
    // create_new: a file appearing since the check above is not overwritten either.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, STARTER.as_bytes()));
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", path.display());
        return exit::ERROR;
    }
    if !global.quiet {
        println!(
            "Wrote {}: a commented starter. Next:\n  descope-mgmt validate{}\nthen set DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY and run `descope-mgmt plan`.\nTo start from a live project instead: descope-mgmt export --out .",
            path.display(),
            global
                .config_arg
                .as_ref()
                .map(|c| format!(" --config {}", c.display()))
                .unwrap_or_default()
        );
    }
    exit::OK
}

fn schema() -> u8 {
    match serde_json::to_string_pretty(&descope_mgmt::config::json_schema()) {
        Ok(text) => write_stdout(format!("{text}\n").as_bytes()),
        Err(e) => {
            eprintln!("error: cannot render the schema: {e}");
            exit::ERROR
        }
    }
}

/// A closed pipe (`| head`) is the reader's choice, not our failure.
pub(crate) fn write_stdout(bytes: &[u8]) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            exit::ERROR
        }
    }
}
