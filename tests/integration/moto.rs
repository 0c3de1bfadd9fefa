//! A real S3-compatible server for the object-storage backend: `moto_server` (PyPI
//! `moto[server]`, which answers S3's conditional writes, `If-None-Match: *` and `If-Match`,
//! with 412), on a free port of 127.0.0.1, one per test process, a fresh bucket per test.
//!
//! Found as `$MOTO_SERVER`, else `target/moto-venv/bin/moto_server` (where
//! `.ci/install-moto.sh` puts it), else on `PATH`. Where it is missing the tests that need it
//! print "skipped: moto_server not installed" and pass, except under CI (`CI` set), where
//! they fail: CI installs it, so a missing server there is a broken setup, not a skip.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use descope_mgmt::state::remote::{Backend, RemoteSpec};
use descope_mgmt::state::{ObjectStateStore, StateDir};

/// moto accepts any key; these only have to be present (and never real).
const KEY_ID: &str = "testing";
const SECRET: &str = "testing";
const REGION: &str = "us-east-1";

struct Server {
    endpoint: String,
    // The server exits when this pipe closes, i.e. when the test process ends however it ends,
    // so no server outlives the tests.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.exists())
}

/// The Python that has moto: the `moto_server` script's own (its `#!` line; a virtualenv's),
/// else `python3` (version-manager shims are shell scripts), so the server can be started
/// under a watchdog on its stdin.
fn interpreter(script: &PathBuf) -> Option<String> {
    let text = std::fs::read_to_string(script).unwrap_or_default();
    let shebang = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.trim().trim_start_matches("/usr/bin/env ").to_string())
        .filter(|p| p.contains("python"));
    shebang
        .into_iter()
        .chain(["python3".to_string()])
        .find(|python| {
            Command::new(python)
                .args(["-c", "import moto.server"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

const WATCHDOG: &str = "import os, sys, threading\n\
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
sys.argv = ['moto_server', '-H', '127.0.0.1', '-p', '0']\n\
from moto.server import main\n\
main()\n";

fn start() -> Option<Server> {
    let script = find()?;
    let python = interpreter(&script)?;
    let mut child = Command::new(python)
        .args(["-c", WATCHDOG])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let mut lines = BufReader::new(child.stderr.take()?).lines();
    let endpoint = loop {
        let line = lines.next()?.ok()?;
        if let Some(at) = line.find("http://127.0.0.1:") {
            break line[at..].trim().to_string();
        }
    };
    // Keep reading its request log, or the server blocks once the pipe is full.
    std::thread::spawn(move || for _ in lines {});
    Some(Server {
        endpoint,
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    })
}

fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

/// One test's bucket.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub endpoint: String,
    pub name: String,
    pub prefix: String,
    pub lease: String,
    store: Arc<ObjectStateStore>,
}

impl Bucket {
    /// A new empty bucket, or `None` (having said "skipped") where moto is not installed.
    pub fn new(lease: &str) -> Option<Bucket> {
        let Some(server) = server() else {
            if std::env::var_os("CI").is_some() {
                panic!("moto_server is not installed, but CI must run the object-storage tests: run .ci/install-moto.sh");
            }
            eprintln!("skipped: moto_server not installed (pip install 'moto[server]', or .ci/install-moto.sh)");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "descope-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        create_bucket(&server.endpoint, &name);
        let prefix = "team/".to_string();
        let spec = RemoteSpec {
            backend: Backend::S3,
            bucket: name.clone(),
            prefix: prefix.clone(),
            region: Some(REGION.into()),
            endpoint: Some(server.endpoint.clone()),
            account: None,
            lease: humantime::parse_duration(lease).unwrap(),
        };
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_bucket_name(&name)
            .with_region(REGION)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .build()
            .unwrap();
        Some(Bucket {
            endpoint: server.endpoint.clone(),
            name,
            prefix,
            lease: lease.to_string(),
            store: Arc::new(ObjectStateStore::with_object_store(spec, Arc::new(s3))),
        })
    }

    /// The variables the executable reads its credentials from (the standard AWS ones).
    pub fn credentials(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("AWS_ACCESS_KEY_ID".to_string(), KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), SECRET.to_string()),
            ("AWS_REGION".to_string(), REGION.to_string()),
            // Never the instance metadata service of whatever machine runs the tests.
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        ])
    }

    /// `settings.state` for a configuration.
    pub fn settings(&self) -> String {
        format!(
            "{{backend: s3, bucket: {}, prefix: {}, region: {REGION}, endpoint: \"{}\", lock_lease: {}}}",
            self.name, self.prefix, self.endpoint, self.lease
        )
    }

    /// `s3://bucket/prefix/`
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.name, self.prefix)
    }

    /// The environment's state in this bucket, through a store of its own (as another
    /// machine would see it).
    pub fn state(&self, env: &str) -> StateDir {
        StateDir::with_store(self.store.clone(), env).unwrap()
    }

    /// A second, independent view of the same bucket: its own compare-and-swap memory.
    pub fn other_view(&self) -> Bucket {
        let store = self.store.clone();
        let spec = store.spec().clone();
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(&self.name)
            .with_region(REGION)
            .with_access_key_id(KEY_ID)
            .with_secret_access_key(SECRET)
            .build()
            .unwrap();
        Bucket {
            store: Arc::new(ObjectStateStore::with_object_store(spec, Arc::new(s3))),
            ..self.clone()
        }
    }
}

/// moto creates a bucket on an unsigned `PUT /<bucket>`; plain HTTP keeps the test free of an
/// S3 client just for this.
fn create_bucket(endpoint: &str, name: &str) {
    let host = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).expect("moto_server answers");
    write!(
        s,
        "PUT /{name} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "creating bucket {name}: {answer}"
    );
}

/// `DESCOPE_TEST_STATE=s3`: the apply, resume, backup and restore suites keep their state in a
/// bucket instead of `state/` (CI runs them both ways).
pub fn suite_on_s3() -> bool {
    std::env::var("DESCOPE_TEST_STATE").as_deref() == Ok("s3")
}
