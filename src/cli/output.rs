//! Terminal output: colours only on a terminal and never with `--no-color`/`NO_COLOR`;
//! progress bars on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;

use descope_mgmt::api::gateway::GatewayEvent;
use descope_mgmt::apply::execute::{OpOutcome, OpResult, Progress};
use descope_mgmt::plan::Change;

pub fn use_color(no_color_flag: bool) -> bool {
    color_allowed(no_color_flag) && std::io::stdout().is_terminal()
}

/// `--no-color` and `NO_COLOR` (https://no-color.org), whatever the stream.
pub fn color_allowed(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Apply progress: a bar with done/total, the current resource and the ETA on a terminal;
/// one line per finished operation otherwise (CI logs).
pub struct ApplyProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    lines: Mutex<()>,
}

impl ApplyProgress {
    /// Notices only, one line each on stderr (plan, drift, export: nothing to count).
    pub fn notices_only(quiet: bool) -> ApplyProgress {
        ApplyProgress {
            bar: None,
            quiet,
            lines: Mutex::new(()),
        }
    }

    pub fn new(total: usize, quiet: bool) -> ApplyProgress {
        let bar = (!quiet && stderr_is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {pos}/{len} {wide_msg} (ETA {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ApplyProgress {
            bar,
            quiet,
            lines: Mutex::new(()),
        }
    }

    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.quiet => {
                let _guard = self.lines.lock();
                eprintln!("{text}");
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for ApplyProgress {
    fn started(&self, change: &Change) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} {}", change.action.symbol(), change.address));
        }
    }

    fn finished(&self, r: &OpResult) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let line = match &r.outcome {
            // Reported once in the summary, not per operation.
            OpOutcome::NotRun => return,
            OpOutcome::Succeeded => format!(
                "  {} {}: {} ({} ms)",
                r.action.symbol(),
                r.address,
                past(r.action.verb()),
                r.duration.as_millis()
            ),
            OpOutcome::AlreadyDone => {
                format!("  {} {}: already done", r.action.symbol(), r.address)
            }
            OpOutcome::Failed { message, .. } => {
                format!("  {} {}: FAILED: {message}", r.action.symbol(), r.address)
            }
            OpOutcome::Skipped { because } => format!(
                "  {} {}: skipped ({because} failed)",
                r.action.symbol(),
                r.address
            ),
        };
        self.note(&line);
    }
}

fn past(verb: &str) -> String {
    match verb {
        "create" => "created".into(),
        "update" => "updated".into(),
        "delete" => "deleted".into(),
        "replace" => "replaced".into(),
        v => v.to_string(),
    }
}

/// Prints what the gateway waits for, so a long rate-limit pause never looks like a hang.
pub async fn report_gateway_events(
    mut rx: UnboundedReceiver<GatewayEvent>,
    progress: std::sync::Arc<ApplyProgress>,
) {
    while let Some(event) = rx.recv().await {
        match event {
            GatewayEvent::RateWait { wait } if wait >= Duration::from_secs(2) => progress.note(&format!(
                "  … waiting {:.0}s for the request budget (--rate-limit)",
                wait.as_secs_f64()
            )),
            GatewayEvent::BudgetLearned { budget } => progress.note(&format!(
                "  … Descope allows fewer requests than the budget: continuing at {budget} (set --rate-limit {budget} to start there)"
            )),
            GatewayEvent::LockedOut { retry_after } => progress.note(&format!(
                "  … Descope rate limit reached (429): pausing all requests for {}s, then continuing",
                retry_after.as_secs()
            )),
            GatewayEvent::Retrying { attempt, delay, error } => progress.note(&format!(
                "  … retry {attempt} in {:.1}s after: {error}",
                delay.as_secs_f64()
            )),
            GatewayEvent::Reading {
                what,
                done,
                total,
                left,
            } => progress.note(&format!(
                "  … reading {what}: {done} of {total} tenants, about {:.0}s left at the request budget",
                left.as_secs_f64()
            )),
            _ => {}
        }
    }
}
