//! The access key kind (`access_key.<name>`, a top-level `access_keys:` section) end to end
//! through the executable: the refusal without `--access-key-out`, creates whose cleartext
//! lands only in the named directory, updates, active → inactive, an expiry change as a
//! replace, drift, export to a blank project, backup restore, `access-key rotate`, and a scan
//! of every file and every output for the cleartexts the emulator issued.

use std::path::{Path, PathBuf};

use descope_emulator::EmulatorOptions;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::files_under;
use crate::util::TestEnv;

const CONFIG: &str = "version: 1
settings: {rate_limit: 1000/1}
roles:
  - name: deployer
tenants:
  - id: acme
    name: Acme
access_keys:
  - name: ci-bot
    description: CI
    roles: [deployer]
    tenant_roles: [{tenant: acme, roles: [Tenant Admin]}]
    expires: never
    permitted_ips: [10.0.0.0/8]
    custom_claims: {team: ci}
  - name: paused
    active: false
";

/// Every command's output, for the scan at the end.
#[derive(Default)]
struct Outputs(Vec<String>);

impl Outputs {
    fn run(&mut self, w: &TestEnv, args: &[&str]) -> (i32, String, String) {
        let out = w.cmd(args).output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        self.0.push(o.clone());
        self.0.push(e.clone());
        (out.status.code().unwrap_or(-1), o, e)
    }

    fn ok(&mut self, w: &TestEnv, args: &[&str]) -> String {
        let (code, out, err) = self.run(w, args);
        assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
        out
    }
}

fn key(w: &TestEnv, name: &str) -> descope_emulator::AccessKey {
    let keys: Vec<_> = w
        .emu()
        .data()
        .access_keys
        .into_iter()
        .filter(|k| k.name == name)
        .collect();
    assert_eq!(keys.len(), 1, "one live key named {name}");
    keys.into_iter().next().unwrap()
}

fn writes(w: &TestEnv) -> u64 {
    w.emu().counters().writes_committed.values().sum()
}

/// The file's content, checked to be the cleartext the emulator issued for `name` now (it keeps
/// only the hash) and private to its owner.
fn issued(w: &TestEnv, file: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(text.as_bytes())),
        key(w, name).cleartext_sha256,
        "{} holds the cleartext Descope issued for {name}",
        file.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    text
}

#[test]
fn access_keys_are_created_only_with_somewhere_to_put_their_secret() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut o = Outputs::default();
    let mut secrets: Vec<String> = Vec::new();
    let mut key_files: Vec<PathBuf> = Vec::new();
    w.write_config(CONFIG);

    let out = o.ok(&w, &["plan", "-out", "plans/a.plan"]);
    assert!(
        out.contains("+ access_key.ci-bot") && out.contains("+ access_key.paused"),
        "{out}"
    );

    // Without the flag: refused before any write, naming the flag.
    let (code, out, err) = o.run(&w, &["apply", "plans/a.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("--access-key-out") && err.contains("access_key.ci-bot"),
        "{err}"
    );
    assert_eq!(writes(&w), 0, "nothing was written to the project");

    // With it: one 0600 file per key in a 0700 directory, holding what Descope issued.
    o.ok(&w, &["apply", "plans/a.plan", "--access-key-out", "keys"]);
    for name in ["ci-bot", "paused"] {
        let file = w.path(format!("keys/{name}.key"));
        secrets.push(issued(&w, &file, name));
        key_files.push(file);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path("keys"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
    let ci = key(&w, "ci-bot");
    assert_eq!(ci.role_names, ["deployer"]);
    assert_eq!(ci.key_tenants[0].tenant_id, "acme");
    assert_eq!(ci.permitted_ips, ["10.0.0.0/8"]);
    assert_eq!(ci.status, "active");
    assert_eq!(key(&w, "paused").status, "inactive");
    let ci_id = ci.id.clone();

    let (code, out, err) = o.run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "no changes after the apply\n{out}\n{err}");

    // An update in place (the id, and so the secret, stays); the flag has nothing to do there.
    let updated = CONFIG
        .replace("description: CI", "description: CI runner")
        .replace("[10.0.0.0/8]", "[10.0.0.0/8, 192.168.0.1]")
        .replace(
            "    custom_claims: {team: ci}\n",
            "    custom_claims: {team: ci}\n    active: false\n",
        );
    w.write_config(&updated);
    let out = o.ok(&w, &["plan", "-out", "plans/b.plan"]);
    assert!(out.contains("~ access_key.ci-bot"), "{out}");
    let (code, out, err) = o.run(&w, &["apply", "plans/b.plan", "--access-key-out", "keys-b"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("creates no access key"), "{err}");
    assert!(!w.path("keys-b").exists());
    o.ok(&w, &["apply", "plans/b.plan"]);
    let ci = key(&w, "ci-bot");
    assert_eq!(ci.id, ci_id);
    assert_eq!(ci.description, "CI runner");
    assert_eq!(ci.permitted_ips, ["10.0.0.0/8", "192.168.0.1"]);
    assert_eq!(ci.status, "inactive");
    assert_eq!(ci.custom_claims["team"], "ci", "fields left alone are kept");
    let (code, out, err) = o.run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Drift: a change in the console is reported and planned back.
    w.emu().mutate(|d| {
        let k = d
            .access_keys
            .iter_mut()
            .find(|k| k.name == "ci-bot")
            .unwrap();
        k.description = "edited in the console".into();
    });
    let (code, out, err) = o.run(&w, &["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("access_key.ci-bot"), "{out}");
    o.ok(&w, &["plan", "-out", "plans/c.plan"]);
    o.ok(&w, &["apply", "plans/c.plan"]);
    assert_eq!(key(&w, "ci-bot").description, "CI runner");

    // An expiry change cannot be made in place: a replace, which issues a new secret.
    let replaced = updated.replace("expires: never", "expires: 2031-01-01");
    w.write_config(&replaced);
    let (code, out, err) = o.run(
        &w,
        &[
            "plan",
            "--allow-replace",
            "access_key.ci-bot",
            "-out",
            "plans/d.plan",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("access_key.ci-bot") && out.contains("expires"),
        "{out}"
    );
    let (code, out, err) = o.run(&w, &["apply", "plans/d.plan"]);
    assert_eq!(
        code, 1,
        "a replace creates a key: the flag is needed\n{out}\n{err}"
    );
    // Never overwritten: the old file is in the way, so nothing is sent.
    let (code, out, err) = o.run(&w, &["apply", "plans/d.plan", "--access-key-out", "keys"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("ci-bot.key"), "{err}");
    assert_eq!(key(&w, "ci-bot").id, ci_id);
    o.ok(&w, &["apply", "plans/d.plan", "--access-key-out", "keys-d"]);
    let ci = key(&w, "ci-bot");
    assert_ne!(ci.id, ci_id, "a new key");
    assert_eq!(ci.expire_time, 1_924_992_000);
    let file = w.path("keys-d/ci-bot.key");
    secrets.push(issued(&w, &file, "ci-bot"));
    key_files.push(file);
    let (code, out, err) = o.run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Rotate: explicit, by name; an existing file is refused before anything is sent.
    let before = key(&w, "ci-bot").cleartext_sha256;
    let (code, out, err) = o.run(
        &w,
        &[
            "access-key",
            "rotate",
            "ci-bot",
            "--out",
            "keys-d/ci-bot.key",
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(key(&w, "ci-bot").cleartext_sha256, before);
    o.ok(
        &w,
        &["access-key", "rotate", "ci-bot", "--out", "rotated.key"],
    );
    let file = w.path("rotated.key");
    secrets.push(issued(&w, &file, "ci-bot"));
    o.ok(
        &w,
        &[
            "access-key",
            "rotate",
            "ci-bot",
            "--out",
            "rotated.key",
            "--force",
        ],
    );
    secrets.push(issued(&w, &file, "ci-bot"));
    assert_ne!(secrets[secrets.len() - 1], secrets[secrets.len() - 2]);
    key_files.push(file);
    let audit = std::fs::read_to_string(w.path("state/default/audit.jsonl")).unwrap();
    assert!(audit.contains("\"rotate\""), "{audit}");

    // Export, then the exported config applied to a blank project: the keys are new there,
    // so that needs the flag too; then there is nothing left to change.
    o.ok(&w, &["export", "--out", "exp"]);
    let yaml = std::fs::read_to_string(w.path("exp/descope.yaml")).unwrap();
    let exported: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let keys = exported["access_keys"].as_array().expect(&yaml);
    assert_eq!(keys.len(), 2, "{yaml}");
    assert_eq!(keys[0]["name"], "ci-bot", "{yaml}");
    assert_eq!(keys[0]["expires"], "2031-01-01T00:00:00Z", "{yaml}");
    assert_eq!(keys[0]["active"], false, "{yaml}");
    let blank = TestEnv::start_blocking(EmulatorOptions::default());
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    doc["settings"]["rate_limit"] = "1000/1".into();
    blank.write_config(&serde_yaml_ng::to_string(&doc).unwrap());
    let mut exported_files = Vec::new();
    files_under(&w.path("exp"), &mut exported_files);
    for f in exported_files
        .iter()
        .filter(|f| !f.ends_with("descope.yaml"))
    {
        let rel = f.strip_prefix(w.path("exp")).unwrap();
        blank.write(rel, &std::fs::read_to_string(f).unwrap());
    }
    let mut ob = Outputs::default();
    ob.ok(&blank, &["plan", "-out", "plans/e.plan"]);
    let (code, out, err) = ob.run(&blank, &["apply", "plans/e.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    // With every log line on: the secret is in none of them either.
    let traced = blank
        .cmd(&["apply", "plans/e.plan", "--access-key-out", "keys"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    ob.0.push(String::from_utf8_lossy(&traced.stdout).into_owned());
    ob.0.push(String::from_utf8_lossy(&traced.stderr).into_owned());
    assert_eq!(traced.status.code(), Some(0), "{:?}", ob.0.last());
    let (code, out, err) = ob.run(&blank, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let copy = key(&blank, "ci-bot");
    assert_eq!(
        (
            copy.description.as_str(),
            copy.status.as_str(),
            copy.expire_time
        ),
        ("CI runner", "inactive", 1_924_992_000)
    );
    for name in ["ci-bot", "paused"] {
        let file = blank.path(format!("keys/{name}.key"));
        secrets.push(issued(&blank, &file, name));
    }

    // Backup restore: a key deleted in the console comes back from the backup of an apply
    // that changed it, as a plan whose apply needs the flag.
    w.write_config(&replaced.replace("description: CI runner", "description: CI again"));
    o.ok(&w, &["plan", "-out", "plans/f.plan"]);
    o.ok(&w, &["apply", "plans/f.plan"]);
    let backups = w.path("state/default/backups");
    // The backup of that apply, found by its plan's digest: names sort by the second they
    // were made in, and two applies may share a second.
    let digest = descope_mgmt::plan::PlanFile::read_verified(&w.path("plans/f.plan"))
        .unwrap()
        .digest
        .as_str()
        .to_string();
    let backup = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains(&digest))
        .expect("the apply left a backup")
        .display()
        .to_string();
    w.emu()
        .mutate(|d| d.access_keys.retain(|k| k.name != "ci-bot"));
    o.ok(&w, &["backup", "restore", &backup, "-out", "plans/g.plan"]);
    let (code, out, err) = o.run(&w, &["apply", "plans/g.plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("--access-key-out"), "{err}");
    o.ok(&w, &["apply", "plans/g.plan", "--access-key-out", "keys-g"]);
    assert_eq!(key(&w, "ci-bot").description, "CI runner");
    let file = w.path("keys-g/ci-bot.key");
    secrets.push(issued(&w, &file, "ci-bot"));
    key_files.push(file);

    // The scan: no cleartext in any file the tool wrote but the ones named for it, nor in any
    // output.
    for (env, named) in [(&w, &key_files), (&blank, &Vec::new())] {
        let mut files = Vec::new();
        files_under(env.root(), &mut files);
        for f in files {
            if named.contains(&f) || f.starts_with(env.path("keys")) {
                continue;
            }
            let bytes = std::fs::read(&f).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for s in &secrets {
                assert!(
                    !text.contains(s.as_str()),
                    "a cleartext is in {}",
                    f.display()
                );
            }
        }
    }
    for text in o.0.iter().chain(&ob.0) {
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "a cleartext was printed:\n{text}"
            );
        }
    }
}

#[test]
fn bad_access_keys_are_reported_where_they_are() {
    let w = TestEnv::new();
    w.write_config(
        "version: 1
access_keys:
  - name: ci
    roles: [nobody]
    expires: soon
    permitted_ips: [10.0.0.0/33]
    tenant_roles: [{tenant: ghost}]
  - name: ci
",
    );
    let out = w.cmd(&["validate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for at in [
        "descope.yaml:4:13",
        "descope.yaml:5:14",
        "descope.yaml:6:21",
        "descope.yaml:7:29",
        "descope.yaml:8:11",
    ] {
        assert!(err.contains(at), "{at}\n{err}");
    }
}

const ONE_KEY: &str = "version: 1
settings: {rate_limit: 1000/1}
access_keys:
  - name: ci-bot
    description: CI
";

async fn run_async(w: &TestEnv, args: &[&str]) -> (i32, String, String) {
    let out = crate::util::output(w.cmd(args)).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs on the emulator's request task right after Descope committed a key's create, before
/// its answer (the cleartext) leaves.
fn after_create(w: &TestEnv, f: impl Fn() + Send + Sync + 'static) {
    let fired = std::sync::atomic::AtomicBool::new(false);
    w.emu().set_hook(Some(std::sync::Arc::new(
        move |ev: &descope_emulator::HookEvent| {
            if ev.phase == descope_emulator::HookPhase::AfterCommit
                && ev.path == "/v1/mgmt/accesskey/create"
                && !fired.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                f();
            }
        },
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_cannot_be_written_is_reported_loudly_and_rotate_recovers() {
    let w = TestEnv::start(EmulatorOptions::default()).await;
    w.write_config(ONE_KEY);
    let (code, out, err) = run_async(&w, &["plan", "-out", "plans/a.plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    // The directory is gone (a file in its place) by the time the answer arrives.
    let dir = w.path("keys");
    after_create(&w, move || {
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, "not a directory").unwrap();
    });
    let (code, out, err) =
        run_async(&w, &["apply", "plans/a.plan", "--access-key-out", "keys"]).await;
    w.emu().set_hook(None);
    assert_eq!(code, 1, "{out}\n{err}");
    let both = format!("{out}\n{err}");
    assert!(
        both.contains("access_key.ci-bot WAS CREATED, BUT ITS SECRET COULD NOT BE WRITTEN")
            && both.contains("access-key rotate ci-bot"),
        "{both}"
    );
    key(&w, "ci-bot");
    let (code, out, err) =
        run_async(&w, &["access-key", "rotate", "ci-bot", "--out", "new.key"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let secret = issued(&w, &w.path("new.key"), "ci-bot");
    assert!(!out.contains(&secret) && !err.contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_between_the_create_and_the_file_says_so_when_resumed() {
    let w = TestEnv::start(EmulatorOptions::default()).await;
    w.write_config(ONE_KEY);
    let (code, out, err) = run_async(&w, &["plan", "-out", "plans/a.plan"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let pid = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    {
        let pid = pid.clone();
        after_create(&w, move || {
            let pid = pid.load(std::sync::atomic::Ordering::SeqCst);
            // Never `kill 0`: that is the whole process group.
            if pid != 0 {
                std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap();
            }
        });
    }
    let child = w
        .cmd(&["apply", "plans/a.plan", "--access-key-out", "keys"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    pid.store(child.id(), std::sync::atomic::Ordering::SeqCst);
    let killed = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    w.emu().set_hook(None);
    assert_ne!(killed.status.code(), Some(0));
    key(&w, "ci-bot");
    assert!(!w.path("keys/ci-bot.key").exists());

    let (code, out, err) =
        run_async(&w, &["apply", "plans/a.plan", "--access-key-out", "keys"]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let both = format!("{out}\n{err}");
    assert!(
        both.contains("access_key.ci-bot WAS CREATED BY AN INTERRUPTED APPLY")
            && both.contains("access-key rotate ci-bot"),
        "{both}"
    );
    assert_eq!(w.emu().data().access_keys.len(), 1, "not created twice");
}

#[test]
fn unmanaged_keys_are_left_alone_and_twins_are_refused_by_name() {
    let w = TestEnv::start_blocking(EmulatorOptions::default());
    let mut o = Outputs::default();
    w.write_config(ONE_KEY);
    // Apply without a plan file is refused before it asks, and before any write.
    let (code, out, err) = o.run(&w, &["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("--access-key-out"), "{err}");
    assert_eq!(writes(&w), 0);
    o.ok(&w, &["plan", "-out", "plans/a.plan"]);
    o.ok(&w, &["apply", "plans/a.plan", "--access-key-out", "keys"]);
    let console = |name: &str, id: &str| descope_emulator::AccessKey {
        id: id.into(),
        name: name.into(),
        status: "active".into(),
        ..Default::default()
    };

    // A key made in the console is reported, left alone, and deleted only with --prune.
    w.emu()
        .mutate(|d| d.access_keys.push(console("console", "Kconsole")));
    let (code, out, err) = o.run(&w, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("access_key.console"),
        "reported as not managed: {out}"
    );
    let out = o.ok(
        &w,
        &["plan", "--prune", "access_key", "-out", "plans/b.plan"],
    );
    assert!(out.contains("- access_key.console"), "{out}");
    o.ok(&w, &["apply", "plans/b.plan"]);
    assert!(w
        .emu()
        .data()
        .access_keys
        .iter()
        .all(|k| k.name != "console"));

    // Two live keys with the name the config uses: an error naming both ids.
    let id = key(&w, "ci-bot").id;
    w.emu()
        .mutate(|d| d.access_keys.push(console("ci-bot", "Ktwin")));
    let (code, out, err) = o.run(&w, &["plan"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("access_key.ci-bot") && err.contains(&id) && err.contains("Ktwin"),
        "{err}"
    );
    let (code, out, err) = o.run(&w, &["access-key", "rotate", "ci-bot", "--out", "x.key"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("Ktwin") && !w.path("x.key").exists(), "{err}");
    w.emu()
        .mutate(|d| d.access_keys.retain(|k| k.id != "Ktwin"));

    // Managed keys the config drops are deleted by id, like ones together in one batch.
    w.write_config(&format!("{ONE_KEY}  - name: second\n"));
    o.ok(&w, &["plan", "-out", "plans/c.plan"]);
    o.ok(&w, &["apply", "plans/c.plan", "--access-key-out", "keys"]);
    w.write_config("version: 1\nsettings: {rate_limit: 1000/1}\n");
    let out = o.ok(&w, &["plan", "-out", "plans/d.plan"]);
    assert!(
        out.contains("- access_key.ci-bot") && out.contains("- access_key.second"),
        "{out}"
    );
    o.ok(&w, &["apply", "plans/d.plan"]);
    assert!(w.emu().data().access_keys.is_empty());
    assert_eq!(
        w.emu().counters().writes("/v1/mgmt/accesskey/delete/batch"),
        1,
        "one batch for both"
    );
}
