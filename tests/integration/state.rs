//! The state directory as the apply executor and the `state`/`backup` commands see it:
//! real files in a temp dir per test, real OS locks, real child processes.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use descope_mgmt::model::Address;
use descope_mgmt::state::*;
use descope_mgmt::util::atomic::WriteOutcome;
use descope_mgmt::util::timestamp::Timestamp;
use serde_json::json;

use crate::util::TestEnv;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------------------
// state.json

#[test]
fn missing_state_file_is_an_empty_state() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let state = StateFile::load(&dir).unwrap();
    assert_eq!(state, StateFile::empty("prod"));
    assert!(!state.is_managed(&addr("tenant.acme")));
    assert!(!dir.path().exists(), "loading must not create anything");
}

#[test]
fn state_file_is_canonical_and_round_trips() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let mut state = StateFile::empty("prod");
    state.bind_project(&dir, "P2abc").unwrap();
    // Inserted out of order: the file must still list them sorted.
    state.set_managed(addr("tenant.acme"), "f-tenant", true);
    state.set_managed(addr("role.admin"), "f-role", false);
    state.mark_applied(DIGEST, ts("2026-01-31T12:00:00Z"));
    assert_eq!(state.save(&dir).unwrap(), WriteOutcome::Written);

    let text = fs::read_to_string(dir.state_file()).unwrap();
    let expected = format!(
        r#"{{
  "applied_plans": [
    {{
      "applied_at": "2026-01-31T12:00:00Z",
      "digest": "{DIGEST}"
    }}
  ],
  "environment": "prod",
  "format_version": 1,
  "project_id": "P2abc",
  "resources": {{
    "role.admin": {{
      "fingerprint": "f-role",
      "protect": false
    }},
    "tenant.acme": {{
      "fingerprint": "f-tenant",
      "protect": true
    }}
  }}
}}
"#
    );
    assert_eq!(text, expected);
    assert_eq!(StateFile::load(&dir).unwrap(), state);
    assert_eq!(state.save(&dir).unwrap(), WriteOutcome::Unchanged);
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.state_file()), 0o600);
        assert_eq!(mode(&dir.path()), 0o700);
    }
    let ignore = fs::read_to_string(dir.path().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "lock"), "{ignore}");
}

#[test]
fn managed_protected_forget_and_applied_plans() {
    let mut state = StateFile::empty("dev");
    let t = addr("tenant.acme");
    state.set_managed(t.clone(), "f1", true);
    assert!(state.is_managed(&t));
    assert!(state.protected(&t));
    assert!(!state.protected(&addr("tenant.other")));
    state.set_managed(t.clone(), "f2", false);
    assert!(
        !state.protected(&t),
        "an apply with protect: false clears it"
    );
    assert_eq!(state.get(&t).unwrap().fingerprint, "f2");
    assert_eq!(state.forget(&t).unwrap().fingerprint, "f2");
    assert!(!state.is_managed(&t));
    assert!(state.forget(&t).is_none());

    assert!(!state.was_applied(DIGEST));
    state.mark_applied(DIGEST, ts("2026-01-31T12:00:00Z"));
    state.mark_applied(DIGEST, ts("2026-02-01T12:00:00Z"));
    assert!(state.was_applied(DIGEST));
    assert_eq!(
        state.applied_plans.len(),
        1,
        "marking twice keeps the first"
    );
    assert_eq!(
        state.applied_plans[0].applied_at,
        ts("2026-01-31T12:00:00Z")
    );
}

#[test]
fn state_is_bound_to_one_project() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let mut state = StateFile::empty("prod");
    state.bind_project(&dir, "P-one").unwrap();
    state.bind_project(&dir, "P-one").unwrap();
    let err = state.bind_project(&dir, "P-two").unwrap_err().to_string();
    assert!(err.contains("P-one") && err.contains("P-two"), "{err}");
    assert!(err.contains("state.json"), "{err}");
    assert_eq!(state.project_id.as_deref(), Some("P-one"));
}

#[test]
fn corrupt_state_file_is_a_clear_error() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    dir.prepare().unwrap();

    fs::write(dir.state_file(), "{ not json").unwrap();
    let err = StateFile::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains(&dir.state_file().display().to_string()),
        "{err}"
    );
    assert!(err.contains("not a valid state file"), "{err}");
    assert!(err.contains("git checkout"), "says what to do: {err}");

    fs::write(
        dir.state_file(),
        r#"{"format_version": 1, "environment": "prod", "project_id": null,
            "resources": {"widget.x": {"fingerprint": "f", "protect": false}}, "applied_plans": []}"#,
    )
    .unwrap();
    let err = StateFile::load(&dir).unwrap_err().to_string();
    assert!(err.contains("unknown resource kind"), "{err}");

    fs::write(
        dir.state_file(),
        r#"{"format_version": 7, "environment": "prod", "something_new": true}"#,
    )
    .unwrap();
    let err = StateFile::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("format version 7") && err.contains("upgrade"),
        "{err}"
    );

    StateFile::empty("staging").save(&dir).unwrap();
    let err = StateFile::load(&dir).unwrap_err().to_string();
    assert!(err.contains("`staging`") && err.contains("`prod`"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// lock

#[test]
fn second_acquire_is_refused_naming_the_holder_until_the_first_is_dropped() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let first = StateLock::acquire(&dir, Duration::ZERO).unwrap();
    assert_eq!(first.holder().pid, std::process::id());
    assert!(dir.lock_holder_file().exists());

    // A separate open of the same file: flock treats it as a different holder.
    let err = StateLock::acquire(&dir, Duration::ZERO).unwrap_err();
    match &err {
        LockError::Held { holder, .. } => {
            let h = holder.as_ref().expect("holder details");
            assert_eq!(h.pid, std::process::id());
            assert_eq!(h.started_at, first.holder().started_at);
        }
        other => panic!("expected Held, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("process {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("environment `prod`"), "{msg}");
    assert!(msg.contains("--lock-timeout"), "says what to do: {msg}");
    assert!(msg.contains("already free"), "{msg}");

    drop(first);
    assert!(
        !dir.lock_holder_file().exists(),
        "holder details go with the lock"
    );
    let again = StateLock::acquire(&dir, Duration::ZERO).unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&dir.lock_file()), 0o600);
    drop(again);
}

#[test]
fn waiting_acquire_gives_up_after_the_timeout() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let _held = StateLock::acquire(&dir, Duration::from_millis(0)).unwrap();
    let timeout = Duration::from_millis(250);
    let start = Instant::now();
    let err = StateLock::acquire(&dir, timeout).unwrap_err();
    assert!(
        start.elapsed() >= timeout,
        "gave up after {:?}",
        start.elapsed()
    );
    assert!(err.to_string().contains("after waiting"), "{err}");
}

/// A python3 process holding `flock` on the lock file, as a stand-in for another descope-mgmt
/// (std's `File::lock` is `flock` on Linux, so the two must exclude each other). It prints
/// `locked` once it holds the lock, then holds it until killed or its stdin closes.
fn foreign_holder(lock_path: &Path) -> Child {
    let script = "import fcntl, sys\n\
                  f = open(sys.argv[1], 'a')\n\
                  fcntl.flock(f, fcntl.LOCK_EX)\n\
                  print('locked', flush=True)\n\
                  sys.stdin.read()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(lock_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the cross-process lock tests");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

#[test]
fn lock_held_by_another_process_is_released_when_it_is_killed() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    dir.prepare().unwrap();
    let mut child = foreign_holder(&dir.lock_file());

    let err = StateLock::acquire(&dir, Duration::ZERO).unwrap_err();
    assert!(
        matches!(&err, LockError::Held { holder: None, .. }),
        "the foreign holder wrote no details: {err:?}"
    );
    assert!(err.to_string().contains("left no details"), "{err}");

    // SIGKILL: no chance to clean up; the OS must release the lock anyway.
    child.kill().unwrap();
    child.wait().unwrap();
    StateLock::acquire(&dir, Duration::ZERO).expect("lock free once the holder died");
}

#[test]
fn waiting_acquire_gets_the_lock_when_the_holder_exits() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    dir.prepare().unwrap();
    let mut child = foreign_holder(&dir.lock_file());
    assert!(StateLock::acquire(&dir, Duration::ZERO).is_err());

    // Closing its stdin makes the holder exit; python needs far longer to notice and exit
    // than our first `try_lock` takes, so the acquire below is already waiting by then.
    let stdin = child.stdin.take().unwrap();
    let releaser = std::thread::spawn(move || drop(stdin));
    let lock = StateLock::acquire(&dir, Duration::from_secs(30));
    releaser.join().unwrap();
    child.wait().unwrap();
    assert!(lock.is_ok(), "{:?}", lock.err());
}

// ---------------------------------------------------------------------------------------------
// journal

fn entry(op: usize, address: &str, event: JournalEvent) -> JournalEntry {
    JournalEntry {
        op,
        address: addr(address),
        event,
        at: ts("2026-01-31T12:00:00Z"),
    }
}

#[test]
fn journal_tells_done_in_flight_failed_skipped_and_untouched() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    assert!(!Journal::exists(&dir, DIGEST).unwrap());
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    assert!(Journal::exists(&dir, DIGEST).unwrap());
    j.record(&entry(0, "permission.read", JournalEvent::Started))
        .unwrap();
    j.record(&entry(0, "permission.read", JournalEvent::Succeeded))
        .unwrap();
    j.record(&entry(1, "role.reader", JournalEvent::Started))
        .unwrap();
    j.record(&entry(2, "tenant.acme", JournalEvent::Started))
        .unwrap();
    j.record(&entry(
        2,
        "tenant.acme",
        JournalEvent::Failed {
            error: "E062108 duplicate name".into(),
        },
    ))
    .unwrap();
    j.record(&entry(
        3,
        "role.acme/viewer",
        JournalEvent::Skipped {
            because: addr("tenant.acme"),
        },
    ))
    .unwrap();
    j.record(&entry(5, "flow.x", JournalEvent::AlreadyDone))
        .unwrap();
    drop(j);

    let s = Journal::read(&dir, DIGEST).unwrap();
    assert_eq!(s.entries, 7);
    assert_eq!(s.torn_last_line, None);
    assert_eq!(s.status(0), OpStatus::Done);
    assert_eq!(s.status(1), OpStatus::InFlight);
    assert_eq!(
        s.status(2),
        OpStatus::Failed {
            error: "E062108 duplicate name".into()
        }
    );
    assert_eq!(
        s.status(3),
        OpStatus::Skipped {
            because: addr("tenant.acme")
        }
    );
    assert_eq!(s.status(4), OpStatus::Untouched);
    assert_eq!(s.status(5), OpStatus::Done);
    assert_eq!(s.ops[&2].address, addr("tenant.acme"));

    // docs/design.md §2: finished must match after, in flight before-or-after, the rest before.
    assert_eq!(s.status(0).expected_live(), ExpectedLive::After);
    assert_eq!(s.status(1).expected_live(), ExpectedLive::BeforeOrAfter);
    assert_eq!(s.status(2).expected_live(), ExpectedLive::BeforeOrAfter);
    assert_eq!(s.status(3).expected_live(), ExpectedLive::Before);
    assert_eq!(s.status(4).expected_live(), ExpectedLive::Before);
    assert!(s.is_unfinished(6));
    assert!(!s.all_done(6));
    assert!(s.all_done(1));
}

#[test]
fn a_resumed_apply_appends_and_the_last_event_wins() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    j.record(&entry(0, "tenant.acme", JournalEvent::Started))
        .unwrap();
    j.record(&entry(
        0,
        "tenant.acme",
        JournalEvent::Failed {
            error: "timeout".into(),
        },
    ))
    .unwrap();
    drop(j);
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    j.record(&entry(0, "tenant.acme", JournalEvent::Started))
        .unwrap();
    j.record(&entry(0, "tenant.acme", JournalEvent::AlreadyDone))
        .unwrap();
    let s = Journal::read(&dir, DIGEST).unwrap();
    assert_eq!(s.entries, 4);
    assert!(s.all_done(1));
    assert!(!s.is_unfinished(1));
    assert!(
        !Journal::read(&dir, "sha256:ffffffff")
            .unwrap()
            .is_unfinished(1),
        "never started"
    );
}

#[test]
fn journal_lines_have_the_documented_shape() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    j.record(&entry(
        3,
        "role.acme/viewer",
        JournalEvent::Skipped {
            because: addr("tenant.acme"),
        },
    ))
    .unwrap();
    j.record(&entry(4, "tenant.b", JournalEvent::Succeeded))
        .unwrap();
    let text = fs::read_to_string(j.path()).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"address":"role.acme/viewer","at":"2026-01-31T12:00:00Z","because":"tenant.acme","event":"skipped","op":3}"#,
            "\n",
            r#"{"address":"tenant.b","at":"2026-01-31T12:00:00Z","event":"succeeded","op":4}"#,
            "\n"
        )
    );
    assert_eq!(
        j.path(),
        dir.journal_dir()
            .join("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.jsonl")
    );
    #[cfg(unix)]
    assert_eq!(mode(j.path()), 0o600);
}

#[test]
fn a_torn_last_line_is_tolerated_reported_and_trimmed_on_open() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    j.record(&entry(0, "tenant.a", JournalEvent::Started))
        .unwrap();
    j.record(&entry(0, "tenant.a", JournalEvent::Succeeded))
        .unwrap();
    let path = j.path().to_path_buf();
    drop(j);
    // A crash in the middle of writing the third line.
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(br#"{"address":"tenant.b","at":"2026-01-3"#)
        .unwrap();

    let s = Journal::read(&dir, DIGEST).unwrap();
    assert_eq!(s.torn_last_line, Some(3));
    assert_eq!(s.entries, 2);
    assert_eq!(s.status(0), OpStatus::Done);
    assert_eq!(s.status(1), OpStatus::Untouched);

    let mut j = Journal::open(&dir, DIGEST).unwrap();
    assert!(j.trimmed_torn_line());
    j.record(&entry(1, "tenant.b", JournalEvent::Started))
        .unwrap();
    let s = Journal::read(&dir, DIGEST).unwrap();
    assert_eq!(
        s.torn_last_line, None,
        "new lines are not glued onto the fragment"
    );
    assert_eq!(s.entries, 3);
    assert_eq!(s.status(1), OpStatus::InFlight);
}

#[test]
fn a_complete_last_line_without_its_newline_is_kept() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let path = dir.journal_file(DIGEST).unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        &path,
        r#"{"address":"tenant.a","at":"2026-01-31T12:00:00Z","event":"started","op":0}"#,
    )
    .unwrap();
    assert_eq!(
        Journal::read(&dir, DIGEST).unwrap().status(0),
        OpStatus::InFlight
    );
    let mut j = Journal::open(&dir, DIGEST).unwrap();
    assert!(!j.trimmed_torn_line());
    j.record(&entry(0, "tenant.a", JournalEvent::Succeeded))
        .unwrap();
    let s = Journal::read(&dir, DIGEST).unwrap();
    assert_eq!((s.entries, s.status(0)), (2, OpStatus::Done));
}

#[test]
fn a_damaged_line_before_the_last_is_an_error_naming_file_and_line() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let path = dir.journal_file(DIGEST).unwrap();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let good = r#"{"address":"tenant.a","at":"2026-01-31T12:00:00Z","event":"started","op":0}"#;
    fs::write(&path, format!("{good}\nGARBAGE\n{good}\n")).unwrap();
    let err = Journal::read(&dir, DIGEST).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(
        Journal::open(&dir, DIGEST).is_err(),
        "never append after damage"
    );

    // The same operation under two addresses means the journal is not this plan's.
    let other = good.replace("tenant.a", "tenant.b");
    fs::write(&path, format!("{good}\n{other}\n")).unwrap();
    let err = Journal::read(&dir, DIGEST).unwrap_err().to_string();
    assert!(
        err.contains("operation 0 is tenant.b") && err.contains("tenant.a"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// backups

fn sample_backup(at: &str) -> Backup {
    let mut b = Backup::new(
        "prod",
        "P2abc",
        DIGEST,
        vec![
            BackedUpResource {
                address: addr("tenant.acme"),
                object: json!({"id": "acme", "name": "Acme", "customAttributes": {"tier": "gold"}}),
            },
            BackedUpResource {
                address: addr("role.admin"),
                object: json!({"name": "admin", "permissionNames": ["read"]}),
            },
        ],
    );
    b.created_at = ts(at);
    b
}

#[test]
fn backup_is_written_in_the_documented_format_and_loads_back() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let b = sample_backup("2026-01-31T12:00:00Z");
    let path = write_backup(&dir, &b).unwrap();
    assert_eq!(
        path,
        dir.backups_dir().join("20260131T120000Z-01234567.json")
    );
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    let raw: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(raw["format"], "descope-mgmt-backup");
    assert_eq!(raw["format_version"], 1);
    assert_eq!(raw["created_at"], "2026-01-31T12:00:00Z");
    assert_eq!(raw["environment"], "prod");
    assert_eq!(raw["project_id"], "P2abc");
    assert_eq!(raw["plan_digest"], DIGEST);
    assert_eq!(
        raw["resources"][0]["address"], "role.admin",
        "sorted by address"
    );
    assert_eq!(
        raw["resources"][1]["object"]["customAttributes"]["tier"],
        "gold"
    );

    assert_eq!(load_backup(&path).unwrap(), b);
}

#[test]
fn backups_are_listed_oldest_first_and_never_overwritten() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let later = write_backup(&dir, &sample_backup("2026-02-01T00:00:00Z")).unwrap();
    let earlier = write_backup(&dir, &sample_backup("2026-01-01T00:00:00Z")).unwrap();
    let same_second = write_backup(&dir, &sample_backup("2026-01-01T00:00:00Z")).unwrap();
    assert_ne!(earlier, same_second);
    assert!(
        same_second.to_string_lossy().ends_with("-01234567-2.json"),
        "{}",
        same_second.display()
    );
    // Debris of an interrupted write is not a backup.
    fs::write(dir.backups_dir().join(".x.json.1.0.tmp"), "{").unwrap();

    let list = list_backups(&dir).unwrap();
    let paths: Vec<_> = list.iter().map(|s| s.path.clone()).collect();
    assert_eq!(paths, [earlier, same_second, later]);
    assert_eq!(list[0].environment, "prod");
    assert_eq!(list[0].plan_digest, DIGEST);
    assert_eq!(list[0].addresses, [addr("role.admin"), addr("tenant.acme")]);
    assert_eq!(list[2].created_at, ts("2026-02-01T00:00:00Z"));

    assert!(list_backups(&tmp.state("empty")).unwrap().is_empty());
}

#[test]
fn damaged_or_foreign_backups_are_clear_errors() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let path = write_backup(&dir, &sample_backup("2026-01-31T12:00:00Z")).unwrap();
    let good = fs::read_to_string(&path).unwrap();

    let bad = dir.backups_dir().join("bad.json");
    fs::write(&bad, "[1, 2").unwrap();
    let err = list_backups(&dir).unwrap_err().to_string();
    assert!(
        err.contains("bad.json") && err.contains("not a valid backup"),
        "{err}"
    );

    fs::write(&bad, r#"{"format": "something-else", "format_version": 1}"#).unwrap();
    let err = load_backup(&bad).unwrap_err().to_string();
    assert!(err.contains("descope-mgmt-backup"), "{err}");

    fs::write(
        &bad,
        good.replace("\"format_version\": 1", "\"format_version\": 2"),
    )
    .unwrap();
    let err = load_backup(&bad).unwrap_err().to_string();
    assert!(err.contains("upgrade descope-mgmt"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// audit log

fn change(address: &str, result: ChangeResult, error: Option<&str>) -> AuditChange {
    AuditChange {
        address: addr(address),
        action: "update".into(),
        result,
        duration_ms: 42,
        error: error.map(str::to_string),
    }
}

#[test]
fn audit_log_appends_one_line_per_apply_with_totals() {
    let tmp = TestEnv::new();
    let dir = tmp.state("prod");
    let who = Identity {
        user: "Ada <ada@example.com>".into(),
        git_commit: Some("abc123".into()),
    };
    let first = AuditRecord::new(
        who.clone(),
        "prod",
        "P2abc",
        DIGEST,
        vec![
            change("tenant.a", ChangeResult::Succeeded, None),
            change(
                "tenant.b",
                ChangeResult::Failed,
                Some("E011002 bad request"),
            ),
            change("role.b/x", ChangeResult::Skipped, None),
            change("role.c", ChangeResult::AlreadyDone, None),
        ],
    );
    append_audit(&dir, &first).unwrap();
    let second = AuditRecord::new(
        Identity {
            user: "ci".into(),
            git_commit: None,
        },
        "prod",
        "P2abc",
        DIGEST,
        vec![],
    );
    append_audit(&dir, &second).unwrap();

    let text = fs::read_to_string(dir.audit_file()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["user"], "Ada <ada@example.com>");
    assert_eq!(line["git_commit"], "abc123");
    assert_eq!(line["plan_digest"], DIGEST);
    assert_eq!(
        line["totals"],
        json!({"succeeded": 1, "failed": 1, "skipped": 1, "already_done": 1, "not_run": 0})
    );
    assert_eq!(line["changes"][1]["error"], "E011002 bad request");
    assert_eq!(line["changes"][1]["duration_ms"], 42);
    assert!(
        line["changes"][0].get("error").is_none(),
        "no error key on success"
    );
    let second_line: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert!(second_line["git_commit"].is_null());

    assert_eq!(
        read_audit(&dir).unwrap(),
        vec![first.clone(), second.clone()]
    );
    #[cfg(unix)]
    assert_eq!(mode(&dir.audit_file()), 0o600);

    // A crash mid-append leaves a fragment: reading skips it, the next append replaces it.
    fs::OpenOptions::new()
        .append(true)
        .open(dir.audit_file())
        .unwrap()
        .write_all(br#"{"at":"2026-"#)
        .unwrap();
    assert_eq!(read_audit(&dir).unwrap().len(), 2);
    append_audit(&dir, &second).unwrap();
    assert_eq!(
        read_audit(&dir).unwrap(),
        vec![first, second.clone(), second]
    );
}

fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn identity_comes_from_git_inside_a_repository() {
    let tmp = TestEnv::new();
    let repo = tmp.root();
    git(repo, &["init", "-q"]);
    git(repo, &["config", "user.name", "Ada Lovelace"]);
    git(repo, &["config", "user.email", "ada@example.com"]);
    git(repo, &["config", "commit.gpgsign", "false"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let head = git(repo, &["rev-parse", "HEAD"]);

    let who = Identity::discover(repo);
    assert_eq!(who.user, "Ada Lovelace <ada@example.com>");
    assert_eq!(who.git_commit.as_deref(), Some(head.as_str()));

    let outside = TestEnv::new();
    assert_eq!(Identity::discover(outside.root()).git_commit, None);
}
