//! The state in a bucket shared by a team: S3 (and S3-compatible servers), Google Cloud
//! Storage or Azure Blob Storage, through the `object_store` crate (docs/remote-state.md).
//!
//! Every file of the local directory lives under `<prefix><env>/` with the same name and
//! bytes, with three differences that object storage forces:
//!
//! - appending is impossible, so an append-only log (`journal/<digest>.jsonl`,
//!   `audit.jsonl`) is a folder of objects, one per append, named by a zero-padded sequence
//!   number; readers concatenate them in order, giving the bytes the local file would hold;
//! - the lock is the object `<env>/lock`, created only if absent (`If-None-Match: *`) and
//!   holding a lease its holder renews; an expired lease (its holder died) may be taken over;
//! - `state.json` is written compare-and-swap (`If-Match` on the e-tag this process read), so
//!   a writer that slipped past the lock is refused instead of overwriting.
//!
//! The engine is synchronous around its state files; the requests run on a small runtime of
//! their own, so they can be made from inside or outside the caller's async runtime.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion};
use sha2::{Digest, Sha256};

use crate::config::VarSource;

use super::lock::{LockError, LockHolder, POLL_INTERVAL};
use super::store::{HeldLock, StateStore, WriteMode};
use super::StateError;
use crate::util::atomic::WriteOutcome;
use crate::util::json::to_canonical_pretty;
use crate::util::jsonl::TailRepair;
use crate::util::timestamp::Timestamp;

/// Parts of a log fetched at once when reading it.
const LOG_READS_IN_FLIGHT: usize = 16;

/// How long a lock lease lasts unless renewed, when the configuration does not say.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// Which object storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    S3,
    Gcs,
    Azure,
}

impl Backend {
    pub fn scheme(self) -> &'static str {
        match self {
            Backend::S3 => "s3",
            Backend::Gcs => "gs",
            Backend::Azure => "az",
        }
    }

    /// The permission a refused action needs, for the 403 message.
    fn permission(self, action: &str) -> &'static str {
        match (self, action) {
            (Backend::S3, "list") => "s3:ListBucket",
            (Backend::S3, "delete") => "s3:DeleteObject",
            (Backend::S3, "write") => "s3:PutObject",
            (Backend::S3, _) => "s3:GetObject",
            (Backend::Gcs, "list") => "storage.objects.list",
            (Backend::Gcs, "delete") => "storage.objects.delete",
            (Backend::Gcs, "write") => {
                "storage.objects.create (and storage.objects.delete to replace)"
            }
            (Backend::Gcs, _) => "storage.objects.get",
            (Backend::Azure, "list") => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read (list)"
            }
            (Backend::Azure, "delete") => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
            }
            (Backend::Azure, "write") => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
            }
            (Backend::Azure, _) => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
            }
        }
    }
}

/// Where the state lives in object storage: `settings.state` or a `--to` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    pub backend: Backend,
    /// The bucket (S3, GCS) or container (Azure).
    pub bucket: String,
    /// Empty, or ends with `/`.
    pub prefix: String,
    pub region: Option<String>,
    /// An S3-compatible server or an Azure emulator instead of the public cloud.
    pub endpoint: Option<String>,
    /// The Azure storage account (else `AZURE_STORAGE_ACCOUNT_NAME`).
    pub account: Option<String>,
    pub lease: Duration,
}

impl RemoteSpec {
    /// `s3://bucket/prefix/`, `gs://…`, `az://container/prefix/`; `None` if `url` is not one.
    pub fn parse_url(url: &str) -> Option<RemoteSpec> {
        let (scheme, rest) = url.split_once("://")?;
        let backend = match scheme {
            "s3" => Backend::S3,
            "gs" | "gcs" => Backend::Gcs,
            "az" | "azure" => Backend::Azure,
            _ => return None,
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Some(RemoteSpec {
            backend,
            bucket: bucket.to_string(),
            prefix,
            region: None,
            endpoint: None,
            account: None,
            lease: DEFAULT_LEASE,
        })
    }

    /// The configuration's `settings.state`, or `None` for the local directory. The loader
    /// validated it, so a bad value here only falls back to a default.
    pub fn from_settings(s: &crate::config::StateSettings) -> Option<RemoteSpec> {
        use crate::config::StateBackend;
        let backend = match s.backend {
            StateBackend::Local => return None,
            StateBackend::S3 => Backend::S3,
            StateBackend::Gcs => Backend::Gcs,
            StateBackend::Azure => Backend::Azure,
        };
        Some(RemoteSpec {
            backend,
            bucket: s.bucket.clone().unwrap_or_default(),
            prefix: s.prefix.clone(),
            region: s.region.clone(),
            endpoint: s.endpoint.clone(),
            account: s.account.clone(),
            lease: s
                .lock_lease
                .as_deref()
                .and_then(|l| humantime::parse_duration(l).ok())
                .unwrap_or(DEFAULT_LEASE),
        })
    }

    /// `s3://bucket/prefix/`
    pub fn url(&self) -> String {
        format!(
            "{}://{}/{}",
            self.backend.scheme(),
            self.bucket,
            self.prefix
        )
    }

    /// The standard variables of the backend (`AWS_*`, `GOOGLE_*`, `AZURE_*`) from `vars`:
    /// the process environment (which the builders' `from_env` also reads, with the few
    /// variables outside those prefixes they know), or the map tests use in its place.
    fn standard_vars(&self, vars: &VarSource) -> Vec<(String, String)> {
        // `Offline` only changes how secrets are reported; storage credentials come from what
        // it wraps.
        let prefix = match self.backend {
            Backend::S3 => "AWS_",
            Backend::Gcs => "GOOGLE_",
            Backend::Azure => "AZURE_",
        };
        let all: Vec<(String, String)> = match underlying(vars) {
            VarSource::Process => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            VarSource::Map(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            VarSource::Offline(_) => Vec::new(),
        };
        all.into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect()
    }

    fn build(&self, vars: &VarSource) -> Result<Arc<dyn ObjectStore>, StateError> {
        let standard = self.standard_vars(vars);
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let insecure = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match self.backend {
            Backend::S3 => {
                // Credentials, region and endpoint from the standard AWS variables; the
                // configuration only adds what it names.
                let mut b = match underlying(vars) {
                    VarSource::Process => object_store::aws::AmazonS3Builder::from_env(),
                    _ => object_store::aws::AmazonS3Builder::new(),
                };
                for (k, v) in &standard {
                    if let Ok(key) = k.to_ascii_lowercase().parse() {
                        b = b.with_config(key, v);
                    }
                }
                let mut b = b.with_bucket_name(&self.bucket).with_retry(retry);
                if let Some(r) = &self.region {
                    b = b.with_region(r);
                }
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(e).with_allow_http(insecure);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            Backend::Gcs => {
                let mut b = match underlying(vars) {
                    VarSource::Process => object_store::gcp::GoogleCloudStorageBuilder::from_env(),
                    _ => object_store::gcp::GoogleCloudStorageBuilder::new(),
                };
                for (k, v) in &standard {
                    if let Ok(key) = k.to_ascii_lowercase().parse() {
                        b = b.with_config(key, v);
                    }
                }
                b.with_bucket_name(&self.bucket)
                    .with_retry(retry)
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            Backend::Azure => {
                let mut b = match underlying(vars) {
                    VarSource::Process => object_store::azure::MicrosoftAzureBuilder::from_env(),
                    _ => object_store::azure::MicrosoftAzureBuilder::new(),
                };
                for (k, v) in &standard {
                    if let Ok(key) = k.to_ascii_lowercase().parse() {
                        b = b.with_config(key, v);
                    }
                }
                let mut b = b.with_container_name(&self.bucket).with_retry(retry);
                if let Some(a) = &self.account {
                    b = b.with_account(a);
                }
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(e.clone()).with_allow_http(insecure);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
        };
        built.map_err(|e| StateError::Storage {
            action: "open",
            location: self.url(),
            detail: redact(&e.to_string()),
        })
    }
}

/// The runtime the storage requests run on, shared by every store of the process.
fn runtime() -> Result<&'static tokio::runtime::Runtime, object_store::Error> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("descope-mgmt-state")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| {
        local_error(format!(
            "cannot start the runtime for object storage requests: {e}"
        ))
    })
}

/// A failure on this side of the wire, in the storage error's shape.
fn local_error(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "descope-mgmt",
        source: message.into(),
    }
}

/// Runs `fut` on the storage runtime and waits for it. Blocking is what a local write does
/// too (fsync), and this works whether or not the caller is inside an async runtime.
fn block_on<F, T>(fut: F) -> Result<T, object_store::Error>
where
    F: Future<Output = Result<T, object_store::Error>> + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| local_error("a storage request ended without an answer".into()))?
}

/// What this process last saw stored under a key, for compare-and-swap writes.
#[derive(Debug, Clone)]
enum Seen {
    Absent,
    Present {
        version: UpdateVersion,
        sha256: [u8; 32],
    },
}

/// The state of every environment under `<prefix>` in one bucket.
#[derive(Debug)]
pub struct ObjectStateStore {
    spec: RemoteSpec,
    store: Arc<dyn ObjectStore>,
    seen: Mutex<HashMap<String, Seen>>,
    next_part: Mutex<HashMap<String, u64>>,
    bucket_checked: AtomicBool,
    /// The leases this process holds, by environment, while it holds them.
    leases: Mutex<HashMap<String, std::sync::Weak<Lease>>>,
}

/// What this process knows of a lease it holds.
#[derive(Debug)]
struct Lease {
    /// Renewal found the lock taken over or removed.
    lost: AtomicBool,
    /// The expiry of the last renewal that landed: past it, others may take the lock over.
    valid_until: Mutex<time::OffsetDateTime>,
}

impl Lease {
    /// Err when writing now could race whoever took the lock over.
    fn check(&self) -> Result<(), String> {
        let until = *self.valid_until.lock().unwrap_or_else(|e| e.into_inner());
        if self.lost.load(Ordering::SeqCst) {
            Err("it was taken over or force-unlocked".into())
        } else if time::OffsetDateTime::now_utc() > until {
            Err(format!(
                "its lease ran out at {} without a renewal landing",
                Timestamp::from_datetime(until)
            ))
        } else {
            Ok(())
        }
    }
}

/// The storage's error text without the query strings of the URLs in it: an Azure SAS token
/// travels in the query string, and error messages are printed and logged.
fn redact(text: &str) -> String {
    static URL_QUERY: OnceLock<regex::Regex> = OnceLock::new();
    URL_QUERY
        .get_or_init(|| regex::Regex::new(r"(https?://[^\s?]+)\?[^\s]*").expect("valid regex"))
        .replace_all(text, "$1?…")
        .into_owned()
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The name of one append of a log: sorts in append order as text.
fn part_name(n: u64) -> String {
    format!("{n:020}")
}

impl ObjectStateStore {
    /// Credentials and the rest of the backend's standard settings come from `vars` (the
    /// process environment), never from the configuration file.
    pub fn open(spec: RemoteSpec, vars: &VarSource) -> Result<Self, StateError> {
        let store = spec.build(vars)?;
        Ok(Self::with_object_store(spec, store))
    }

    /// Over an object store built by the caller (tests pass credentials explicitly instead of
    /// through the process environment).
    pub fn with_object_store(spec: RemoteSpec, store: Arc<dyn ObjectStore>) -> Self {
        ObjectStateStore {
            spec,
            store,
            seen: Mutex::new(HashMap::new()),
            next_part: Mutex::new(HashMap::new()),
            bucket_checked: AtomicBool::new(false),
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Writes of an environment whose lock this process held and lost stop here: after a
    /// takeover, a journal line or backup from the old holder could interleave with the new
    /// holder's work (state.json is protected by compare-and-swap anyway).
    fn check_lease(&self, key: &str) -> Result<(), StateError> {
        let env = key.split('/').next().unwrap_or_default();
        let lease = self
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(env)
            .and_then(std::sync::Weak::upgrade);
        match lease.map(|l| l.check()) {
            Some(Err(why)) => Err(StateError::Storage {
                action: "write",
                location: self.url_of(key),
                detail: format!(
                    "this run no longer holds the lock of environment `{env}` ({why}), so it writes nothing more. \
                     Run the same plan again: it resumes from the journal"
                ),
            }),
            _ => Ok(()),
        }
    }

    pub fn spec(&self) -> &RemoteSpec {
        &self.spec
    }

    fn object(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.spec.prefix))
    }

    fn url_of(&self, key: &str) -> String {
        format!("{}{key}", self.spec.url())
    }

    /// Turns the storage's answer into an error naming the bucket, the key and what to do.
    fn error(&self, action: &'static str, key: &str, e: object_store::Error) -> StateError {
        let location = self.url_of(key);
        let detail = match &e {
            object_store::Error::PermissionDenied { .. } => format!(
                "403 access denied: the credentials need {} on bucket `{}` ({e})",
                self.spec.backend.permission(action),
                self.spec.bucket
            ),
            object_store::Error::Unauthenticated { .. } => format!(
                "401 not authenticated: the storage refused the credentials found in the standard variables of {} ({e})",
                match self.spec.backend {
                    Backend::S3 => "AWS (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance role)",
                    Backend::Gcs => "Google Cloud (GOOGLE_APPLICATION_CREDENTIALS, metadata server)",
                    Backend::Azure => "Azure (AZURE_STORAGE_ACCOUNT_KEY, AZURE_CLIENT_ID/SECRET, managed identity)",
                }
            ),
            object_store::Error::NotFound { .. } if action == "list" => format!(
                "404: bucket `{}` does not exist or is not reachable with these settings ({e})",
                self.spec.bucket
            ),
            // The credential chains end at the cloud's metadata service, which answers only on
            // that cloud's machines: elsewhere, failing there means no credentials were set.
            _ if e.to_string().contains("169.254.169.254")
                || e.to_string().contains("metadata.google.internal") =>
            {
                format!(
                    "no credentials: none were set in the environment, and the cloud's instance metadata service (the last place they are looked for) did not provide any. See docs/remote-state.md for the variables to set ({e})"
                )
            }
            _ => e.to_string(),
        };
        let detail = redact(&detail);
        StateError::Storage {
            action,
            location,
            detail,
        }
    }

    /// One listing before the first request: a missing bucket must be an error, not an empty
    /// state (a GET in a missing bucket answers 404 like a missing object).
    fn check_bucket(&self) -> Result<(), StateError> {
        if self.bucket_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        let store = self.store.clone();
        let prefix = self.object("");
        let result =
            block_on(async move { store.list_with_delimiter(Some(&prefix)).await.map(|_| ()) });
        result.map_err(|e| self.error("list", "", e))?;
        self.bucket_checked.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<(Vec<u8>, UpdateVersion)>, StateError> {
        self.check_bucket()?;
        let store = self.store.clone();
        let path = self.object(key);
        let result = block_on(async move {
            match store.get(&path).await {
                Ok(r) => {
                    let version = UpdateVersion {
                        e_tag: r.meta.e_tag.clone(),
                        version: r.meta.version.clone(),
                    };
                    r.bytes().await.map(|b| Some((b.to_vec(), version)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        result.map_err(|e| self.error("read", key, e))
    }

    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        mode: PutMode,
    ) -> Result<object_store::PutResult, object_store::Error> {
        let store = self.store.clone();
        let path = self.object(key);
        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
        block_on(async move {
            store
                .put_opts(
                    &path,
                    payload,
                    PutOptions {
                        mode,
                        ..PutOptions::default()
                    },
                )
                .await
        })
    }

    fn remember(&self, key: &str, seen: Seen) {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), seen);
    }

    /// The parts of a log, in order.
    fn parts(&self, key: &str) -> Result<Vec<ObjectPath>, StateError> {
        self.check_bucket()?;
        let store = self.store.clone();
        let prefix = self.object(&format!("{key}/"));
        let result = block_on(async move {
            use futures_util::TryStreamExt;
            store.list(Some(&prefix)).try_collect::<Vec<_>>().await
        });
        let mut parts: Vec<ObjectPath> = result
            .map_err(|e| self.error("list", key, e))?
            .into_iter()
            .map(|m| m.location)
            .filter(|p| p.filename().is_some_and(|f| !f.starts_with('.')))
            .collect();
        parts.sort();
        let next = parts
            .last()
            .and_then(|p| p.filename())
            .and_then(|f| f.parse::<u64>().ok())
            .map_or(1, |n| n + 1);
        self.next_part
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), next);
        Ok(parts)
    }

    /// The lock object of `env`, if any: its holder (`None` when the object is not one this
    /// tool wrote) and its version.
    #[allow(clippy::type_complexity)]
    fn read_lock(
        &self,
        env: &str,
    ) -> Result<Option<(Option<LockHolder>, UpdateVersion)>, StateError> {
        let key = format!("{env}/lock");
        Ok(self
            .get(&key)?
            .map(|(bytes, v)| (serde_json::from_slice(&bytes).ok(), v)))
    }

    fn holder_bytes(&self, holder: &LockHolder) -> Vec<u8> {
        to_canonical_pretty(holder)
            .map(String::into_bytes)
            .unwrap_or_default()
    }
}

impl StateStore for ObjectStateStore {
    fn location(&self, key: &str) -> PathBuf {
        PathBuf::from(self.url_of(key))
    }

    fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let got = self.get(key)?;
        match &got {
            Some((bytes, version)) => self.remember(
                key,
                Seen::Present {
                    version: version.clone(),
                    sha256: sha(bytes),
                },
            ),
            None => self.remember(key, Seen::Absent),
        }
        Ok(got.map(|(b, _)| b))
    }

    fn write(&self, key: &str, bytes: &[u8], mode: WriteMode) -> Result<WriteOutcome, StateError> {
        self.check_bucket()?;
        self.check_lease(key)?;
        let put_mode = match mode {
            WriteMode::Overwrite => PutMode::Overwrite,
            WriteMode::Create => PutMode::Create,
            WriteMode::Swap => {
                let seen = self
                    .seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(key)
                    .cloned();
                let seen = match seen {
                    Some(s) => s,
                    None => {
                        // Nothing read before: swap against what is there now.
                        self.read(key)?;
                        self.seen
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(key)
                            .cloned()
                            .unwrap_or(Seen::Absent)
                    }
                };
                match seen {
                    Seen::Absent => PutMode::Create,
                    Seen::Present { sha256, .. } if sha256 == sha(bytes) => {
                        return Ok(WriteOutcome::Unchanged)
                    }
                    Seen::Present { version, .. } => PutMode::Update(version),
                }
            }
        };
        let swap = mode == WriteMode::Swap;
        match self.put(key, bytes, put_mode) {
            Ok(r) => {
                self.remember(
                    key,
                    Seen::Present {
                        version: UpdateVersion {
                            e_tag: r.e_tag,
                            version: r.version,
                        },
                        sha256: sha(bytes),
                    },
                );
                Ok(WriteOutcome::Written)
            }
            Err(e @ object_store::Error::Precondition { .. })
            | Err(e @ object_store::Error::AlreadyExists { .. })
                if swap =>
            {
                Err(StateError::Conflict {
                    location: self.url_of(key),
                    detail: redact(&format!("412 Precondition Failed: {e}")),
                })
            }
            Err(object_store::Error::AlreadyExists { .. }) => Err(StateError::AlreadyExists {
                location: self.url_of(key),
            }),
            Err(e) => Err(self.error("write", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), StateError> {
        self.check_bucket()?;
        let store = self.store.clone();
        let path = self.object(key);
        let result = block_on(async move {
            match store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                r => r,
            }
        });
        result.map_err(|e| self.error("delete", key, e))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, StateError> {
        self.check_bucket()?;
        let store = self.store.clone();
        let prefix = self.object(&format!("{dir}/"));
        let result = block_on(async move { store.list_with_delimiter(Some(&prefix)).await });
        let listed = result.map_err(|e| self.error("list", dir, e))?;
        let mut out: Vec<String> = listed
            .objects
            .iter()
            .map(|m| &m.location)
            .chain(listed.common_prefixes.iter())
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn append(&self, key: &str, bytes: &[u8]) -> Result<(), StateError> {
        if bytes.is_empty() {
            // A log exists once it has a line; an empty object would only cost a request.
            return Ok(());
        }
        self.check_lease(key)?;
        let known = self
            .next_part
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied();
        let mut next = match known {
            Some(n) => n,
            None => {
                self.parts(key)?;
                self.next_part
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(key)
                    .copied()
                    .unwrap_or(1)
            }
        };
        // Parts are created only if absent, so an append never replaces another: two writers
        // (only possible behind the lock's back) both land, in some order.
        for _ in 0..5 {
            let part = format!("{key}/{}", part_name(next));
            match self.put(&part, bytes, PutMode::Create) {
                Ok(_) => {
                    self.next_part
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key.to_string(), next + 1);
                    return Ok(());
                }
                Err(object_store::Error::AlreadyExists { .. }) => {
                    self.parts(key)?;
                    next = self
                        .next_part
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(key)
                        .copied()
                        .unwrap_or(next + 1);
                }
                Err(e) => return Err(self.error("write", &part, e)),
            }
        }
        Err(StateError::Conflict {
            location: self.url_of(key),
            detail: "another writer keeps appending to it at the same time".into(),
        })
    }

    fn read_log(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let parts = self.parts(key)?;
        if parts.is_empty() {
            return Ok(None);
        }
        let store = self.store.clone();
        let result = block_on(async move {
            use futures_util::{StreamExt, TryStreamExt};
            // In order, a few at a time: a long journal is many small objects.
            let chunks: Vec<Bytes> = futures_util::stream::iter(parts)
                .map(|p| {
                    let store = store.clone();
                    async move { store.get(&p).await?.bytes().await }
                })
                .buffered(LOG_READS_IN_FLIGHT)
                .try_collect()
                .await?;
            Ok::<_, object_store::Error>(chunks.iter().flat_map(|b| b.iter().copied()).collect())
        });
        result.map(Some).map_err(|e| self.error("read", key, e))
    }

    fn delete_log(&self, key: &str) -> Result<(), StateError> {
        for part in self.parts(key)? {
            let rel = part
                .as_ref()
                .strip_prefix(self.spec.prefix.as_str())
                .unwrap_or(part.as_ref())
                .to_string();
            self.delete(&rel)?;
        }
        self.next_part
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(())
    }

    fn repair_log(
        &self,
        _key: &str,
        _is_valid: &dyn Fn(&str) -> bool,
    ) -> Result<TailRepair, StateError> {
        // Each append is one object, written whole or not at all: nothing is ever torn.
        Ok(TailRepair::Intact)
    }

    fn lock(
        &self,
        env: &str,
        timeout: Duration,
        on_warning: &dyn Fn(String),
    ) -> Result<Box<dyn HeldLock>, LockError> {
        let key = format!("{env}/lock");
        let started = Instant::now();
        let id = format!("{:016x}", rand::random::<u64>());
        let lease = self.spec.lease;
        let fresh = |id: &str| {
            let mut h = LockHolder::current();
            h.id = Some(id.to_string());
            h.lease_expires_at = Some(lease_end(lease));
            h
        };
        self.check_bucket()?;
        loop {
            let holder = fresh(&id);
            match self.put(&key, &self.holder_bytes(&holder), PutMode::Create) {
                Ok(r) => return Ok(Box::new(self.start_lease(env, holder, r))),
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(self.error("write", &key, e).into()),
            }
            let Some((current, version)) = self.read_lock(env)? else {
                // Released between our create and our read: try again at once.
                continue;
            };
            // An object this tool did not write is never taken over: it waits for a person.
            if let Some(old) = &current {
                let expired = old
                    .lease_expires_at
                    .is_none_or(|t| t.as_datetime() < time::OffsetDateTime::now_utc());
                if expired {
                    let holder = fresh(&id);
                    match self.put(
                        &key,
                        &self.holder_bytes(&holder),
                        PutMode::Update(version.clone()),
                    ) {
                        Ok(r) => {
                            on_warning(format!(
                                "took over the lock of environment `{env}` ({}) from {}, whose lease expired{}: that run probably died. \
                                 Its unfinished work is in the journal; an apply of the same plan resumes it",
                                self.url_of(&key),
                                old.describe(),
                                old.lease_expires_at
                                    .map(|t| format!(" at {t}"))
                                    .unwrap_or_default()
                            ));
                            return Ok(Box::new(self.start_lease(env, holder, r)));
                        }
                        // Someone else took it over (or renewed it) first: look again.
                        Err(object_store::Error::Precondition { .. })
                        | Err(object_store::Error::AlreadyExists { .. })
                        | Err(object_store::Error::NotFound { .. }) => continue,
                        Err(e) => return Err(self.error("write", &key, e).into()),
                    }
                }
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(LockError::Held {
                    env: env.to_string(),
                    lock_path: self.location(&key),
                    holder: current.map(Box::new),
                    waited: if timeout.is_zero() {
                        Duration::ZERO
                    } else {
                        waited
                    },
                });
            }
            std::thread::sleep((POLL_INTERVAL * 2).min(timeout - waited));
        }
    }

    fn lock_holder(&self, env: &str) -> Option<LockHolder> {
        self.read_lock(env).ok().flatten().and_then(|(h, _)| h)
    }

    fn force_unlock(&self, env: &str, id: &str) -> Result<LockHolder, LockError> {
        let key = format!("{env}/lock");
        let (holder, _) = self.read_lock(env)?.ok_or_else(|| LockError::NotLocked {
            env: env.to_string(),
        })?;
        let holder = holder.ok_or_else(|| {
            StateError::corrupt(
                self.location(&key),
                "descope-mgmt lock",
                "its content is not a lock this tool wrote",
                "Nothing here put it there: find out who did, then delete it with the storage's own tools",
            )
        })?;
        if holder.id.as_deref() != Some(id) {
            return Err(LockError::WrongId {
                env: env.to_string(),
                id: id.to_string(),
                found: holder.id.clone().unwrap_or_else(|| "(none)".into()),
                holder: Box::new(holder),
            });
        }
        self.delete(&key)?;
        Ok(holder)
    }

    fn prepare(&self, _env: &str) -> Result<(), StateError> {
        Ok(())
    }

    fn is_local(&self) -> bool {
        false
    }
}

/// Rounded up to the whole second timestamps are written in, so a lease is never shorter
/// than its length.
fn lease_end(lease: Duration) -> Timestamp {
    let end = time::OffsetDateTime::now_utc() + lease;
    let round_up = if end.nanosecond() > 0 {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    Timestamp::from_datetime(end + round_up)
}

impl ObjectStateStore {
    /// Starts renewing the lease every third of its length, until the lock is dropped.
    fn start_lease(
        &self,
        env: &str,
        holder: LockHolder,
        created: object_store::PutResult,
    ) -> RemoteLock {
        let key = format!("{env}/lock");
        let path = self.object(&key);
        let store = self.store.clone();
        let lease = self.spec.lease;
        let location = self.url_of(&key);
        let lease_state = Arc::new(Lease {
            lost: AtomicBool::new(false),
            valid_until: Mutex::new(
                holder
                    .lease_expires_at
                    .map_or_else(time::OffsetDateTime::now_utc, |t| t.as_datetime()),
            ),
        });
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(env.to_string(), Arc::downgrade(&lease_state));
        let mut renewed = holder.clone();
        let mut version = UpdateVersion {
            e_tag: created.e_tag,
            version: created.version,
        };
        let shared = lease_state.clone();
        // Without the runtime there were no requests either: acquiring already failed.
        let task = runtime().ok().map(|rt| rt.spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = lease_end(lease);
                renewed.lease_expires_at = Some(until);
                let Ok(text) = to_canonical_pretty(&renewed) else {
                    return;
                };
                let put = store
                    .put_opts(
                        &path,
                        PutPayload::from(Bytes::from(text.into_bytes())),
                        PutOptions {
                            mode: PutMode::Update(version.clone()),
                            ..PutOptions::default()
                        },
                    )
                    .await;
                match put {
                    Ok(r) => {
                        version = UpdateVersion {
                            e_tag: r.e_tag,
                            version: r.version,
                        };
                        *shared
                            .valid_until
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = until.as_datetime();
                    }
                    Err(
                        object_store::Error::Precondition { .. }
                        | object_store::Error::NotFound { .. }
                        | object_store::Error::AlreadyExists { .. },
                    ) => {
                        shared.lost.store(true, Ordering::SeqCst);
                        tracing::error!(
                            "lost the lock {location}: it was removed or taken over (force-unlock, or this run's lease expired). \
                             This run writes nothing more to the state; run the same plan again to resume"
                        );
                        return;
                    }
                    // A passing failure: the lease still has two thirds of its length left.
                    Err(e) => tracing::warn!(
                        "could not renew the lock {location}: {}",
                        redact(&e.to_string())
                    ),
                }
            }
        }));
        RemoteLock {
            holder,
            store: self.store.clone(),
            path: self.object(&key),
            task,
            lease: lease_state,
        }
    }
}

/// A held lease on `<env>/lock`; dropping it stops the renewal and removes the lock if it is
/// still ours.
#[derive(Debug)]
struct RemoteLock {
    holder: LockHolder,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    task: Option<tokio::task::JoinHandle<()>>,
    lease: Arc<Lease>,
}

impl HeldLock for RemoteLock {
    fn holder(&self) -> &LockHolder {
        &self.holder
    }
}

impl Drop for RemoteLock {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if self.lease.lost.load(Ordering::SeqCst) {
            return;
        }
        let store = self.store.clone();
        let path = self.path.clone();
        let id = self.holder.id.clone();
        // Only our own lock is removed: after a takeover the object names someone else.
        let _ = block_on(async move {
            let bytes = store.get(&path).await?.bytes().await?;
            let holder: Option<LockHolder> = serde_json::from_slice(&bytes).ok();
            if holder.and_then(|h| h.id) == id {
                store.delete(&path).await?;
            }
            Ok::<_, object_store::Error>(())
        });
    }
}

/// The variable source under any `Offline` wrapper.
fn underlying(vars: &VarSource) -> &VarSource {
    match vars {
        VarSource::Offline(inner) => underlying(inner),
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_errors_lose_their_query_strings() {
        assert_eq!(
            redact("Error performing GET https://acct.blob.core.windows.net/c/k?sv=2022&sig=SECRET in 3ms"),
            "Error performing GET https://acct.blob.core.windows.net/c/k?… in 3ms"
        );
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn urls_name_backend_bucket_and_prefix() {
        let s = RemoteSpec::parse_url("s3://acme-state/descope").unwrap();
        assert_eq!(
            (s.backend, s.bucket.as_str(), s.prefix.as_str()),
            (Backend::S3, "acme-state", "descope/")
        );
        assert_eq!(s.url(), "s3://acme-state/descope/");
        assert_eq!(RemoteSpec::parse_url("gs://b").unwrap().prefix, "");
        assert_eq!(RemoteSpec::parse_url("az://c/a/b/").unwrap().prefix, "a/b/");
        for bad in ["./state", "s3://", "ftp://x/y", "state"] {
            assert!(RemoteSpec::parse_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn refusals_name_the_bucket_the_key_and_the_missing_permission() {
        let mut spec = RemoteSpec::parse_url("s3://acme-state/descope/").unwrap();
        spec.endpoint = Some("http://127.0.0.1:9".into());
        let vars =
            VarSource::from_pairs([("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")]);
        let store = ObjectStateStore::open(spec, &vars).unwrap();
        let denied = |path: &str| object_store::Error::PermissionDenied {
            path: path.into(),
            source: "Access Denied".into(),
        };
        let msg = store
            .error(
                "write",
                "prod/state.json",
                denied("descope/prod/state.json"),
            )
            .to_string();
        assert!(
            msg.starts_with("could not write s3://acme-state/descope/prod/state.json: 403"),
            "{msg}"
        );
        assert!(msg.contains("s3:PutObject on bucket `acme-state`"), "{msg}");
        assert!(msg.contains("Access Denied"), "{msg}");
        let msg = store
            .error("list", "prod", denied("descope/prod"))
            .to_string();
        assert!(msg.contains("s3:ListBucket"), "{msg}");
        let missing = object_store::Error::NotFound {
            path: "descope/".into(),
            source: "NoSuchBucket".into(),
        };
        let msg = store.error("list", "", missing).to_string();
        assert!(
            msg.contains("404: bucket `acme-state` does not exist"),
            "{msg}"
        );
    }

    #[test]
    fn log_parts_sort_in_append_order_as_text() {
        assert!(part_name(9) < part_name(10));
        assert!(part_name(99_999) < part_name(100_000));
    }
}
