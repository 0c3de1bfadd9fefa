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
const SCRUBBED: [&str; 15] = [
    "DESCOPE_CONFIG",
    "DESCOPE_ENV",
    "GITHUB_HEAD_REF",
    "DESCOPE_PROJECT_ID",
    "DESCOPE_MANAGEMENT_KEY",
    "DESCOPE_BASE_URI",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "RUST_LOG",
    "AWS_PROFILE",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
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
    /// The state in a bucket of a local S3 server instead of `state/` (`use_s3`).
    pub s3: Option<crate::moto::Bucket>,
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
            s3: None,
        }
    }

    /// Keeps the state in a fresh bucket of a local S3 server (moto) from now on: the
    /// executable gets its credentials, configs written by the suites get `settings.state`,
    /// and `state(env)` reads the bucket. False (with a visible "skipped" line) where moto is
    /// not installed; CI installs it (`.ci/install-moto.sh`).
    pub fn use_s3(&mut self, lease: &str) -> bool {
        let Some(bucket) = crate::moto::Bucket::new(lease) else {
            return false;
        };
        self.vars.extend(bucket.credentials());
        self.s3 = Some(bucket);
        true
    }

    /// After a SIGKILL: a dead holder's lease in a bucket would make the next run wait out its
    /// length (the takeover is tested in `remote.rs`); the suites test the resume, so the
    /// lock goes the way an operator removes it, `force-unlock`. Locally the OS already
    /// released it.
    pub fn release_dead_lock(&self, env: &str) {
        if self.s3.is_some() {
            let dir = self.state(env);
            if let Some(id) = descope_mgmt::state::lock::read_holder(&dir).and_then(|h| h.id) {
                descope_mgmt::state::StateLock::force_unlock(&dir, &id).unwrap();
            }
        }
    }

    /// `settings.state` (YAML flow mapping) when the state is in a bucket.
    pub fn state_settings(&self) -> Option<String> {
        self.s3.as_ref().map(|b| b.settings())
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

    /// One environment's state directory under `state/` (or in the bucket, with `use_s3`).
    pub fn state(&self, env: &str) -> StateDir {
        match &self.s3 {
            Some(b) => b.state(env),
            None => StateDir::new(self.state_path(), env).unwrap(),
        }
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

    /// Applies the plan saved at `path` (read and verified as apply requires), which must be
    /// `plan`.
    pub async fn apply_in(
        &self,
        session: &Session,
        plan: &PlanFile,
        path: &Path,
    ) -> Result<ApplyReport, OpError> {
        let verified = PlanFile::read_verified(path)?;
        assert_eq!(*verified, *plan, "{} holds another plan", path.display());
        apply(
            session,
            ApplyRequest {
                plan: verified,
                lock_timeout: Duration::ZERO,
                access_key_out: None,
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

    /// Runs [`TestEnv::cmd`] to completion: exit code (-1 when killed), stdout, stderr.
    pub fn run_text(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs [`TestEnv::cmd`] to completion without blocking an emulator on this runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        output(self.cmd(args)).await
    }
}

/// `plan` of `config` is refused, asking for `${secret:VAR}`, and `literal` (the secret the
/// config wrote in clear) is in none of its output. Its standard error.
pub fn a_literal_secret_is_refused(config: &str, literal: &str) -> String {
    let w = TestEnv::start_blocking(descope_emulator::EmulatorOptions::default());
    w.write_config(config);
    let (code, out, err) = w.run_text(&["plan"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("${secret:VAR}"), "{err}");
    assert!(!format!("{out}{err}").contains(literal), "{out}\n{err}");
    err
}

/// Every file under `dir`, recursively (the secret scans read them all).
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}
