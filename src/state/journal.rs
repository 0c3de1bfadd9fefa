//! `journal/<plan-digest>.jsonl`: one line when each operation of a plan starts and one when it
//! ends, so an interrupted apply can be resumed knowing exactly which operations were done,
//! which were in flight, and which were never touched (docs/design.md §2 "Resume and one use").
//!
//! It is appended to instead of replaced: on a local disk each line is written with a single
//! `write` and fsynced before the operation proceeds, so a crash can leave at most a torn
//! *last* line, which reading tolerates (and reports) and opening trims. On object storage
//! each line is an object of its own, which the store reads back in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dir::digest_file_stem;
use super::{StateDir, StateError};
use crate::model::Address;
use crate::util::json::to_canonical_line;
use crate::util::jsonl::TailRepair;
use crate::util::timestamp::Timestamp;

const HINT: &str = "Only the last line can be torn by a crash; a damaged line before it means \
    the file was edited. Restore it, or move it aside to treat the plan as never started \
    (then plan again, since the live objects may no longer match the plan)";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// The operation's index in the plan's list of changes.
    pub op: usize,
    pub address: Address,
    #[serde(flatten)]
    pub event: JournalEvent,
    pub at: Timestamp,
}

impl JournalEntry {
    pub fn now(op: usize, address: Address, event: JournalEvent) -> Self {
        JournalEntry {
            op,
            address,
            event,
            at: Timestamp::now(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JournalEvent {
    /// Written before the request is sent.
    Started,
    Succeeded,
    /// The live object already matched `after` (a resumed or ambiguous write that had landed).
    AlreadyDone,
    /// `error` is the message shown to the user; callers never put secret values in it.
    Failed {
        error: String,
    },
    /// Not attempted because the operation it depends on failed.
    Skipped {
        because: Address,
    },
}

/// What the journal says about one operation, from its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpStatus {
    /// Never mentioned: the live object must still match the plan's `before`.
    Untouched,
    /// Started, with no end recorded: the write may or may not have landed.
    InFlight,
    /// Succeeded or already done: the live object must match `after`.
    Done,
    Failed {
        error: String,
    },
    Skipped {
        because: Address,
    },
}

/// Which of the plan's snapshots the live object may match when resuming (docs/design.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedLive {
    Before,
    After,
    BeforeOrAfter,
}

impl OpStatus {
    pub fn is_done(&self) -> bool {
        matches!(self, OpStatus::Done)
    }

    /// A failed operation counts like one in flight: a failure after an ambiguous error
    /// (timeout, dropped connection) may have landed even though we recorded it as failed.
    pub fn expected_live(&self) -> ExpectedLive {
        match self {
            OpStatus::Done => ExpectedLive::After,
            OpStatus::InFlight | OpStatus::Failed { .. } => ExpectedLive::BeforeOrAfter,
            OpStatus::Untouched | OpStatus::Skipped { .. } => ExpectedLive::Before,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub address: Address,
    pub status: OpStatus,
}

/// Everything a journal file says, folded per operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JournalSummary {
    pub path: PathBuf,
    /// Operations mentioned in the journal, by index.
    pub ops: BTreeMap<usize, OpRecord>,
    /// The 1-based line number of a torn last line that was ignored (a crash mid-write).
    pub torn_last_line: Option<usize>,
    pub entries: usize,
}

impl JournalSummary {
    pub fn status(&self, op: usize) -> OpStatus {
        self.ops
            .get(&op)
            .map(|r| r.status.clone())
            .unwrap_or(OpStatus::Untouched)
    }

    /// True when every one of the plan's `op_count` operations is done.
    pub fn all_done(&self, op_count: usize) -> bool {
        (0..op_count).all(|op| self.status(op).is_done())
    }

    /// True when an apply of this plan began (anything was recorded) and did not finish all
    /// `op_count` operations: the next apply of the plan is a resume.
    pub fn is_unfinished(&self, op_count: usize) -> bool {
        self.entries > 0 && !self.all_done(op_count)
    }
}

/// An open journal, appended to line by line.
#[derive(Debug)]
pub struct Journal {
    dir: StateDir,
    key: String,
    path: PathBuf,
    trimmed_torn_line: bool,
}

impl Journal {
    /// Opens (creating if needed) the journal of `plan_digest`. A torn last line left by a
    /// crash is trimmed first, so new lines never get glued onto it.
    pub fn open(dir: &StateDir, plan_digest: &str) -> Result<Journal, StateError> {
        let path = dir.journal_file(plan_digest)?;
        let key = dir.journal_key(plan_digest)?;
        dir.prepare()?;
        let trimmed_torn_line = match dir.store().read_log(&key)? {
            Some(bytes) => {
                // Damage before the last line is refused here, before anything is appended.
                parse(&path, &bytes)?;
                let valid = |line: &str| serde_json::from_str::<JournalEntry>(line).is_ok();
                dir.store().repair_log(&key, &valid)? == TailRepair::Trimmed
            }
            None => {
                // On a local disk the file exists from now on (fsynced into its directory), so
                // a crash before the first line still shows the apply began.
                dir.store().append(&key, b"")?;
                false
            }
        };
        Ok(Journal {
            dir: dir.clone(),
            key,
            path,
            trimmed_torn_line,
        })
    }

    /// Appends one line durably before returning: once `record(Started)` returns, a crash
    /// cannot lose the fact that the operation may have been sent.
    pub fn record(&mut self, entry: &JournalEntry) -> Result<(), StateError> {
        let mut line = to_canonical_line(entry).map_err(|e| {
            StateError::corrupt(
                &self.path,
                "journal entry",
                e,
                "this is a bug; please report it",
            )
        })?;
        line.push('\n');
        self.dir.store().append(&self.key, line.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `open` removed a torn last line left by a crash (worth a warning).
    pub fn trimmed_torn_line(&self) -> bool {
        self.trimmed_torn_line
    }

    /// The digests (hex, as in the file names) of every journal in `dir`, sorted, so `apply`
    /// can point out plans whose apply never finished.
    pub fn list(dir: &StateDir) -> Result<Vec<String>, StateError> {
        let mut out = Vec::new();
        for name in dir.store().list(&dir.key("journal"))? {
            if let Some(stem) = name.strip_suffix(".jsonl") {
                if digest_file_stem(stem).is_ok() {
                    out.push(stem.to_string());
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn exists(dir: &StateDir, plan_digest: &str) -> Result<bool, StateError> {
        Ok(dir
            .store()
            .read_log(&dir.journal_key(plan_digest)?)?
            .is_some())
    }

    /// Reads the journal of `plan_digest`; a missing journal is an empty summary (the plan was
    /// never started).
    pub fn read(dir: &StateDir, plan_digest: &str) -> Result<JournalSummary, StateError> {
        let path = dir.journal_file(plan_digest)?;
        let text = match dir.store().read_log(&dir.journal_key(plan_digest)?)? {
            Some(bytes) => bytes,
            None => {
                return Ok(JournalSummary {
                    path,
                    ..Default::default()
                })
            }
        };
        let parsed = parse(&path, &text)?;
        let mut summary = JournalSummary {
            path,
            torn_last_line: parsed.torn_line,
            entries: parsed.entries.len(),
            ..Default::default()
        };
        for (line_no, entry) in parsed.entries {
            let status = match entry.event {
                JournalEvent::Started => OpStatus::InFlight,
                JournalEvent::Succeeded | JournalEvent::AlreadyDone => OpStatus::Done,
                JournalEvent::Failed { error } => OpStatus::Failed { error },
                JournalEvent::Skipped { because } => OpStatus::Skipped { because },
            };
            match summary.ops.get_mut(&entry.op) {
                Some(record) if record.address != entry.address => {
                    return Err(StateError::corrupt(
                        &summary.path,
                        "journal",
                        format!(
                            "line {line_no} says operation {} is {}, but earlier lines say {}",
                            entry.op, entry.address, record.address
                        ),
                        HINT,
                    ));
                }
                Some(record) => record.status = status,
                None => {
                    summary.ops.insert(
                        entry.op,
                        OpRecord {
                            address: entry.address,
                            status,
                        },
                    );
                }
            }
        }
        Ok(summary)
    }
}

struct Parsed {
    /// (1-based line number, entry)
    entries: Vec<(usize, JournalEntry)>,
    torn_line: Option<usize>,
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, StateError> {
    let mut parsed = Parsed {
        entries: Vec::new(),
        torn_line: None,
    };
    let mut offset = 0;
    let mut line_no = 0;
    while offset < bytes.len() {
        line_no += 1;
        let (line, next) = match bytes[offset..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[offset..offset + i], offset + i + 1),
            None => (&bytes[offset..], bytes.len()),
        };
        let is_last = next >= bytes.len();
        let entry = std::str::from_utf8(line)
            .ok()
            .and_then(|s| serde_json::from_str::<JournalEntry>(s).ok());
        match entry {
            // A complete entry whose newline was lost is still a fact worth keeping.
            Some(e) => parsed.entries.push((line_no, e)),
            _ if is_last => parsed.torn_line = Some(line_no),
            _ => {
                let detail = match std::str::from_utf8(line) {
                    Ok(s) => match serde_json::from_str::<JournalEntry>(s) {
                        Err(e) => format!("line {line_no}: {e}"),
                        Ok(_) => format!("line {line_no} is damaged"),
                    },
                    Err(_) => format!("line {line_no} is not UTF-8"),
                };
                return Err(StateError::corrupt(path, "journal", detail, HINT));
            }
        }
        offset = next;
    }
    Ok(parsed)
}
