//! The thin command-line layer: parse, resolve global settings, call one library operation per
//! command, and turn its result into output and an exit code (design.md §1, Exit codes).

pub mod args;

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
    ExitCode::from(run(cli))
}

fn run(cli: Cli) -> u8 {
    #[allow(clippy::match_single_binding)] // arms are added as commands land
    match cli.command {
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
        other => {
            eprintln!("error: `{other:?}` is not implemented yet");
            exit::ERROR
        }
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
fn write_stdout(bytes: &[u8]) -> u8 {
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
