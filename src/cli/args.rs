//! The command line as clap sees it. Only parsing lives here; `cli::run` turns it into calls
//! into the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
pub use descope_emulator::cli::EmulatorArgs;

#[derive(Debug, Parser)]
#[command(
    name = "descope-mgmt",
    version,
    about = "Descope as code: plan, review and apply tenants, roles, permissions, flows and the theme",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        default_value = "descope.yaml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Environment (a key of `environments:`); `default` when the config has none.
    #[arg(long, global = true, env = "DESCOPE_ENV", value_name = "NAME")]
    pub env: Option<String>,
    /// Directory holding state.json, backups, journals and the audit log, per environment.
    #[arg(long, global = true, default_value = "state", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Request budget: at most N requests in any SECONDS (overrides settings.rate_limit; default 90/60).
    #[arg(long, global = true, value_name = "N/SECONDS")]
    pub rate_limit: Option<descope_mgmt::api::gateway::RateBudget>,
    /// Most requests in flight at once (overrides settings.parallelism; default: sized from the latency).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: Option<u32>,
    /// Talk to a local emulator persisted in the state directory instead of Descope.
    #[arg(long, global = true)]
    pub emulator: bool,
    /// No colours (also when NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the final result.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration without touching the network.
    #[command(after_help = "Example:\n  descope-mgmt validate --config descope.yaml --env prod")]
    Validate,

    /// Compare the configuration with the live project and save the changes as a plan.
    #[command(after_help = "Example:\n  descope-mgmt plan --env dev -out plans/dev.plan")]
    Plan(PlanArgs),

    /// Print a saved plan as text, markdown (for pull requests) or JSON.
    #[command(
        after_help = "Example:\n  descope-mgmt show plans/dev.plan --format markdown > plan.md"
    )]
    Show(ShowArgs),

    /// Verify a saved plan against the live project and carry it out.
    #[command(
        after_help = "Examples:\n  descope-mgmt apply plans/dev.plan\n  descope-mgmt apply --env dev --auto-approve"
    )]
    Apply(ApplyArgs),

    /// Compare the live project with the configuration and report differences (read-only).
    #[command(after_help = "Example:\n  descope-mgmt drift --env prod --format markdown")]
    Drift(DriftArgs),

    /// Write a configuration (YAML plus flow and theme files) from a live project.
    #[command(after_help = "Example:\n  descope-mgmt export --env dev --out exported/ --adopt")]
    Export(ExportArgs),

    /// List backups, or turn one into a plan that restores it.
    #[command(
        subcommand,
        after_help = "Example:\n  descope-mgmt backup restore state/dev/backups/2026-11-21T10-00-00Z.json -out plans/restore.plan"
    )]
    Backup(BackupCommand),

    /// Inspect or change which live resources this tool manages.
    #[command(
        subcommand,
        after_help = "Example:\n  descope-mgmt state import tenant.acme-corp --env dev"
    )]
    State(StateCommand),

    /// Run a local Descope emulator (a stand-in for Descope's Management API).
    #[command(
        after_help = "Example:\n  descope-mgmt emulator --port 8787 --state emulator.json --rate 100/60"
    )]
    Emulator(EmulatorArgs),

    /// The quick start: plan, show, apply and plan again against a built-in emulator.
    #[command(after_help = "Example:\n  descope-mgmt demo")]
    Demo(DemoArgs),

    /// Print the JSON Schema of the configuration file (for editors' YAML language servers).
    #[command(after_help = "Example:\n  descope-mgmt schema > descope.schema.json")]
    Schema,

    /// Print shell completions.
    #[command(
        after_help = "Example:\n  descope-mgmt completions bash > /etc/bash_completion.d/descope-mgmt"
    )]
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Save the plan to FILE (`-out FILE` and `-out=FILE` also work, as in Terraform).
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Limit the plan to this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Also delete live resources of KIND (tenant, role, permission) that the config does not name.
    #[arg(long = "prune", value_name = "KIND")]
    pub prune: Vec<String>,
    /// Allow the destructive delete-and-create of this resource (e.g. a tenant whose parent changed).
    #[arg(long = "allow-replace", value_name = "ADDR")]
    pub allow_replace: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// Plan file written by `plan -out`.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Saved plan; without it, plan now, show it and ask for confirmation.
    pub file: Option<PathBuf>,
    /// Apply without asking (needed without a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// How long to wait for another apply on this environment to finish (e.g. 30s, 5m).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: humantime::Duration,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Directory to write descope.yaml and the flow and theme files into.
    #[arg(long = "out", default_value = "exported", value_name = "DIR")]
    pub out: PathBuf,
    /// Record everything exported as managed in state.json.
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// List backups of the environment.
    #[command(after_help = "Example:\n  descope-mgmt backup list --env prod")]
    List,
    /// Write a plan that brings the backed-up resources back to their saved state.
    #[command(
        after_help = "Example:\n  descope-mgmt backup restore state/prod/backups/20261121T100000Z-1a2b3c4d.json -out plans/restore.plan"
    )]
    Restore {
        /// Backup file (from `backup list`).
        backup: PathBuf,
        /// Where to write the plan.
        #[arg(long = "out", value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List managed addresses.
    #[command(after_help = "Example:\n  descope-mgmt state list --env dev")]
    List,
    /// Show what state.json records for one address.
    #[command(after_help = "Example:\n  descope-mgmt state show tenant.acme-corp --env dev")]
    Show { address: String },
    /// Stop managing a resource without deleting it.
    #[command(after_help = "Example:\n  descope-mgmt state rm role.acme-corp/viewer --env dev")]
    Rm { address: String },
    /// Start managing a resource that exists in the live project.
    #[command(after_help = "Example:\n  descope-mgmt state import tenant.acme-corp --env dev")]
    Import { address: String },
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Keep the demo's files (config, plans, state) in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Terraform users type `-out FILE` and `-out=FILE`; clap would read `-out` as `-o -u -t`.
pub fn rewrite_terraform_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            if a == "-out" {
                "--out".to_string()
            } else if let Some(rest) = a.strip_prefix("-out=") {
                format!("--out={rest}")
            } else {
                a
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_style_out_is_rewritten() {
        let v = rewrite_terraform_flags(
            ["x", "plan", "-out", "a.plan", "-out=b.plan", "--out", "c"].map(String::from),
        );
        assert_eq!(
            v,
            ["x", "plan", "--out", "a.plan", "--out=b.plan", "--out", "c"]
        );
        let cli = Cli::try_parse_from(rewrite_terraform_flags(
            ["descope-mgmt", "plan", "-out=p.plan", "--env", "dev"].map(String::from),
        ))
        .unwrap();
        match cli.command {
            Command::Plan(p) => assert_eq!(p.out.unwrap(), PathBuf::from("p.plan")),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn every_command_has_a_description_and_an_example() {
        use clap::CommandFactory;
        fn check(cmd: &mut clap::Command, path: &str) {
            for sub in cmd.get_subcommands_mut() {
                let name = format!("{path} {}", sub.get_name());
                if sub.get_name() == "help" {
                    continue;
                }
                assert!(sub.get_about().is_some(), "`{name}` has no description");
                let help = sub.render_long_help().to_string();
                if sub.get_subcommands().next().is_none() {
                    assert!(help.contains("Example"), "`{name} --help` shows no example");
                }
                check(sub, &name);
            }
        }
        check(&mut Cli::command(), "descope-mgmt");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
