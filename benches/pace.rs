//! How fast applies go under Descope's rate limit, and how planning scales; written to the
//! "Pace" section of docs/benchmarks.md:
//!
//!   cargo bench --bench pace            # all but 1,000 creates (about 10 minutes on 2 cores)
//!   cargo bench --bench pace -- big     # and 1,000 creates
//!   cargo bench --bench pace -- quick   # 300 creates only, one run per cell
//!   cargo bench --bench pace -- only back-to-back   # one part, printed (small,
//!                                   # back-to-back, wrong-budget, scale, 300, big)
//!
//! Every run starts an emulator with Descope's limiter semantics (N requests in any W s, then a
//! W s lockout) and a fixed latency on every answer, then plans and applies with the library,
//! one `Session` per command (as the CLI runs them), sharing one window memory
//! (`cache_dir`) in a temporary directory. Scaling runs use the release executable in its own
//! process (peak RSS from `/usr/bin/time`) against an emulator in this one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use descope_emulator::{Emulator, EmulatorOptions, RateBudget, Tenant};
use descope_mgmt::apply::execute::NoProgress;
use descope_mgmt::ops::apply::{apply, ApplyRequest};
use descope_mgmt::ops::plan::{plan, PlanRequest};
use descope_mgmt::ops::{EndpointOverride, GlobalOptions, Session};

const PROJECT: &str = "P2benchproject00000000000000";

/// How often the small, back-to-back and wrong-budget runs repeat, for their spread.
const RUNS: usize = 3;

/// The round trips every throughput table is measured at.
const LATENCIES: [u64; 4] = [50, 200, 500, 1000];

fn budget(text: &str) -> RateBudget {
    text.parse().expect("budget")
}

fn tenant_id(i: usize) -> String {
    format!("t-{i:05}")
}

/// `n` tenants, three levels deep (every 10th a root, then children and grandchildren).
fn parent_of(i: usize) -> Option<String> {
    match i % 10 {
        0 => None,
        1..=4 => Some(tenant_id(i - i % 10)),
        _ => Some(tenant_id(i - i % 10 + 1)),
    }
}

/// `nested`: three levels of parents (planning's parent checks); flat for throughput, where
/// dependency rounds would measure the plan's shape rather than the pacing.
fn config_yaml(
    tenants: usize,
    rate: Option<&str>,
    parallelism: Option<u32>,
    nested: bool,
) -> String {
    let mut y = String::from("version: 1\nsettings:\n");
    if let Some(r) = rate {
        let _ = writeln!(y, "  rate_limit: {r}");
    }
    if let Some(p) = parallelism {
        let _ = writeln!(y, "  parallelism: {p}");
    }
    let _ = write!(
        y,
        "environments:\n  bench:\n    project_id: {PROJECT}\n    management_key: ${{secret:KEY}}\ntenants:\n"
    );
    for i in 0..tenants {
        let _ = writeln!(y, "  - id: {}\n    name: Tenant {i}", tenant_id(i));
        if let Some(p) = parent_of(i).filter(|_| nested) {
            let _ = writeln!(y, "    parent: {p}");
        }
    }
    y
}

struct Bench {
    dir: PathBuf,
    emu: Emulator,
}

impl Bench {
    async fn start(latency_ms: u64, rate: Option<RateBudget>) -> Bench {
        let dir = std::env::temp_dir().join(format!(
            "descope-mgmt-pace-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let emu = Emulator::start(EmulatorOptions {
            project_id: PROJECT.into(),
            latency: Duration::from_millis(latency_ms),
            rate,
            ..EmulatorOptions::default()
        })
        .await
        .expect("emulator");
        Bench { dir, emu }
    }

    fn write_config(&self, yaml: &str) {
        std::fs::write(self.dir.join("descope.yaml"), yaml).expect("config");
    }

    /// A new command: a session of its own, remembering the window in the shared cache.
    fn session(&self) -> Session {
        let mut o = GlobalOptions::new(
            self.dir.join("descope.yaml"),
            Some("bench"),
            self.dir.join("state"),
        );
        o.vars = descope_mgmt::config::VarSource::from_pairs([("KEY", self.emu.management_key())]);
        o.endpoint_override = Some(EndpointOverride {
            base_url: self.emu.base_url(),
            project_id: PROJECT.into(),
            management_key: self.emu.management_key().into(),
        });
        o.cache_dir = Some(self.dir.join("cache"));
        Session::open(&o, None).expect("session")
    }

    /// plan then apply, as two commands; the apply's wall time, requests and 429s.
    async fn plan_apply(&self) -> Run {
        let planned = plan(&self.session(), &PlanRequest::default())
            .await
            .expect("plan");
        let ops = planned.plan.changes.len();
        let before = self.emu.counters();
        let session = self.session();
        let t = Instant::now();
        let report = apply(
            &session,
            ApplyRequest {
                plan: descope_mgmt::plan::PlanFile::parse_verified(
                    &planned.plan.to_canonical_string(),
                    std::path::Path::new("bench.plan"),
                )
                .expect("a plan the planner wrote verifies"),
                lock_timeout: Duration::ZERO,
                access_key_out: None,
            },
            Arc::new(NoProgress),
        )
        .await
        .expect("apply");
        let wall = t.elapsed();
        assert!(report.all_succeeded(), "bench apply failed");
        let after = self.emu.counters();
        Run {
            wall,
            requests: after.requests - before.requests,
            limited: after.rate_limited - before.rate_limited,
            ops,
        }
    }

    async fn stop(self) {
        self.emu.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    requests: u64,
    limited: u64,
    ops: usize,
}

impl Run {
    /// Requests ÷ the server's budget: no client can be faster (without latency).
    fn floor(&self, server: RateBudget) -> f64 {
        self.requests as f64 / server.per_second()
    }
}

/// The 1-minute load average when a row was measured: the machine is shared while these run.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "–".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    format!("{min:.2}–{max:.2}")
}

/// The naive client: one create at a time, sleeping `Retry-After` on a 429.
async fn naive(n: usize, latency_ms: u64, server: RateBudget) -> (Duration, u64, u64) {
    let b = Bench::start(latency_ms, Some(server)).await;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {PROJECT}:{}", b.emu.management_key());
    let t = Instant::now();
    for i in 0..n {
        let body = serde_json::json!({"id": tenant_id(i), "name": format!("Tenant {i}")});
        loop {
            let r = http
                .post(format!("{}/v1/mgmt/tenant/create", b.emu.base_url()))
                .header("Authorization", &auth)
                .json(&body)
                .send()
                .await
                .expect("send");
            if r.status() == 429 {
                let secs: u64 = r
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            assert!(
                r.status().is_success(),
                "naive create failed: {}",
                r.status()
            );
            break;
        }
    }
    let wall = t.elapsed();
    let c = b.emu.counters();
    b.stop().await;
    (wall, c.requests, c.rate_limited)
}

/// The Python design, if `descope` and `pyrate-limiter` import: its wall time, or why not.
fn python_design(
    n: usize,
    latency_ms: u64,
    server: RateBudget,
    url: &str,
    key: &str,
) -> Result<Duration, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_design.py");
    let out = Command::new("python3")
        .arg(script)
        .env("URL", url)
        .env("PROJECT", PROJECT)
        .env("KEY", key)
        .env("N", n.to_string())
        .env("RATE", server.requests.to_string())
        .env("WINDOW", server.window.as_secs_f64().to_string())
        .env("LATENCY", (latency_ms as f64 / 1000.0).to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("failed")
            .to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|_| format!("unexpected output {text}"))
}

async fn throughput(md: &mut String, sizes: &[usize], repeats: usize, latencies: &[u64]) {
    let server = budget("100/2");
    md.push_str(&format!(
        "\n### Creates at the limit: emulator 100/2 (Descope's limiter), client budget 100/2\n\n\
         Apply only (the plan before it is its own command, sharing the window). floor = requests ÷ 50/s; \
         ratio = floor ÷ wall time (1.0 is the limit). {repeats} run(s) per cell: the median, and min–max.\n\n\
         | creates | latency | client | wall time (s) | spread (s) | requests | floor (s) | ratio | 429s | requests/op | load |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    ));
    for &n in sizes {
        for &latency in latencies {
            for (label, parallelism) in [("parallelism 16", Some(16)), ("automatic", None)] {
                let mut walls = Vec::new();
                let mut last = None;
                for _ in 0..repeats {
                    let b = Bench::start(latency, Some(server)).await;
                    b.write_config(&config_yaml(n, Some("100/2"), parallelism, false));
                    let r = b.plan_apply().await;
                    b.stop().await;
                    walls.push(r.wall.as_secs_f64());
                    last = Some(r);
                }
                let r = last.expect("a run");
                let wall = median(walls.clone());
                let floor = r.floor(server);
                println!(
                    "{n} creates, {latency} ms, {label}: {wall:.2} s, {} requests, {} 429s",
                    r.requests, r.limited
                );
                let _ = writeln!(
                    md,
                    "| {n} | {latency} ms | {label} | {wall:.2} | {} | {} | {floor:.2} | {:.2} | {} | {:.2} | {} |",
                    spread(&walls),
                    r.requests,
                    floor / wall,
                    r.limited,
                    r.requests as f64 / r.ops as f64,
                    load()
                );
            }
            // One at a time it is n round trips by construction: not run past a minute.
            if n as u64 * latency > 60_000 {
                let _ = writeln!(
                    md,
                    "| {n} | {latency} ms | naive one-at-a-time | ≥ {:.0} (n × latency; not run) | – | {n} | {:.2} | – | – | 1.00 | – |",
                    n as f64 * latency as f64 / 1000.0,
                    n as f64 / server.per_second()
                );
            } else {
                let (wall, requests, limited) = naive(n, latency, server).await;
                let floor = requests as f64 / server.per_second();
                let _ = writeln!(
                md,
                "| {n} | {latency} ms | naive one-at-a-time | {:.2} | – | {requests} | {floor:.2} | {:.2} | {limited} | {:.2} | {} |",
                wall.as_secs_f64(),
                floor / wall.as_secs_f64(),
                requests as f64 / n as f64,
                load()
            );
            }
            let b = Bench::start(latency, Some(server)).await;
            match python_design(
                n,
                latency,
                server,
                &b.emu.base_url(),
                b.emu.management_key(),
            ) {
                Ok(wall) => {
                    let c = b.emu.counters();
                    let floor = c.requests as f64 / server.per_second();
                    let _ = writeln!(
                        md,
                        "| {n} | {latency} ms | Python design | {:.2} | – | {} | {floor:.2} | {:.2} | {} | {:.2} | {} |",
                        wall.as_secs_f64(),
                        c.requests,
                        floor / wall.as_secs_f64(),
                        c.rate_limited,
                        c.requests as f64 / n as f64,
                        load()
                    );
                }
                Err(why) => println!("Python design skipped: {why}"),
            }
            b.stop().await;
        }
    }
}

async fn small_apply(md: &mut String) {
    md.push_str(&format!(
        "\n### A pull-request-sized apply: 20 creates right after their plan\n\n\
         Emulator 100/60 (Descope's plain-API limit), default client budget (90/60), parallelism unset. \
         {RUNS} runs: the median (min–max).\n\n\
         | latency | plan (s) | apply (s) | apply requests | 429s |\n| --- | --- | --- | --- | --- |\n",
    ));
    for latency in [50u64, 200] {
        let (mut plans, mut applies, mut last) = (Vec::new(), Vec::new(), None);
        for _ in 0..RUNS {
            let b = Bench::start(latency, Some(budget("100/60"))).await;
            b.write_config(&config_yaml(20, None, None, false));
            let t = Instant::now();
            let planned = plan(&b.session(), &PlanRequest::default())
                .await
                .expect("plan");
            plans.push(t.elapsed().as_secs_f64());
            drop(planned);
            let r = b.plan_apply().await;
            b.stop().await;
            applies.push(r.wall.as_secs_f64());
            last = Some(r);
        }
        let r = last.expect("a run");
        println!("small apply at {latency} ms: {applies:?}");
        let _ = writeln!(
            md,
            "| {latency} ms | {:.2} ({}) | {:.2} ({}) | {} | {} |",
            median(plans.clone()),
            spread(&plans),
            median(applies.clone()),
            spread(&applies),
            r.requests,
            r.limited
        );
    }
}

async fn back_to_back(md: &mut String) {
    // A short window keeps the run short; the memory works the same for 100/60.
    let server = budget("30/5");
    let (mut totals, mut rows, mut counted) = (Vec::new(), String::new(), None);
    for run in 1..=RUNS {
        let b = Bench::start(50, Some(server)).await;
        let t = Instant::now();
        for round in 1..=3 {
            b.write_config(&config_yaml(12 * round, Some("30/5"), None, false));
            let r = b.plan_apply().await;
            let _ = writeln!(
                rows,
                "| {run} | {round} | {:.2} | {} | {} |",
                r.wall.as_secs_f64(),
                r.requests,
                r.limited
            );
        }
        totals.push(t.elapsed().as_secs_f64());
        let c = b.emu.counters();
        b.stop().await;
        counted = Some(match counted {
            None => (c.requests, c.rate_limited),
            Some((requests, limited)) => (requests, limited + c.rate_limited),
        });
    }
    let (requests, limited) = counted.expect("a run");
    println!("back to back: {totals:?}, {limited} 429s");
    let _ = write!(
        md,
        "\n### Three plan + apply rounds back to back (each command a new session)\n\n\
         Emulator and client budget 30/5, 50 ms latency, 12 more tenants each round; {RUNS} runs. \
         Total {:.2} s ({}) for {requests} requests ({:.2} s floor), {limited} 429s in all the runs.\n\n\
         | run | round | apply (s) | apply requests | 429s |\n| --- | --- | --- | --- | --- |\n{rows}",
        median(totals.clone()),
        spread(&totals),
        requests as f64 / server.per_second(),
    );
}

async fn wrong_budget(md: &mut String) {
    let server = budget("100/2");
    let (mut walls, mut refused, mut last) = (Vec::new(), Vec::new(), None);
    for _ in 0..RUNS {
        let b = Bench::start(200, Some(server)).await;
        b.write_config(&config_yaml(300, Some("200/2"), None, false));
        let r = b.plan_apply().await;
        b.stop().await;
        walls.push(r.wall.as_secs_f64());
        refused.push(r.limited as f64);
        last = Some(r);
    }
    let r = last.expect("a run");
    // The requests the server accepted are the ones the window had to make room for.
    let floor = (r.requests - r.limited) as f64 / server.per_second();
    println!("wrong budget: {walls:?}, {refused:?} 429s");
    let _ = write!(
        md,
        "\n### A budget twice too high\n\n\
         300 creates, emulator 100/2 at 200 ms, client budget 200/2, parallelism unset; {RUNS} runs: \
         {:.2} s ({}); the last run sent {} requests, {} of them answered 429 ({} in the runs). \
         True floor {floor:.2} s (the accepted requests ÷ 50/s); target ≤ 1.3 × floor + one 2 s lockout = {:.2} s.\n",
        median(walls.clone()),
        spread(&walls),
        r.requests,
        r.limited,
        spread(&refused).replace(".00", ""),
        1.3 * floor + 2.0,
    );
}

/// How often each command of the scaling table runs, for its spread.
const SCALE_RUNS: usize = 3;

/// `timed`, `SCALE_RUNS` times.
fn timed(dir: &Path, emu_url: &str, key: &str, args: &[&str]) -> Vec<(f64, f64, f64)> {
    (0..SCALE_RUNS)
        .map(|_| timed_once(dir, emu_url, key, args))
        .collect()
}

/// `descope-mgmt ARGS` under `/usr/bin/time`: wall seconds, peak RSS in MiB and CPU seconds
/// (user + system: what a busy machine disturbs least).
fn timed_once(dir: &Path, emu_url: &str, key: &str, args: &[&str]) -> (f64, f64, f64) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M %U %S"])
        .arg(env!("CARGO_BIN_EXE_descope-mgmt"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("DESCOPE_BASE_URI", emu_url)
        .env("KEY", key)
        .env_remove("DESCOPE_ENV")
        .output()
        .expect("/usr/bin/time runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {err}");
    let last = err.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let wall: f64 = parts.next().and_then(|s| s.parse().ok()).expect("wall");
    let kib: f64 = parts.next().and_then(|s| s.parse().ok()).expect("rss");
    let cpu: f64 = parts.map(|s| s.parse::<f64>().expect("cpu seconds")).sum();
    (wall, kib / 1024.0, cpu)
}

async fn scaling(md: &mut String, sizes: &[usize]) {
    md.push_str(&format!(
        "\n### Planning at scale (the release executable in its own process, emulator in another)\n\n\
         No-change plan: the project already holds every tenant; first with no state.json, then with one that records every tenant \
         and its live object, as after an apply. Create plan: an empty project. \
         `show` renders the create plan. Each command runs {SCALE_RUNS} times; each cell: median wall time (min–max) / median CPU time (user + system) / the largest peak RSS of the CLI process (`/usr/bin/time -f \"%e %M %U %S\"`).\n\n\
         | tenants | validate | no-change plan | no-change plan, with state.json | create plan | plan file | show (text) | show --format markdown | load |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    ));
    let cell = |runs: Vec<(f64, f64, f64)>| {
        let walls: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let cpu = median(runs.iter().map(|r| r.2).collect());
        let rss = runs.iter().map(|r| r.1).fold(0.0, f64::max);
        format!(
            "{:.2} s ({}) / {cpu:.2} s / {rss:.0} MiB",
            median(walls.clone()),
            spread(&walls)
        )
    };
    for &n in sizes {
        let load = load();
        let yaml = config_yaml(n, Some("100000/60"), None, true);
        // The project with every tenant already there.
        let full = Bench::start(0, None).await;
        full.write_config(&yaml);
        full.emu.mutate(|d| {
            for i in 0..n {
                d.tenants.push(Tenant {
                    id: tenant_id(i),
                    name: format!("Tenant {i}"),
                    parent: parent_of(i).unwrap_or_default(),
                    created_time: 1_700_000_000,
                    ..Tenant::default()
                });
            }
        });
        let (dir, url, key) = (
            full.dir.clone(),
            full.emu.base_url(),
            full.emu.management_key().to_string(),
        );
        let (validate, unchanged) = tokio::task::spawn_blocking(move || {
            (
                timed(&dir, &url, &key, &["validate"]),
                timed(&dir, &url, &key, &["plan", "--env", "bench"]),
            )
        })
        .await
        .expect("timed");
        // As after an apply: state.json records every tenant, with its live object.
        write_state(&full, n).await;
        let (dir, url, key) = (
            full.dir.clone(),
            full.emu.base_url(),
            full.emu.management_key().to_string(),
        );
        let managed = tokio::task::spawn_blocking(move || {
            timed(&dir, &url, &key, &["plan", "--env", "bench"])
        })
        .await
        .expect("timed");
        full.stop().await;

        let empty = Bench::start(0, None).await;
        empty.write_config(&yaml);
        let (dir, url, key) = (
            empty.dir.clone(),
            empty.emu.base_url(),
            empty.emu.management_key().to_string(),
        );
        let (create, size, text, markdown) = tokio::task::spawn_blocking(move || {
            let create = timed(
                &dir,
                &url,
                &key,
                &["plan", "--env", "bench", "-out", "c.plan"],
            );
            let size = std::fs::metadata(dir.join("c.plan"))
                .map(|m| m.len())
                .unwrap_or(0);
            let text = timed(&dir, &url, &key, &["show", "c.plan"]);
            let markdown = timed(
                &dir,
                &url,
                &key,
                &["show", "c.plan", "--format", "markdown"],
            );
            (create, size, text, markdown)
        })
        .await
        .expect("timed");
        empty.stop().await;
        println!("scale {n}: validate {validate:?}, plan {unchanged:?}, with state {managed:?}, create {create:?}, show {text:?}");
        let _ = writeln!(
            md,
            "| {n} | {} | {} | {} | {} | {:.1} MB | {} | {} | {} |",
            cell(validate),
            cell(unchanged),
            cell(managed),
            cell(create),
            size as f64 / 1e6,
            cell(text),
            cell(markdown),
            load
        );
    }
}

/// state.json of the `bench` environment as an apply of all `n` tenants leaves it: each tenant
/// managed, with its fingerprint and its live object as the emulator lists it.
async fn write_state(b: &Bench, n: usize) {
    use descope_mgmt::model::Address;
    use descope_mgmt::state::{StateDir, StateFile};
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/mgmt/tenant/all", b.emu.base_url()))
        .header(
            "Authorization",
            format!("Bearer {PROJECT}:{}", b.emu.management_key()),
        )
        .send()
        .await
        .expect("tenant list")
        .json()
        .await
        .expect("tenant list JSON");
    let tenants = body["tenants"].as_array().expect("tenants");
    assert_eq!(tenants.len(), n);
    let dir = StateDir::new(b.dir.join("state"), "bench").expect("state dir");
    let mut state = StateFile::empty("bench");
    state.bind_project(&dir, PROJECT).expect("bind");
    for t in tenants {
        let address = Address::tenant(t["id"].as_str().expect("id"));
        state.set_managed(
            address.clone(),
            descope_mgmt::resource::fingerprint(t),
            false,
        );
        state.set_attributes(&address, Some(t.clone()));
    }
    state.save(&dir).expect("state.json");
}

/// Replaces the part of docs/benchmarks.md between this bench's markers (appends it the first
/// time), leaving what `--bench engine` writes alone.
fn write_section(body: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md");
    let (begin, end) = ("<!-- pace:begin -->", "<!-- pace:end -->");
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let section = format!("{begin}\n{body}{end}\n");
    let new = match (old.find(begin), old.find(end)) {
        (Some(a), Some(b)) if a < b => format!(
            "{}{section}{}",
            &old[..a],
            old[b + end.len()..].trim_start_matches('\n')
        ),
        _ => format!("{}\n{section}", old.trim_end()),
    };
    std::fs::write(path, new).expect("write docs/benchmarks.md");
    println!("wrote {path}");
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH
    );
    let mut md = format!(
        "## Pace: applies under Descope's rate limit, planning at scale\n\n\
         Reproduce with `cargo bench --bench pace` (rewrites this section; `-- quick` for the 300-create table only). \
         Machine: {machine}; the 1-minute load average when a row was measured is in its last column. Emulator in-process unless said otherwise.\n"
    );
    // `-- only NAME` runs one part and prints its table without touching the docs.
    let only = std::env::args().skip_while(|a| a != "only").nth(1);
    if let Some(part) = only {
        let mut md = String::new();
        rt.block_on(async {
            match part.as_str() {
                "small" => small_apply(&mut md).await,
                "back-to-back" => back_to_back(&mut md).await,
                "wrong-budget" => wrong_budget(&mut md).await,
                "scale" => scaling(&mut md, &[1_000, 10_000, 50_000]).await,
                "scale-10k" => scaling(&mut md, &[10_000]).await,
                "300" => throughput(&mut md, &[300], 3, &LATENCIES).await,
                "300-200" => throughput(&mut md, &[300], 3, &[200]).await,
                "big" => throughput(&mut md, &[1_000], 1, &LATENCIES).await,
                other => {
                    panic!("no part {other}: small, back-to-back, wrong-budget, scale, scale-10k, 300, 300-200, big")
                }
            }
        });
        println!("{md}");
        return;
    }
    rt.block_on(async {
        if quick {
            throughput(&mut md, &[300], 1, &LATENCIES).await;
        } else {
            throughput(&mut md, &[300], 3, &LATENCIES).await;
            small_apply(&mut md).await;
            back_to_back(&mut md).await;
            wrong_budget(&mut md).await;
            scaling(&mut md, &[1_000, 10_000, 50_000]).await;
            if std::env::args().any(|a| a == "big") {
                throughput(&mut md, &[1_000], 1, &LATENCIES).await;
            }
        }
    });
    write_section(&md);
}
