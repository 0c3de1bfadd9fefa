//! A real Azure Blob Storage API for the azure backend: Azurite (npm `azurite`), its blob
//! service on a free port of 127.0.0.1, one per test process, a fresh container per test.
//!
//! Found as `$AZURITE_BLOB`, else `target/azurite/node_modules/.bin/azurite-blob` (where
//! `.ci/install-azurite.sh` puts it). Missing: "skipped: azurite not installed", except under
//! CI, where it is installed and a missing server fails the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use descope_mgmt::state::remote::{Backend, RemoteSpec};
use descope_mgmt::state::{ObjectStateStore, StateDir};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Azurite's documented development account and key (public, the same for everyone).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct Server {
    endpoint: String,
    // The server exits when this pipe closes, i.e. when the test process ends.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AZURITE_BLOB") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/azurite/node_modules/azurite/dist/src/blob/main.js");
    local.exists().then_some(local)
}

fn start() -> Option<Server> {
    let main = std::fs::canonicalize(find()?).ok()?;
    let watchdog = format!(
        "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();\n\
         process.argv = [process.argv[0], 'azurite-blob', '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--skipApiVersionCheck'];\n\
         require({:?});\n",
        main.display().to_string()
    );
    let mut child = Command::new("node")
        .args(["-e", &watchdog])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let endpoint = loop {
        let line = lines.next()?.ok()?;
        if let Some(at) = line.find("listens on http://127.0.0.1:") {
            let url = line[at + "listens on ".len()..].trim();
            break format!("{url}/{ACCOUNT}");
        }
    };
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

/// One test's container.
pub struct Container {
    pub name: String,
    spec: RemoteSpec,
}

impl Container {
    pub fn new() -> Option<Container> {
        let Some(server) = server() else {
            if std::env::var_os("CI").is_some() {
                panic!("azurite is not installed, but CI must run the Azure state tests: run .ci/install-azurite.sh");
            }
            eprintln!("skipped: azurite not installed (.ci/install-azurite.sh)");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "descope-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        create_container(&server.endpoint, &name);
        let spec = RemoteSpec {
            backend: Backend::Azure,
            bucket: name.clone(),
            prefix: "team/".into(),
            region: None,
            endpoint: Some(server.endpoint.clone()),
            account: Some(ACCOUNT.into()),
            lease: Duration::from_secs(10),
        };
        Some(Container { name, spec })
    }

    /// The environment's state in this container, through a store of its own (as another
    /// machine would see it); the key comes the way the executable gets it, from a variable.
    pub fn state(&self, env: &str) -> StateDir {
        let vars =
            descope_mgmt::config::VarSource::from_pairs([("AZURE_STORAGE_ACCOUNT_KEY", KEY)]);
        let store = ObjectStateStore::open(self.spec.clone(), &vars).unwrap();
        StateDir::with_store(Arc::new(store), env).unwrap()
    }
}

/// `PUT ?restype=container` signed with the account key (Shared Key): object_store has no call
/// that creates a container, and Azurite, like Azure, refuses anonymous writes.
fn create_container(endpoint: &str, name: &str) {
    let host = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let date = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut s = TcpStream::connect(&host).expect("azurite answers");
    write!(
        s,
        "PUT /{ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: {host}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "creating container {name}: {answer}"
    );
}
