//! What tests watch: a request log, counters and a hook. None of it ever sees the
//! Authorization header, so the management key cannot leak through here.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// 1 for the first request the emulator received.
    pub seq: u64,
    pub method: String,
    /// Without the query string.
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Short and stable: "ok", "committed", "rate-limited", "unauthorized", "error E011003",
    /// "fault: fail before", "fault: 500 after commit", "fault: dropped after commit", with
    /// ", slow" appended when the answer was delayed.
    pub outcome: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub rate_limited: u64,
    pub dropped: u64,
    /// Committed writes by path, faults after commit included (the data did change).
    pub writes_committed: BTreeMap<String, u64>,
}

impl Counters {
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    pub fn writes(&self, path: &str) -> u64 {
        self.writes_committed.get(path).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPhase {
    /// As the request arrives, before limits, auth or faults.
    BeforeHandling,
    /// A write changed the data; its answer has not been sent yet.
    AfterCommit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEvent {
    pub phase: HookPhase,
    pub seq: u64,
    pub method: String,
    pub path: String,
}

/// Runs on the request's task; keep it short (e.g. kill a process, bump a counter).
pub type Hook = Arc<dyn Fn(&HookEvent) + Send + Sync>;

/// A poisoned lock only means a hook panicked; the data behind it is still whole.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Observer {
    seq: AtomicU64,
    log: Mutex<Vec<LogEntry>>,
    counters: Mutex<Counters>,
    file: Option<Mutex<File>>,
    hook: RwLock<Option<Hook>>,
}

impl Observer {
    pub fn new(log_file: Option<&Path>) -> io::Result<Self> {
        let file = match log_file {
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
            None => None,
        };
        Ok(Observer {
            seq: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            counters: Mutex::new(Counters::default()),
            file,
            hook: RwLock::new(None),
        })
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.hook.write().unwrap_or_else(|e| e.into_inner()) = hook;
    }

    pub fn fire(&self, phase: HookPhase, seq: u64, method: &str, path: &str) {
        let hook = self.hook.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hook(&HookEvent {
                phase,
                seq,
                method: method.to_string(),
                path: path.to_string(),
            });
        }
    }

    pub fn committed(&self, path: &str) {
        *lock(&self.counters)
            .writes_committed
            .entry(path.to_string())
            .or_default() += 1;
    }

    pub fn record(&self, entry: LogEntry) {
        {
            let mut c = lock(&self.counters);
            c.requests += 1;
            match entry.status {
                0 => c.dropped += 1,
                s => *c.by_status.entry(s).or_default() += 1,
            }
            if entry.status == 429 {
                c.rate_limited += 1;
            }
        }
        if let Some(file) = &self.file {
            if let Ok(line) = serde_json::to_string(&entry) {
                let mut f = lock(file);
                if let Err(e) = writeln!(f, "{line}") {
                    tracing::warn!("emulator request log: {e}");
                }
            }
        }
        lock(&self.log).push(entry);
    }

    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.log).clone()
    }

    pub fn counters(&self) -> Counters {
        lock(&self.counters).clone()
    }
}
