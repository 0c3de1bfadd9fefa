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
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const CHANGES: u8 = 2;
    pub const REFUSED: u8 = 3;
}

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
    init_logging(cli.global.verbose, cli.global.quiet);
    ExitCode::from(run(cli))
}

/// Log lines go to stderr: warnings by default, more with -v/-vv, `RUST_LOG` overrides.
/// Nothing logged carries a secret: the management key only exists inside `Secret`.
fn init_logging(verbose: u8, quiet: bool) {
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
        Command::Validate => validate(&cli.global),
        Command::Schema => schema(),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into a buffer first: clap_complete panics when its writer fails (e.g. `| head`).
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "descope-mgmt", &mut buf);
            write_stdout(&buf)
        }
        Command::Emulator(args) => run_emulator(args),
        Command::Drift(d) => manage::run_drift(&cli.global, &d),
        Command::Export(e) => manage::run_export(&cli.global, &e),
        Command::Backup(b) => manage::run_backup(&cli.global, &b),
        Command::State(s) => manage::run_state(&cli.global, &s),
    }
}

fn validate(global: &args::GlobalArgs) -> u8 {
    let opts = crate::ops::validate::ValidateOptions {
        config: global.config.clone(),
        env: global.env.clone(),
        vars: crate::config::VarSource::Process,
    };
    match crate::ops::validate::validate(&opts) {
        Ok(envs) => {
            if !global.quiet {
                for e in envs {
                    println!("{e}");
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

fn schema() -> u8 {
    match serde_json::to_string_pretty(&crate::config::json_schema()) {
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

/// Runs the emulator in the foreground until Ctrl-C.
fn run_emulator(args: args::EmulatorArgs) -> u8 {
    use crate::emulator::{parse_rate, Emulator, EmulatorOptions, Faults};

    let rate = match args.rate.as_deref().map(parse_rate).transpose() {
        Ok(rate) => rate,
        Err(e) => {
            eprintln!("error: --rate: {e}");
            return exit::ERROR;
        }
    };
    for (flag, p) in [
        ("--fail-rate", args.fail_rate),
        ("--fail-after-commit-rate", args.fail_after_commit_rate),
        ("--slow-rate", args.slow_rate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            eprintln!("error: {flag} must be between 0.0 and 1.0, got {p}");
            return exit::ERROR;
        }
    }
    let defaults = EmulatorOptions::default();
    let opts = EmulatorOptions {
        project_id: args.project_id.unwrap_or(defaults.project_id),
        management_key: args.management_key.unwrap_or(defaults.management_key),
        port: args.port,
        state_file: args.state,
        rate,
        latency: std::time::Duration::from_millis(args.latency_ms),
        faults: Faults {
            fail_rate: args.fail_rate,
            fail_after_commit_rate: args.fail_after_commit_rate,
            slow_rate: args.slow_rate,
            slow_by: std::time::Duration::from_millis(args.slow_by_ms),
            include_license: args.faults_on_license,
            ..Faults::default()
        },
        omit_defaults: args.omit_defaults,
        lenient: args.lenient,
        log_file: args.log,
        seed: args.seed,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ERROR;
        }
    };
    runtime.block_on(async move {
        let emulator = match Emulator::start(opts).await {
            Ok(emulator) => emulator,
            Err(e) => {
                eprintln!("error: cannot start the emulator: {e}");
                return exit::ERROR;
            }
        };
        // Listen for Ctrl-C before announcing the address: a script that reads the banner and
        // interrupts at once must get a clean stop, not the default signal death.
        let interrupted = match interrupt_listener() {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen for Ctrl-C: {e}");
                return exit::ERROR;
            }
        };
        let banner = format!(
            "Descope emulator listening on {url}\n  project id:     {project}\n  management key: {key}\n\n\
             export DESCOPE_BASE_URI={url}\nexport DESCOPE_PROJECT_ID={project}\nexport DESCOPE_MANAGEMENT_KEY={key}\n\n\
             Press Ctrl-C to stop.\n",
            url = emulator.base_url(),
            project = emulator.project_id(),
            key = emulator.management_key(),
        );
        // A reader that went away (a closed pipe) must not stop the emulator.
        let mut stdout = std::io::stdout();
        let _ = std::io::Write::write_all(&mut stdout, banner.as_bytes());
        let _ = std::io::Write::flush(&mut stdout);
        interrupted.await;
        emulator.shutdown().await;
        exit::OK
    })
}

/// A future that resolves on Ctrl-C, with the handler already installed when this returns.
#[cfg(unix)]
fn interrupt_listener() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        interrupt.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupt_listener() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
