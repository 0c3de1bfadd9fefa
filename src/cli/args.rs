//! The command line as clap sees it. Only parsing lives here; `cli::run` turns it into calls
//! into the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
pub use descope_emulator::cli::EmulatorArgs;

#[derive(Debug, Parser)]
#[command(
    name = "descope-mgmt",
    version = env!("DESCOPE_MGMT_VERSION"),
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
    /// Configuration file [default: descope.yaml or .descope/config.yaml in this directory or
    /// the nearest parent].
    #[arg(
        long = "config",
        global = true,
        env = "DESCOPE_CONFIG",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub config_arg: Option<PathBuf>,
    /// Environment (a key of `environments:`); `default` when the config has none.
    #[arg(
        long,
        global = true,
        env = "DESCOPE_ENV",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub env: Option<String>,
    /// Directory holding state.json, backups, journals and the audit log, per environment
    /// [default: `state` next to the configuration file].
    #[arg(long = "state-dir", global = true, value_name = "DIR")]
    pub state_dir_arg: Option<PathBuf>,
    /// The configuration file in use (`--config`, else discovered; see `GlobalArgs::resolve`).
    #[arg(skip)]
    pub config: PathBuf,
    /// The state directory in use.
    #[arg(skip)]
    pub state_dir: PathBuf,
    /// Where relative plan paths written by the tool (`-out`) go: the configuration's
    /// directory when it was found in a parent, else the working directory.
    #[arg(skip)]
    pub base_dir: PathBuf,
    /// Request budget: at most N requests in any SECONDS (overrides settings.rate_limit; default 90/60).
    #[arg(long, global = true, value_name = "N/SECONDS")]
    pub rate_limit: Option<descope_mgmt::api::gateway::RateBudget>,
    /// Most requests in flight at once (overrides settings.parallelism; default: sized from the latency).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: Option<u32>,

    /// Per-request timeout (e.g. `30s`); one operation gives up after four times this (at least
    /// a minute), retries included.
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s")]
    pub timeout: humantime::Duration,
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

/// The names a configuration is discovered under, in order, in each directory.
pub const CONFIG_NAMES: [&str; 2] = ["descope.yaml", ".descope/config.yaml"];

impl GlobalArgs {
    /// Fills `config`, `state_dir` and `base_dir`: `--config` (or `DESCOPE_CONFIG`) as given,
    /// else the first of `CONFIG_NAMES` in this directory or the nearest parent (like git);
    /// without one, `descope.yaml` here (the error then says how to make one). Returns a note
    /// naming a configuration found anywhere but `./descope.yaml`.
    pub fn resolve(&mut self, cwd: &std::path::Path) -> Option<String> {
        let (config, note) = match &self.config_arg {
            Some(c) => (c.clone(), None),
            None => match discover(cwd) {
                Some(found) if found == std::path::Path::new(CONFIG_NAMES[0]) => (found, None),
                Some(found) => {
                    let note = format!("Using the configuration {}", found.display());
                    (found, Some(note))
                }
                None => (PathBuf::from(CONFIG_NAMES[0]), None),
            },
        };
        // A configuration given by name keeps the working directory as the base, as before;
        // a discovered one is a project root, and its state and plans live next to it.
        let base = if self.config_arg.is_some() {
            PathBuf::new()
        } else {
            config_root(&config)
        };
        self.state_dir = match &self.state_dir_arg {
            Some(d) => d.clone(),
            None => base.join("state"),
        };
        self.base_dir = base;
        self.config = config;
        note
    }

    /// A plan file named on the command line: as given when it exists, else where `place` put
    /// it (`apply plans/dev.plan` from a subdirectory of the project).
    pub fn locate(&self, path: &std::path::Path) -> PathBuf {
        let placed = self.place(path);
        if path.exists() || !placed.exists() {
            path.to_path_buf()
        } else {
            placed
        }
    }

    /// A relative path the tool writes (`-out`), placed under `base_dir`.
    pub fn place(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// The directory a configuration belongs to: its own, or the parent of `.descope/`.
fn config_root(config: &std::path::Path) -> PathBuf {
    let dir = config.parent().unwrap_or(std::path::Path::new(""));
    if dir.file_name().is_some_and(|n| n == ".descope") {
        dir.parent()
            .unwrap_or(std::path::Path::new(""))
            .to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The nearest configuration, as a path relative to `cwd` (`../../descope.yaml`), so messages
/// stay short and the tool's other relative paths keep working.
fn discover(cwd: &std::path::Path) -> Option<PathBuf> {
    let mut up = PathBuf::new();
    for dir in cwd.ancestors() {
        for name in CONFIG_NAMES {
            if dir.join(name).is_file() {
                return Some(up.join(name));
            }
        }
        up.push("..");
    }
    None
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter descope.yaml (or `export` one from a live project).
    #[command(after_help = "Example:\n  descope-mgmt init && descope-mgmt validate")]
    Init,

    /// Check the configuration without touching the network.
    #[command(
        after_help = "Example:\n  descope-mgmt validate --config descope.yaml --env prod --print"
    )]
    Validate(ValidateArgs),

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

    /// List the live project's tenants, roles, permissions or flows, marking what is managed.
    #[command(
        after_help = "Examples:\n  descope-mgmt list tenants --env prod\n  descope-mgmt list flows --format json"
    )]
    List(ListArgs),

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

    /// Print the manual page (roff), generated from these definitions.
    #[command(
        after_help = "Example:\n  descope-mgmt man > /usr/local/share/man/man1/descope-mgmt.1"
    )]
    Man,

    /// Print shell completions.
    #[command(
        after_help = "Example:\n  descope-mgmt completions bash > /etc/bash_completion.d/descope-mgmt"
    )]
    Completions {
        /// bash, zsh or fish.
        shell: clap_complete::Shell,
    },

    /// Access keys: issue a new secret for one (`rotate`).
    #[command(
        subcommand,
        after_help = "Example:\n  descope-mgmt access-key rotate ci-bot --out secrets/ci-bot.key --env prod"
    )]
    AccessKey(AccessKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Have Descope issue a new secret for the access key NAME and write it to FILE (mode
    /// 0600). The old secret stops working at once.
    #[command(
        after_help = "Example:\n  descope-mgmt access-key rotate ci-bot --out secrets/ci-bot.key --env prod"
    )]
    Rotate {
        /// The key's name (its address is `access_key.NAME`).
        name: String,
        /// Where to write the new secret; an existing file is refused unless --force.
        #[arg(long = "out", value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
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
    pub targets: Vec<descope_mgmt::model::Address>,
    /// Also delete live resources of KIND (tenant, role, permission) that the config does not name.
    #[arg(long = "prune", value_name = "KIND")]
    pub prune: Vec<descope_mgmt::model::Kind>,
    /// Allow the destructive delete-and-create of this resource (e.g. a tenant whose parent changed).
    #[arg(long = "allow-replace", value_name = "ADDR")]
    pub allow_replace: Vec<descope_mgmt::model::Address>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Also print each environment's configuration as the other commands see it: overlay
    /// merged, SSO templates expanded, variables substituted, secrets shown as `(secret VAR)`.
    #[arg(long)]
    pub print: bool,
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
    /// Write each new access key's secret (shown by Descope only once) to DIR/<name>.key
    /// (mode 0600, never overwritten; DIR created 0700). Required when the plan creates or
    /// replaces an access key, refused when it creates none.
    #[arg(long, value_name = "DIR")]
    pub access_key_out: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DriftArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Any resource kind, singular or plural: tenants, roles, tenant_ssos, sso_apps,
    /// access_keys, lists, … (an unknown name lists them all).
    pub kind: String,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
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
        /// Allow the delete-and-create that restores this resource (the undo of a replace).
        #[arg(long = "allow-replace", value_name = "ADDR")]
        allow_replace: Vec<String>,
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
    /// Copy the environment's whole state (state.json, backups, journals, plans, audit log)
    /// to object storage or a local directory, under the lock.
    #[command(
        after_help = "Examples:\n  descope-mgmt state migrate --env prod --to s3://acme-descope-state/descope/ --region eu-west-1\n  descope-mgmt state migrate --env prod --to ./state   (back to a local directory)\n\nThen point settings.state at the new place (or remove it for a local directory)."
    )]
    Migrate {
        /// `s3://BUCKET/PREFIX/`, `gs://BUCKET/PREFIX/`, `az://CONTAINER/PREFIX/`, a directory,
        /// or `local` (the --state-dir directory).
        #[arg(long, value_name = "URL|DIR")]
        to: String,
        /// S3 region of the destination (else AWS_REGION).
        #[arg(long)]
        region: Option<String>,
        /// An S3-compatible server (or Azure endpoint) for the destination.
        #[arg(long)]
        endpoint: Option<String>,
        /// Wait this long for either lock, e.g. 30s.
        #[arg(long, default_value = "0s", value_name = "DURATION")]
        lock_timeout: humantime::Duration,
    },
    /// Print state.json exactly as stored.
    #[command(after_help = "Example:\n  descope-mgmt state pull --env prod > state.json")]
    Pull,
    /// Replace state.json with FILE (refused for an older file or another project unless --force).
    #[command(after_help = "Example:\n  descope-mgmt state push --env prod state.json")]
    Push {
        file: PathBuf,
        /// Push even a file that lacks plans the stored one records, or of another project.
        #[arg(long)]
        force: bool,
    },
    /// Remove the lock of an apply that is not running any more (object storage only).
    #[command(
        after_help = "Example:\n  descope-mgmt state force-unlock --env prod 3f2c1e0d9b8a7f6e"
    )]
    ForceUnlock {
        /// The lock id printed by the error of whoever was refused.
        id: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Keep the demo's files (config, plans, state) in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Terraform users spell long flags with one dash (`-out FILE`, `-auto-approve`,
/// `-target=ADDR`); clap would read `-out` as `-o -u -t`. Every word that is one dash followed
/// by the name of a long flag this CLI defines becomes the two-dash form; short flags (`-q`,
/// `-vv`), values that follow a flag, and everything after `--` are left alone.
pub fn rewrite_terraform_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    use clap::CommandFactory;
    let mut longs = std::collections::BTreeSet::new();
    collect_longs(&Cli::command(), &mut longs);
    let mut out = Vec::new();
    let mut rest_verbatim = false;
    for a in args {
        if rest_verbatim || a == "--" {
            rest_verbatim = true;
            out.push(a);
            continue;
        }
        let rewritten = a
            .strip_prefix('-')
            .filter(|r| !r.starts_with('-'))
            .and_then(|r| {
                let name = r.split_once('=').map_or(r, |(n, _)| n);
                (name.len() > 1 && longs.contains(name)).then(|| format!("-{a}"))
            });
        out.push(rewritten.unwrap_or(a));
    }
    out
}

fn collect_longs(cmd: &clap::Command, longs: &mut std::collections::BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if let Some(l) = arg.get_long() {
            longs.insert(l.to_string());
        }
    }
    longs.insert("help".into());
    longs.insert("version".into());
    for sub in cmd.get_subcommands() {
        collect_longs(sub, longs);
    }
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
    fn every_long_flag_takes_terraforms_single_dash() {
        let v = rewrite_terraform_flags(
            [
                "x",
                "-q",
                "-vv",
                "apply",
                "-auto-approve",
                "-lock-timeout=5s",
                "-target=tenant.a",
                "-detailed-exitcode",
                "-o",
                "-nope",
                "--",
                "-out",
            ]
            .map(String::from),
        );
        assert_eq!(
            v,
            [
                "x",
                "-q",
                "-vv",
                "apply",
                "--auto-approve",
                "--lock-timeout=5s",
                "--target=tenant.a",
                "--detailed-exitcode",
                "-o",
                "-nope",
                "--",
                "-out"
            ]
        );
        let cli = Cli::try_parse_from(rewrite_terraform_flags(
            [
                "descope-mgmt",
                "-q",
                "apply",
                "-auto-approve",
                "-lock-timeout",
                "30s",
                "p.plan",
            ]
            .map(String::from),
        ))
        .unwrap();
        assert!(cli.global.quiet);
        match cli.command {
            Command::Apply(a) => {
                assert!(a.auto_approve);
                assert_eq!(*a.lock_timeout, std::time::Duration::from_secs(30));
            }
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

    /// docs/commands.md is every command's `--help`, so the reference cannot drift from the
    /// code. `UPDATE_DOCS=1 cargo test --bin descope-mgmt commands_md` rewrites it.
    #[test]
    fn commands_md_is_the_help_of_every_command() {
        use clap::CommandFactory;
        fn section(cmd: &mut clap::Command, path: &str, out: &mut String) {
            let help = cmd.render_long_help().to_string();
            out.push_str(&format!(
                "## `{path}`\n\n```text\n{}\n```\n\n",
                help.trim_end()
            ));
            let names: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            for name in names {
                if let Some(sub) = cmd.find_subcommand_mut(&name) {
                    section(sub, &format!("{path} {name}"), out);
                }
            }
        }
        let mut root = Cli::command().term_width(100);
        root.build();
        let mut text = String::from(
            "# Commands\n\nEvery command's `--help`, generated from the clap definitions in\n\
             `src/cli/args.rs` and checked by a test (`UPDATE_DOCS=1 cargo test --bin descope-mgmt\n\
             commands_md` rewrites this file). The manual page is `descope-mgmt man`.\n\n",
        );
        section(&mut root, "descope-mgmt", &mut text);
        // The version line carries the git commit, which changes with every commit.
        let text = text.replace(env!("DESCOPE_MGMT_VERSION"), "VERSION");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/commands.md");
        if std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0") {
            std::fs::write(path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/commands.md differs from --help; run UPDATE_DOCS=1 cargo test --bin descope-mgmt commands_md and review the diff"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
