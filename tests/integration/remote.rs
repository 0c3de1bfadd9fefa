//! The state in object storage, against a real S3-compatible server (`moto_server`, see
//! `moto.rs`): the lock across machines, a dead holder's lease taken over and its journal
//! resumed, a lost race on state.json refused, and `state migrate` there and back.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use descope_emulator::{EmulatorOptions, HookEvent, HookPhase};
use descope_mgmt::state::{Journal, StateError, StateFile};

use crate::apply::{
    apply_signalled_at, assert_created_once, cli, code, is_write_path, plan_has_changes, plan_to,
    text, world, write_config, Desired, KillPoint, ENV,
};
use crate::util::{output, TestEnv};

/// A world whose state is in a fresh bucket; `None` when moto is not installed.
async fn s3_world(desired: &Desired, lease: &str) -> Option<TestEnv> {
    let mut w = world(EmulatorOptions::default(), desired).await;
    if !w.use_s3(lease) {
        return None;
    }
    write_config(&w, desired, crate::apply::FAST);
    Some(w)
}

/// `cli` with a state directory of its own: another machine sharing the bucket.
fn cli_at(w: &TestEnv, state_root: &Path, args: &[&str]) -> Command {
    let mut cmd = w.cmd(&["--config"]);
    cmd.arg(w.config_path())
        .arg("--env")
        .arg(ENV)
        .arg("--state-dir")
        .arg(state_root)
        .arg("--no-color")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Two applies on two state roots sharing one bucket: while A holds the lock, B fails at once
/// naming A, and C, with --lock-timeout, waits for A and then gets the lock (and is refused on
/// freshness, as a plan made before A's apply must be — never on the lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_machines_sharing_a_bucket_one_applies_the_other_fails_naming_it_or_waits() {
    let desired = Desired::new(2, 1, 0);
    let Some(w) = s3_world(&desired, "10s").await else {
        return;
    };
    let (p, path) = plan_to(&w, "race").await;
    let (root_a, root_b) = (w.path("machine-a"), w.path("machine-b"));

    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((reached_tx, release_rx))));
    w.emu().set_hook(Some(Arc::new(move |ev: &HookEvent| {
        if ev.phase == HookPhase::BeforeHandling && is_write_path(&ev.path) {
            if let Some((reached, release)) = gate.lock().unwrap().take() {
                reached.send(()).unwrap();
                release.recv().unwrap();
            }
        }
    })));
    let a = cli_at(&w, &root_a, &["apply", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let a_pid = a.id();
    let a_done = tokio::task::spawn_blocking(move || a.wait_with_output().unwrap());
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();

    let b = output(cli_at(&w, &root_b, &["apply", path.to_str().unwrap()])).await;
    let c = cli_at(
        &w,
        &root_b,
        &["apply", "--lock-timeout", "60s", path.to_str().unwrap()],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let c_done = tokio::task::spawn_blocking(move || c.wait_with_output().unwrap());
    release_tx.send(()).unwrap();
    let a = a_done.await.unwrap();
    let c = c_done.await.unwrap();
    w.emu().set_hook(None);

    assert_eq!(code(&b), 1, "{}", text(&b));
    let b_err = stderr(&b);
    assert!(
        b_err.contains(&format!("locked by process {a_pid}")),
        "names the holder: {b_err}"
    );
    assert!(
        b_err.contains(&w.s3.as_ref().unwrap().url()),
        "names the bucket: {b_err}"
    );
    assert!(b_err.contains("force-unlock"), "{b_err}");
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_created_once(w.emu(), &desired);

    assert_eq!(
        code(&c),
        3,
        "waited, then refused the used plan: {}",
        text(&c)
    );
    assert!(!stderr(&c).contains("locked by"), "{}", text(&c));

    let state = w.state(ENV);
    assert!(StateFile::load(&state).unwrap().was_applied(&p.digest));
    assert!(Journal::read(&state, &p.digest)
        .unwrap()
        .all_done(p.changes.len()));
    // Nothing of the state on either machine, and the lock is gone.
    for root in [&root_a, &root_b] {
        assert!(!root.join(ENV).join("state.json").exists());
        assert!(!root.join(ENV).join("journal").exists());
    }
    assert!(state.store().read(&state.key("lock")).unwrap().is_none());
}

/// A holder killed with SIGKILL leaves its lease behind; the next apply waits for it to run
/// out, takes the lock over with a warning naming the dead holder, resumes the journal and
/// finishes with every create done once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_holder_lease_expires_and_the_next_apply_takes_over_and_resumes() {
    let desired = Desired::new(3, 1, 0);
    let Some(w) = s3_world(&desired, "2s").await else {
        return;
    };
    let (p, path) = plan_to(&w, "kill").await;
    let killed = apply_signalled_at(
        &w,
        &path,
        KillPoint {
            phase: HookPhase::AfterCommit,
            path: "/v1/mgmt/tenant/create",
            nth: 2,
        },
        "-KILL",
    )
    .await;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(killed.status.signal(), Some(9), "{}", text(&killed));
    let state = w.state(ENV);
    let dead = descope_mgmt::state::lock::read_holder(&state).expect("the dead holder's lease");
    let j = Journal::read(&state, &p.digest).unwrap();
    assert!(j.is_unfinished(p.changes.len()), "{j:?}");

    let out = output(cli(
        &w,
        &["apply", "--lock-timeout", "30s", path.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("took over the lock"), "{err}");
    assert!(
        err.contains(&format!("process {}", dead.pid)),
        "names the old holder: {err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Resumed an interrupted apply"),
        "{}",
        text(&out)
    );
    assert_created_once(w.emu(), &desired);
    assert!(!plan_has_changes(&w).await);
    assert!(Journal::read(&state, &p.digest)
        .unwrap()
        .all_done(p.changes.len()));
}

/// A write of state.json behind the lock's back: the slower writer is refused, naming the
/// object, and what the faster one wrote stays.
#[test]
fn a_lost_race_on_state_json_is_refused_not_overwritten() {
    let Some(bucket) = crate::moto::Bucket::new("10s") else {
        return;
    };
    let (mine, theirs) = (bucket.state(ENV), bucket.other_view().state(ENV));
    let mut first = StateFile::load(&mine).unwrap();
    first.project_id = Some("P1".into());
    first.save(&mine).unwrap();

    let mut slow = StateFile::load(&mine).unwrap();
    let mut fast = StateFile::load(&theirs).unwrap();
    fast.set_managed("tenant.fast".parse().unwrap(), "f".repeat(64), false);
    fast.save(&theirs).unwrap();

    slow.set_managed("tenant.slow".parse().unwrap(), "s".repeat(64), false);
    let err = slow.save(&mine).unwrap_err();
    assert!(matches!(err, StateError::Conflict { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{}{ENV}/state.json", bucket.url())),
        "{msg}"
    );
    assert!(msg.contains("412"), "{msg}");
    let stored = StateFile::load(&bucket.other_view().state(ENV)).unwrap();
    assert!(stored.is_managed(&"tenant.fast".parse().unwrap()));
    assert!(!stored.is_managed(&"tenant.slow".parse().unwrap()));

    // A creator racing a creator: the second `Create` of a fresh state.json loses too.
    let (a, b) = (bucket.state("other"), bucket.other_view().state("other"));
    let (sa, sb) = (StateFile::load(&a).unwrap(), StateFile::load(&b).unwrap());
    let mut sa2 = sa.clone();
    sa2.project_id = Some("PA".into());
    sa2.save(&a).unwrap();
    let mut sb2 = sb.clone();
    sb2.project_id = Some("PB".into());
    assert!(matches!(
        sb2.save(&b).unwrap_err(),
        StateError::Conflict { .. }
    ));
}

fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                // The local lock's own files are per machine, never migrated.
                if rel != "lock" && rel != "lock.holder" {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    out
}

/// A local state (state.json, a backup, a journal, the audit log) migrated to the bucket and
/// back is byte for byte what it was, and in between the bucket is a working state.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_migrate_to_a_bucket_and_back_leaves_identical_files() {
    let mut desired = Desired::new(2, 1, 0);
    let mut w = world(EmulatorOptions::default(), &desired).await;
    let (_, path) = plan_to(&w, "first").await;
    let out = output(cli(&w, &["apply", path.to_str().unwrap()])).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    // A second apply, with a backup (an update) and a second audit line.
    desired.tenants[0].name = "Renamed".into();
    write_config(&w, &desired, crate::apply::FAST);
    let (_, path) = plan_to(&w, "second").await;
    let out = output(cli(&w, &["apply", path.to_str().unwrap()])).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let local = w.state_path().join(ENV);
    let before = files_under(&local);
    for f in ["state.json", "audit.jsonl", ".gitignore"] {
        assert!(before.contains_key(f), "{f} in {:?}", before.keys());
    }
    assert!(before.keys().any(|k| k.starts_with("backups/")));
    assert!(before.keys().any(|k| k.starts_with("journal/")));

    if !w.use_s3("10s") {
        return;
    }
    let bucket = w.s3.clone().unwrap();
    let out = output(cli(
        &w,
        &[
            "state",
            "migrate",
            "--to",
            &bucket.url(),
            "--endpoint",
            &bucket.endpoint,
            "--region",
            "us-east-1",
        ],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Into a non-empty place: refused, nothing overwritten.
    let again = output(cli(
        &w,
        &[
            "state",
            "migrate",
            "--to",
            &bucket.url(),
            "--endpoint",
            &bucket.endpoint,
        ],
    ))
    .await;
    assert_eq!(code(&again), 1, "{}", text(&again));
    assert!(
        stderr(&again).contains("already holds state"),
        "{}",
        text(&again)
    );

    // The configuration now points at the bucket: the state is there and in use.
    write_config(&w, &desired, crate::apply::FAST);
    assert!(!plan_has_changes(&w).await);
    let out = output(cli(&w, &["state", "pull"])).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(out.stdout, before["state.json"]);

    let back = w.path("back");
    let out = output(cli(
        &w,
        &["state", "migrate", "--to", back.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(files_under(&back.join(ENV)), before);
    w.s3 = None;
}

/// A configuration of environment `dev` whose state is in `w`'s bucket.
fn minimal_s3_config(w: &TestEnv) {
    w.write_config(&format!(
        "version: 1\nsettings:\n  state: {}\nenvironments:\n  {ENV}:\n    project_id: P2abc\n",
        w.state_settings().unwrap()
    ));
}

fn run_in(w: &TestEnv, args: &[&str]) -> Output {
    let mut cmd = w.cmd(&["--env", ENV]);
    cmd.args(args).stdin(Stdio::null()).output().unwrap()
}

/// `state force-unlock` removes only the lock whose id it is given, and a holder whose lock
/// was removed and taken by someone else does not delete the new holder's lock when it ends.
#[test]
fn force_unlock_takes_the_lock_id_and_a_dropped_old_holder_leaves_the_new_lock_alone() {
    let mut w = TestEnv::new();
    if !w.use_s3("10s") {
        return;
    }
    minimal_s3_config(&w);
    let bucket = w.s3.clone().unwrap();
    let held =
        descope_mgmt::state::StateLock::acquire(&bucket.state(ENV), Default::default()).unwrap();
    let id = held.holder().id.clone().unwrap();

    let out = run_in(&w, &["state", "force-unlock", "0123456789abcdef"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("has id {id}")),
        "{}",
        text(&out)
    );

    let out = run_in(&w, &["state", "force-unlock", &id]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("process {}", std::process::id())),
        "{}",
        text(&out)
    );
    let other = bucket.other_view().state(ENV);
    let new = descope_mgmt::state::StateLock::acquire(&other, Default::default()).unwrap();
    drop(held);
    let now = descope_mgmt::state::lock::read_holder(&other).unwrap();
    assert_eq!(now.id, new.holder().id);
    drop(new);
    assert!(descope_mgmt::state::lock::read_holder(&other).is_none());
    let out = run_in(&w, &["state", "force-unlock", &id]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("not locked"), "{}", text(&out));
}

/// A bucket that does not exist is an error naming it and the storage's 404, never an empty
/// state.
#[test]
fn a_missing_bucket_is_a_404_naming_it_not_an_empty_state() {
    let mut w = TestEnv::new();
    if !w.use_s3("10s") {
        return;
    }
    let settings = w.state_settings().unwrap();
    let bucket = w.s3.clone().unwrap();
    w.write_config(&format!(
        "version: 1\nsettings:\n  state: {}\nenvironments:\n  {ENV}:\n    project_id: P2abc\n",
        settings.replace(&bucket.name, "no-such-bucket")
    ));
    let out = run_in(&w, &["state", "list"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("s3://no-such-bucket/team/"), "{err}");
    assert!(
        err.contains("404") && err.contains("does not exist"),
        "{err}"
    );
}

/// `state pull` prints state.json as stored; `state push` of an older file (one that lacks a
/// plan the stored file records as applied) is refused unless --force.
#[test]
fn state_push_of_an_older_file_is_refused_unless_forced() {
    let mut w = TestEnv::new();
    if !w.use_s3("10s") {
        return;
    }
    minimal_s3_config(&w);
    let dir = w.state(ENV);
    let mut old = StateFile::empty(ENV);
    old.project_id = Some("P2abc".into());
    old.save(&dir).unwrap();
    let old_bytes = run_in(&w, &["state", "pull"]).stdout;
    let mut newer = StateFile::load(&dir).unwrap();
    newer.mark_applied(
        &format!("sha256:{}", "ab".repeat(32)),
        "2026-01-31T12:00:00Z".parse().unwrap(),
    );
    newer.save(&dir).unwrap();

    w.write("old.json", &String::from_utf8(old_bytes.clone()).unwrap());
    let out = run_in(&w, &["state", "push", "old.json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("older"), "{}", text(&out));
    assert!(StateFile::load(&w.state(ENV)).unwrap().applied_plans.len() == 1);

    let out = run_in(&w, &["state", "push", "--force", "old.json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(run_in(&w, &["state", "pull"]).stdout, old_bytes);

    // A file of another environment is refused even with --force.
    w.write(
        "other.json",
        &String::from_utf8(old_bytes)
            .unwrap()
            .replace("\"dev\"", "\"prod\""),
    );
    let out = run_in(&w, &["state", "push", "--force", "other.json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("`prod`"), "{}", text(&out));
}

/// A holder whose lock was removed (force-unlock) and taken by another run notices at its next
/// renewal and writes nothing more: no journal line of the old run lands among the new run's.
#[test]
fn a_holder_that_lost_its_lock_writes_nothing_more() {
    let Some(bucket) = crate::moto::Bucket::new("1s") else {
        return;
    };
    let mine = bucket.state(ENV);
    let held = descope_mgmt::state::StateLock::acquire(&mine, Default::default()).unwrap();
    let digest = format!("sha256:{}", "cd".repeat(32));
    let mut journal = Journal::open(&mine, &digest).unwrap();
    let line = |op| descope_mgmt::state::JournalEntry {
        op,
        address: "tenant.acme".parse().unwrap(),
        event: descope_mgmt::state::JournalEvent::Started,
        at: "2026-01-31T12:00:00Z".parse().unwrap(),
    };
    journal.record(&line(0)).unwrap();

    let theirs = bucket.other_view().state(ENV);
    descope_mgmt::state::StateLock::force_unlock(&theirs, held.holder().id.as_deref().unwrap())
        .unwrap();
    let _new = descope_mgmt::state::StateLock::acquire(&theirs, Default::default()).unwrap();
    // The next renewal (a third of the 1s lease) finds the lock gone; give it two seconds.
    let started = std::time::Instant::now();
    let err = loop {
        match journal.record(&line(0)) {
            Err(e) => break e.to_string(),
            Ok(()) if started.elapsed() < std::time::Duration::from_secs(2) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Ok(()) => panic!("the old holder kept writing after losing its lock"),
        }
    };
    assert!(err.contains("no longer holds the lock"), "{err}");
    drop(held);
    // The new holder's lock is untouched by the old holder's end.
    assert!(descope_mgmt::state::lock::read_holder(&theirs).is_some());
}

/// In a bucket, each append is an object of its own under the log's name, read back as the
/// bytes the local file would hold; backups keep their never-overwrite naming.
#[test]
fn logs_are_one_object_per_append_and_read_back_as_the_local_bytes() {
    let Some(bucket) = crate::moto::Bucket::new("10s") else {
        return;
    };
    let (dir, local) = (bucket.state(ENV), TestEnv::new());
    let local = local.state(ENV);
    let digest = format!("sha256:{}", "ef".repeat(32));
    let line = |op, event| descope_mgmt::state::JournalEntry {
        op,
        address: "tenant.acme".parse().unwrap(),
        event,
        at: "2026-01-31T12:00:00Z".parse().unwrap(),
    };
    use descope_mgmt::state::JournalEvent::{Started, Succeeded};
    for d in [&dir, &local] {
        let mut j = Journal::open(d, &digest).unwrap();
        j.record(&line(0, Started)).unwrap();
        j.record(&line(0, Succeeded)).unwrap();
        drop(j);
        // A resumed run appends after what is there.
        Journal::open(d, &digest)
            .unwrap()
            .record(&line(1, Started))
            .unwrap();
    }
    let key = dir.journal_key(&digest).unwrap();
    assert_eq!(
        dir.store().read_log(&key).unwrap(),
        local.store().read_log(&key).unwrap()
    );
    let parts = dir.store().list(&key).unwrap();
    assert_eq!(
        parts,
        [
            "00000000000000000001",
            "00000000000000000002",
            "00000000000000000003"
        ]
    );
    assert_eq!(
        Journal::list(&dir).unwrap(),
        [digest.trim_start_matches("sha256:")]
    );
    let s = Journal::read(&dir, &digest).unwrap();
    assert_eq!(s.entries, 3);
    assert!(s.status(0).is_done());

    let backup = descope_mgmt::state::Backup::new(ENV, "P2abc", &digest, vec![]);
    let first = descope_mgmt::state::write_backup(&dir, &backup).unwrap();
    let second = descope_mgmt::state::write_backup(&dir, &backup).unwrap();
    assert!(first.starts_with(dir.backups_dir()), "{}", first.display());
    assert!(
        second.to_string_lossy().ends_with("-efefefef-2.json"),
        "{}",
        second.display()
    );
    let listed = descope_mgmt::state::list_backups(&dir).unwrap();
    assert_eq!(
        listed.iter().map(|b| b.path.clone()).collect::<Vec<_>>(),
        [first.clone(), second]
    );
    assert_eq!(
        descope_mgmt::state::load_backup_at(&dir, &first).unwrap(),
        backup
    );
}

/// A lock object this tool did not write is never taken over or force-unlocked: it blocks, and
/// the errors say so.
#[test]
fn a_foreign_lock_object_blocks_and_is_left_to_a_person() {
    let Some(bucket) = crate::moto::Bucket::new("1s") else {
        return;
    };
    let dir = bucket.state(ENV);
    dir.store()
        .write(
            &dir.key("lock"),
            b"not json",
            descope_mgmt::state::WriteMode::Create,
        )
        .unwrap();
    let err = descope_mgmt::state::StateLock::acquire(&dir, Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is locked by another process"), "{err}");
    let err = descope_mgmt::state::StateLock::force_unlock(&dir, "0123456789abcdef")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a lock this tool wrote"), "{err}");
    assert_eq!(
        dir.store().read(&dir.key("lock")).unwrap().unwrap(),
        b"not json"
    );
}

/// The azure backend against Azurite: the lock (refusal naming the holder, release), the
/// compare-and-swap of state.json and the one-object-per-append logs, as on S3.
#[test]
fn on_azure_blob_the_lock_compare_and_swap_and_logs_hold_too() {
    let Some(container) = crate::azurite::Container::new() else {
        return;
    };
    let (a, b) = (container.state(ENV), container.state(ENV));
    let held = descope_mgmt::state::StateLock::acquire(&a, Default::default()).unwrap();
    let err = descope_mgmt::state::StateLock::acquire(&b, Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("locked by process {}", std::process::id())),
        "{err}"
    );
    assert!(
        err.contains(&format!("az://{}/team/{ENV}/lock", container.name)),
        "{err}"
    );
    drop(held);
    let held = descope_mgmt::state::StateLock::acquire(&b, Default::default()).unwrap();

    let mut mine = StateFile::load(&a).unwrap();
    let mut theirs = StateFile::load(&b).unwrap();
    theirs.project_id = Some("P2first".into());
    theirs.save(&b).unwrap();
    mine.project_id = Some("P2second".into());
    assert!(matches!(
        mine.save(&a).unwrap_err(),
        StateError::Conflict { .. }
    ));

    let digest = format!("sha256:{}", "ab".repeat(32));
    let entry = |op| descope_mgmt::state::JournalEntry {
        op,
        address: "tenant.acme".parse().unwrap(),
        event: descope_mgmt::state::JournalEvent::Started,
        at: "2026-01-31T12:00:00Z".parse().unwrap(),
    };
    let mut j = Journal::open(&b, &digest).unwrap();
    j.record(&entry(0)).unwrap();
    j.record(&entry(1)).unwrap();
    let s = Journal::read(&a, &digest).unwrap();
    assert_eq!(s.entries, 2);
    assert_eq!(
        b.store()
            .list(&b.journal_key(&digest).unwrap())
            .unwrap()
            .len(),
        2
    );
    drop(held);
    assert!(descope_mgmt::state::lock::read_holder(&a).is_none());
}
