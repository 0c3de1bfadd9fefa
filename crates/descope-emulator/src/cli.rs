//! The emulator's command line, shared by the `descope-emulator` binary and
//! `descope-mgmt emulator`, so both take the same options and print the same banner.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::{Emulator, EmulatorOptions, Faults, RateBudget};

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// Persist the emulated project to FILE (atomic writes).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Project id the emulator accepts.
    #[arg(long)]
    pub project_id: Option<String>,
    /// Management key the emulator accepts.
    #[arg(long)]
    pub management_key: Option<String>,
    /// Allow N requests in any SECONDS window, then lock the client out (429) for the window.
    // Not `--rate-limit`: `descope-mgmt emulator` takes these flags beside its own global
    // `--rate-limit` (the client's budget).
    #[arg(long, value_name = "N/SECONDS")]
    pub rate: Option<RateBudget>,
    /// Delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fail this fraction of requests (0.0-1.0) before touching data.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Fail this fraction of writes after committing them (500 or a dropped connection).
    #[arg(long, default_value_t = 0.0)]
    pub fail_after_commit_rate: f64,
    /// Answer this fraction of requests slower than a client's timeout.
    #[arg(long, default_value_t = 0.0)]
    pub slow_rate: f64,
    /// How much slower a slow answer is, in milliseconds.
    #[arg(long, default_value_t = 35_000, value_name = "MS")]
    pub slow_by_ms: u64,
    /// Let faults hit the license handshake too.
    #[arg(long)]
    pub faults_on_license: bool,
    /// Seed of the fault draws and generated ids (same seed, same faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Leave default-valued fields out of responses.
    #[arg(long)]
    pub omit_defaults: bool,
    /// Accept what real Descope may accept but the strict default refuses.
    #[arg(long)]
    pub lenient: bool,
    /// Append a JSON line per request to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

impl EmulatorArgs {
    /// Checks what clap cannot (probabilities in 0..=1).
    pub fn to_options(&self) -> Result<EmulatorOptions, String> {
        for (flag, p) in [
            ("--fail-rate", self.fail_rate),
            ("--fail-after-commit-rate", self.fail_after_commit_rate),
            ("--slow-rate", self.slow_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{flag} must be between 0.0 and 1.0, got {p}"));
            }
        }
        let defaults = EmulatorOptions::default();
        Ok(EmulatorOptions {
            project_id: self.project_id.clone().unwrap_or(defaults.project_id),
            management_key: self
                .management_key
                .clone()
                .unwrap_or(defaults.management_key),
            port: self.port,
            state_file: self.state.clone(),
            rate: self.rate,
            latency: Duration::from_millis(self.latency_ms),
            faults: Faults {
                fail_rate: self.fail_rate,
                fail_after_commit_rate: self.fail_after_commit_rate,
                slow_rate: self.slow_rate,
                slow_by: Duration::from_millis(self.slow_by_ms),
                include_license: self.faults_on_license,
                ..Faults::default()
            },
            omit_defaults: self.omit_defaults,
            lenient: self.lenient,
            log_file: self.log.clone(),
            seed: self.seed,
        })
    }
}

/// Runs the emulator in the foreground until Ctrl-C: prints the address and the credentials as
/// `export` lines, then serves. Errors go to stderr and give exit code 1.
pub fn run(args: &EmulatorArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_inner(args: &EmulatorArgs) -> Result<(), String> {
    let opts = args.to_options()?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let emulator = Emulator::start(opts)
            .await
            .map_err(|e| format!("cannot start the emulator: {e}"))?;
        // Listen for Ctrl-C before announcing the address: a script that reads the banner and
        // interrupts at once must get a clean stop, not the default signal death.
        let interrupted =
            interrupt_listener().map_err(|e| format!("cannot listen for Ctrl-C: {e}"))?;
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
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> EmulatorArgs {
        Cli::try_parse_from(std::iter::once("descope-emulator").chain(argv.iter().copied()))
            .expect("parses")
            .args
    }

    #[test]
    fn options_follow_the_flags() {
        let opts = parse(&[
            "--port",
            "0",
            "--rate",
            "5/2s",
            "--fail-rate",
            "0.25",
            "--lenient",
        ])
        .to_options()
        .expect("valid");
        assert_eq!(opts.port, 0);
        assert_eq!(opts.rate, Some(RateBudget::new(5, Duration::from_secs(2))));
        assert_eq!(opts.faults.fail_rate, 0.25);
        assert!(opts.lenient);
        assert_eq!(opts.project_id, crate::DEFAULT_PROJECT_ID);
    }

    #[test]
    fn bad_values_are_refused_not_clamped() {
        for argv in [&["--rate", "5"][..], &["--rate", "0/60"]] {
            let e = Cli::try_parse_from(
                std::iter::once("descope-emulator").chain(argv.iter().copied()),
            )
            .err()
            .expect("refused by clap");
            assert!(e.to_string().contains("N/SECONDS"), "{argv:?}: {e}");
        }
        for argv in [
            &["--fail-rate", "1.5"][..],
            &["--slow-rate=-0.1"],
            &["--fail-after-commit-rate", "NaN"],
        ] {
            assert!(parse(argv).to_options().is_err(), "{argv:?}");
        }
    }
}
