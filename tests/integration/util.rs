//! `TestEnv`: one test's world. A temp dir of its own, optionally an emulator on 127.0.0.1:0,
//! the variables that point both the library and the real executable at that emulator, and
//! helpers to write the files a configuration names and to run either side against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use descope_emulator::{Emulator, EmulatorOptions};
use descope_mgmt::apply::execute::NoProgress;
use descope_mgmt::config::VarSource;
use descope_mgmt::ops::apply::{apply, ApplyReport, ApplyRequest};
use descope_mgmt::ops::plan::{plan, PlanOutcome, PlanRequest};
use descope_mgmt::ops::{GlobalOptions, OpError, Session};
use descope_mgmt::plan::PlanFile;
use descope_mgmt::state::StateDir;
use serde_json::Value;

/// The configuration file every test writes, relative to its temp dir.
pub const CONFIG: &str = "descope.yaml";
/// The state directory every test uses, relative to its temp dir.
pub const STATE: &str = "state";

/// Variables a developer's shell may hold that would change what the executable does.
const SCRUBBED: [&str; 7] = [
    "DESCOPE_ENV",
    "DESCOPE_PROJECT_ID",
    "DESCOPE_MANAGEMENT_KEY",
    "DESCOPE_BASE_URI",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "RUST_LOG",
];

/// The real `descope-mgmt` executable, nothing from the developer's shell that could change its
/// behaviour, working directory and arguments still to be set.
pub fn descope_mgmt() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("descope-mgmt"));
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd` off the async runtime, so an emulator on that runtime keeps answering.
pub async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("descope-mgmt runs"))
        .await
        .unwrap()
}

pub struct TestEnv {
    // Declared before the runtime: the emulator's task is aborted while its runtime still runs.
    emu: Option<Emulator>,
    _rt: Option<tokio::runtime::Runtime>,
    dir: tempfile::TempDir,
    /// What the library session and the executable both see as the process environment. With an
    /// emulator: the SDKs' `DESCOPE_BASE_URI`, `DESCOPE_PROJECT_ID`, `DESCOPE_MANAGEMENT_KEY`.
    pub vars: BTreeMap<String, String>,
    /// `--env` for library sessions.
    pub env: Option<String>,
}

impl TestEnv {
    /// A temp dir only: for tests of files, the loader and commands that need no project.
    pub fn new() -> TestEnv {
        TestEnv {
            emu: None,
            _rt: None,
            dir: tempfile::tempdir().expect("temp dir"),
            vars: BTreeMap::new(),
            env: None,
        }
    }

    /// An emulator on the calling test's runtime (`#[tokio::test]`).
    pub async fn start(opts: EmulatorOptions) -> TestEnv {
        let emu = Emulator::start(opts).await.expect("emulator starts");
        TestEnv::with(emu, None)
    }

    /// An emulator on a runtime of its own, so a synchronous `#[test]` can run the executable
    /// and wait for it while the emulator answers.
    pub fn start_blocking(opts: EmulatorOptions) -> TestEnv {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt.block_on(Emulator::start(opts)).expect("emulator starts");
        TestEnv::with(emu, Some(rt))
    }

    fn with(emu: Emulator, rt: Option<tokio::runtime::Runtime>) -> TestEnv {
        let vars = BTreeMap::from([
            ("DESCOPE_BASE_URI".to_string(), emu.base_url()),
            (
                "DESCOPE_PROJECT_ID".to_string(),
                emu.project_id().to_string(),
            ),
            (
                "DESCOPE_MANAGEMENT_KEY".to_string(),
                emu.management_key().to_string(),
            ),
        ]);
        TestEnv {
            emu: Some(emu),
            _rt: rt,
            vars,
            ..TestEnv::new()
        }
    }

    pub fn emu(&self) -> &Emulator {
        self.emu
            .as_ref()
            .expect("this TestEnv has no emulator: use TestEnv::start")
    }

    // ------------------------------------------------------------------------- files

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `rel`, creating directories; returns the full path.
    pub fn write(&self, rel: impl AsRef<Path>, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The configuration at `descope.yaml`.
    pub fn write_config(&self, yaml: &str) -> PathBuf {
        self.write(CONFIG, yaml)
    }

    /// A flow document where a configuration names it: `flows/<id>.json`.
    pub fn write_flow(&self, id: &str, doc: &Value) -> PathBuf {
        self.write(
            format!("flows/{id}.json"),
            &serde_json::to_string_pretty(doc).unwrap(),
        )
    }

    /// The theme document at `theme.json`.
    pub fn write_theme(&self, doc: &Value) -> PathBuf {
        self.write("theme.json", &serde_json::to_string_pretty(doc).unwrap())
    }

    pub fn config_path(&self) -> PathBuf {
        self.path(CONFIG)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path(STATE)
    }

    /// One environment's state directory under `state/`.
    pub fn state(&self, env: &str) -> StateDir {
        StateDir::new(self.state_path(), env).unwrap()
    }

    // ------------------------------------------------------------------------- the library

    /// Options for `env` (or `self.env`), this dir's config and state, and `self.vars`.
    pub fn options(&self, env: Option<&str>) -> GlobalOptions {
        let env = env.or(self.env.as_deref());
        let mut o = GlobalOptions::new(self.config_path(), env, self.state_path());
        o.vars = VarSource::Map(self.vars.clone());
        o
    }

    pub fn session(&self) -> Session {
        self.session_with(|_| {})
    }

    pub fn session_for(&self, env: Option<&str>) -> Session {
        Session::open(&self.options(env), None).expect("session opens")
    }

    pub fn session_with(&self, f: impl FnOnce(&mut GlobalOptions)) -> Session {
        let mut o = self.options(None);
        f(&mut o);
        Session::open(&o, None).expect("session opens")
    }

    pub async fn plan(&self, req: PlanRequest) -> Result<PlanOutcome, OpError> {
        plan(&self.session(), &req).await
    }

    /// Applies `plan` (saved at `path`) in the plan's own environment, never waiting for the
    /// lock.
    pub async fn apply(&self, plan: &PlanFile, path: &Path) -> Result<ApplyReport, OpError> {
        self.apply_in(&self.session_for(Some(&plan.environment)), plan, path)
            .await
    }

    pub async fn apply_in(
        &self,
        session: &Session,
        plan: &PlanFile,
        path: &Path,
    ) -> Result<ApplyReport, OpError> {
        apply(
            session,
            ApplyRequest {
                plan: plan.clone(),
                plan_path: path.to_path_buf(),
                lock_timeout: Duration::ZERO,
            },
            Arc::new(NoProgress),
        )
        .await
    }

    // ------------------------------------------------------------------------- the executable

    /// `descope-mgmt ARGS` in this dir with `self.vars` set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = descope_mgmt();
        // The request window is remembered per test, never in the developer's cache.
        cmd.current_dir(self.root())
            .env("XDG_CACHE_HOME", self.root().join("cache"))
            .envs(&self.vars)
            .args(args);
        cmd
    }

    /// [`TestEnv::cmd`] for `assert_cmd`'s assertions.
    pub fn bin(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.cmd(args))
    }

    /// Runs [`TestEnv::cmd`] to completion without blocking an emulator on this runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        output(self.cmd(args)).await
    }
}
