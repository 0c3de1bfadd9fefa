//! A local stand-in for Descope's Management API (docs/descope-api.md, docs/design.md §3): a real HTTP
//! server speaking Descope's wire format, seeded like a fresh project, strict by default, with
//! Descope-like rate limiting and injectable latency and faults. It backs descope-mgmt's `demo`,
//! `--emulator`, integration tests and benchmarks, and anyone else's integration tests (see the
//! crate's README). `docs/emulator.md` lists every choice made where Descope's behaviour is
//! unverified.

#[cfg(feature = "cli")]
pub mod cli;
mod data;
mod error;
mod faults;
mod fields;
mod limiter;
mod observe;
mod ops;
mod persist;
mod pipeline;
mod rate;
mod seed;
mod server;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use data::{AccessKey, KeyTenant};
pub use data::{
    Flow, NamedList, PasswordSettings, Permission, ProjectData, Role, SsoConfig, StoredApp, Tenant,
    TenantSettings, Theme,
};
pub use data::{OutboundApp, ProjectInfo};
pub use faults::{AfterCommitFault, Faults};
pub use observe::{Counters, Hook, HookEvent, HookPhase, LogEntry};
/// What an `ips` list accepts (docs/descope-api.md §18): descope-mgmt checks a config against
/// the same rule, as it parses budgets with [`RateBudget`].
pub use ops::lists::valid_ip_or_cidr;
pub use rate::RateBudget;
pub use seed::{BUILTIN_ROLES, SYSTEM_PERMISSIONS};

use observe::{lock, Observer};
use pipeline::Shared;

/// 28 characters, so the SDKs' regional rule picks the default host (docs/descope-api.md §1).
pub const DEFAULT_PROJECT_ID: &str = "P2emulatorproject00000000000";
/// A fixed, obviously fake key: the emulator is loopback-only and holds no real data.
pub const DEFAULT_MANAGEMENT_KEY: &str = "K2emulator-demo-management-key";

#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    pub project_id: String,
    pub management_key: String,
    /// 0 picks a free port.
    pub port: u16,
    /// Load the project from here at start (seed it when absent) and record every write
    /// (`FILE.log`, folded into FILE at start and when it grows as big).
    pub state_file: Option<PathBuf>,
    /// N requests in any sliding window of the given length, then a lockout of one window.
    pub rate: Option<RateBudget>,
    /// Added before every answer.
    pub latency: Duration,
    pub faults: Faults,
    /// Leave default-valued fields (false, "", [], {}, 0) out of resource objects.
    pub omit_defaults: bool,
    /// Turn off the refusals no source confirms (docs/emulator.md, "Strictness").
    pub lenient: bool,
    /// Append one JSON line per request.
    pub log_file: Option<PathBuf>,
    /// Seeds the fault draws and generated ids.
    pub seed: u64,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            project_id: DEFAULT_PROJECT_ID.to_string(),
            management_key: DEFAULT_MANAGEMENT_KEY.to_string(),
            port: 0,
            state_file: None,
            rate: None,
            latency: Duration::ZERO,
            faults: Faults::default(),
            omit_defaults: false,
            lenient: false,
            log_file: None,
            seed: 0,
        }
    }
}

/// See [`Emulator::console`].
#[derive(Clone)]
pub struct Console(Arc<Shared>);

impl Console {
    /// As [`Emulator::mutate`].
    pub fn mutate<R>(&self, f: impl FnOnce(&mut ProjectData) -> R) -> R {
        let mut data = lock(&self.0.data);
        let result = f(&mut data);
        self.0.persist_all(&data);
        result
    }

    /// As [`Emulator::set_faults`].
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.0.faults) = faults;
    }
}

/// A running emulator. Dropping it, or `shutdown`, stops the server and closes its connections.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds 127.0.0.1 only: the emulator accepts a well-known key and must not be reachable
    /// from elsewhere.
    pub async fn start(opts: EmulatorOptions) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let mut ids = StdRng::seed_from_u64(opts.seed ^ 0x05ee_d1d5);
        let loaded = match &opts.state_file {
            Some(path) => persist::load(path)?,
            None => None,
        };
        let mut data =
            loaded.unwrap_or_else(|| seed::fresh_project(&mut ids, pipeline::now_seconds()));
        data.project.id = opts.project_id.clone();
        // Seeds a new file, or folds the last run's write log into the existing one.
        let store = match &opts.state_file {
            Some(path) => Some(persist::Store::create(path, &data)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            project_id: opts.project_id,
            management_key: opts.management_key,
            latency: opts.latency,
            omit_defaults: opts.omit_defaults,
            strict: !opts.lenient,
            store: Mutex::new(store),
            rate: opts.rate,
            data: Mutex::new(data),
            ids: Mutex::new(ids),
            dice: Mutex::new(StdRng::seed_from_u64(opts.seed)),
            faults: Mutex::new(opts.faults),
            limiters: Mutex::new(HashMap::new()),
            obs: Observer::new(opts.log_file.as_deref())?,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, shared.clone(), stopped));
        Ok(Emulator {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn project_id(&self) -> &str {
        &self.shared.project_id
    }

    pub fn management_key(&self) -> &str {
        &self.shared.management_key
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.shared.obs.log()
    }

    pub fn counters(&self) -> Counters {
        self.shared.obs.counters()
    }

    /// A snapshot; use its `*_json` accessors to see objects as the API returns them.
    pub fn data(&self) -> ProjectData {
        lock(&self.shared.data).clone()
    }

    /// Change the project behind the API's back, as an admin in the console would. Persisted
    /// like any write.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut ProjectData) -> R) -> R {
        let mut data = lock(&self.shared.data);
        let result = f(&mut data);
        self.shared.persist_all(&data);
        result
    }

    /// A handle that changes the project from anywhere (a hook, another thread), as an admin in
    /// the console would while a client is running.
    pub fn console(&self) -> Console {
        Console(self.shared.clone())
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    pub fn set_hook(&self, hook: Option<Hook>) {
        self.shared.obs.set_hook(hook);
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_project_id_uses_the_default_host() {
        assert_eq!(DEFAULT_PROJECT_ID.len(), 28);
    }

    #[test]
    fn fresh_project_has_the_builtins() {
        let d = seed::fresh_project(&mut StdRng::seed_from_u64(1), 1_700_000_000);
        for p in SYSTEM_PERMISSIONS {
            assert!(d.permission(p).is_some_and(|p| p.system_default));
        }
        let admin = d.role("Tenant Admin", "").expect("built-in role");
        assert_eq!(admin.permission_names, ["User Admin", "SSO Admin"]);
        assert!(d.flows.len() >= 4);
        for f in &d.flows {
            assert!(f.screens.len() >= 2, "{}", f.id);
            assert!(f.dsl.get("tasks").is_some());
        }
        assert_eq!(d.theme.version, 1);
    }
}
