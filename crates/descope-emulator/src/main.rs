//! `descope-emulator`: a local Descope Management API on 127.0.0.1 (see README.md).

use std::process::ExitCode;

use clap::Parser;
use descope_emulator::cli::EmulatorArgs;

#[derive(Debug, Parser)]
#[command(
    name = "descope-emulator",
    version,
    about = "A local stand-in for Descope's Management API, for integration tests",
    after_help = "Example:\n  descope-emulator --port 8787 --state emulator.json --rate 100/60"
)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The emulator logs only problems (a state file it cannot save, a request log it cannot
    // write); RUST_LOG can ask for more.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
    descope_emulator::cli::run(&cli.args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
