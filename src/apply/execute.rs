//! The executor: runs a verified plan's changes in dependency order, up to `parallelism` at
//! once, batching ready role and permission operations where Descope has batch endpoints,
//! journaling each operation's start and end before moving on (docs/design.md §2).
//!
//! 1. Build a dependency queue of the plan's changes; operations a previous run finished
//!    (verified live) succeed at once.
//! 2. Take ready operations, group them into batches, start them while capacity allows.
//! 3. As each finishes, journal it and release or skip its dependents.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use super::readback::EffectCheck;
use crate::api::gateway::{Gateway, NoCheck, OutcomeCheck, Turn, WriteOutcome};
use crate::api::{ApiError, ApiErrorKind, ApiRequest};
use crate::model::Address;
use crate::plan::{Action, Change, PlanFile};
use crate::resource::desired::SecretField;
use crate::state::journal::{Journal, JournalEntry, JournalEvent};
use crate::util::dependency_queue::{DependencyQueue, Outcome};
use crate::util::interrupt::Interrupt;

/// How one operation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum OpOutcome {
    Succeeded,
    /// The live project already showed the change (resume, or an ambiguous write that landed).
    AlreadyDone,
    Failed {
        message: String,
        error_code: Option<String>,
        status: Option<u16>,
    },
    Skipped {
        because: Address,
    },
    /// Not sent because the apply was interrupted (Ctrl-C) first, including operations that
    /// were waiting for the request budget; a re-run does it.
    NotRun,
}

impl OpOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, OpOutcome::Succeeded | OpOutcome::AlreadyDone)
    }
}

#[derive(Debug, Clone)]
pub struct OpResult {
    pub id: usize,
    pub address: Address,
    pub action: Action,
    pub outcome: OpOutcome,
    pub duration: Duration,
}

/// What the executor tells the terminal as it goes.
pub trait Progress: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, result: &OpResult);
}

pub struct NoProgress;

impl Progress for NoProgress {
    fn started(&self, _: &Change) {}
    fn finished(&self, _: &OpResult) {}
}

pub struct ExecOptions {
    /// Where secrets Descope hands out once go (`--access-key-out`); `None` when the plan has
    /// none (apply refuses a plan that has some without it).
    pub issued: Option<Arc<dyn IssuedSecrets>>,
    pub parallelism: usize,
    /// Most members in one batch request.
    pub max_batch: usize,
    /// Triggered (by a Ctrl-C handler) to send nothing new: requests already sent finish and
    /// are journaled, operations not yet sent (queued on the budget included) are reported as
    /// not run, and a re-run of the plan completes it.
    pub interrupt: Option<Interrupt>,
    /// Notified once the first request of every operation this run sends is out: an apply
    /// that only creates reads its result back while the last answers are on their way
    /// (`ops::apply`, docs/reliability.md).
    pub all_sent: Option<Arc<tokio::sync::Notify>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            issued: None,
            parallelism: 8,
            max_batch: 50,
            interrupt: None,
            all_sent: None,
        }
    }
}

/// The one place a secret Descope hands out once (a new access key's cleartext) may go.
pub trait IssuedSecrets: Send + Sync {
    /// Keep `secret`, issued for `address`, durably; `Err` says why it could not be.
    fn keep(&self, address: &Address, secret: &str) -> Result<(), String>;
    /// Where the secret of `address` goes, for messages.
    fn place(&self, address: &Address) -> String;
}

/// Resolves secret stand-ins in the bodies about to be sent, only where the configuration
/// declares them.
pub type SecretResolver = Arc<super::secrets::SecretPolicy>;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("the plan's dependencies form a cycle: {0}")]
    Cycle(String),
    #[error("cannot write the journal: {0}")]
    Journal(String),
}

struct Shared {
    gateway: Gateway,
    journal: Mutex<Journal>,
    secrets: SecretResolver,
    secret_fields: Vec<SecretField>,
    progress: Arc<dyn Progress>,
    stop: Interrupt,
    issued: Option<Arc<dyn IssuedSecrets>>,
    /// Operations of this run not yet begun, and who is told when none are left.
    unsent: std::sync::atomic::AtomicUsize,
    all_sent: Option<Arc<tokio::sync::Notify>>,
}

impl Shared {
    fn journal(&self, op: usize, address: &Address, event: JournalEvent) -> Result<(), ExecError> {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        j.record(&JournalEntry::now(op, address.clone(), event))
            .map_err(|e| ExecError::Journal(e.to_string()))
    }
}

pub async fn execute(
    plan: &PlanFile,
    gateway: Gateway,
    journal: Journal,
    already_done: &BTreeSet<usize>,
    secrets: SecretResolver,
    progress: Arc<dyn Progress>,
    opts: &ExecOptions,
) -> Result<Vec<OpResult>, ExecError> {
    let mut builder = DependencyQueue::builder();
    for c in &plan.changes {
        builder.enqueue(c.id, c.depends_on.iter().copied(), c.clone());
    }
    let mut queue = builder
        .build()
        .map_err(|e| ExecError::Cycle(e.to_string()))?;
    let shared = Arc::new(Shared {
        gateway,
        journal: Mutex::new(journal),
        secrets,
        secret_fields: super::readback::secret_fields_of(&plan.changes),
        progress,
        stop: opts.interrupt.clone().unwrap_or_default(),
        issued: opts.issued.clone(),
        unsent: std::sync::atomic::AtomicUsize::new(
            plan.changes
                .iter()
                .filter(|c| !already_done.contains(&c.id))
                .count(),
        ),
        all_sent: opts.all_sent.clone(),
    });
    let mut results: BTreeMap<usize, OpResult> = BTreeMap::new();
    let mut pending: Vec<Change> = Vec::new();
    let mut running: JoinSet<UnitResult> = JoinSet::new();
    let parallelism = opts.parallelism.max(1);

    loop {
        // Finished in an earlier run: confirmed live by verification, nothing to send.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for (id, change) in queue.ready() {
                if already_done.contains(&id) {
                    let r = OpResult {
                        id,
                        address: change.address.clone(),
                        action: change.action,
                        outcome: OpOutcome::AlreadyDone,
                        duration: Duration::ZERO,
                    };
                    shared.progress.finished(&r);
                    results.insert(id, r);
                    let _ = queue.finish(&id, Outcome::Succeeded);
                    progressed = true;
                } else {
                    pending.push(change);
                }
            }
        }

        // A unit is journaled as started only once its turn on the budget came and its first
        // request is about to be sent (`begin`), so an interrupt leaves queued units untouched.
        while !shared.stop.is_triggered() && running.len() < parallelism && !pending.is_empty() {
            let unit = take_unit(&mut pending, opts.max_batch);
            let shared = shared.clone();
            running.spawn(async move { run_unit(&shared, unit).await });
        }

        let Some(joined) = running.join_next().await else {
            break;
        };
        let finished = match joined {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => return Err(e),
            // A panicking task is a bug; its operations stay "in flight" in the journal, which
            // is exactly what the next run must assume about them.
            Err(e) => {
                return Err(ExecError::Journal(format!(
                    "an operation task stopped unexpectedly: {e}"
                )))
            }
        };
        for (change, outcome, duration) in finished {
            let event = match &outcome {
                OpOutcome::Succeeded => JournalEvent::Succeeded,
                OpOutcome::AlreadyDone => JournalEvent::AlreadyDone,
                OpOutcome::Failed { message, .. } => JournalEvent::Failed {
                    error: message.clone(),
                },
                OpOutcome::Skipped { because } => JournalEvent::Skipped {
                    because: because.clone(),
                },
                OpOutcome::NotRun => continue,
            };
            shared.journal(change.id, &change.address, event)?;
            let result = OpResult {
                id: change.id,
                address: change.address.clone(),
                action: change.action,
                outcome: outcome.clone(),
                duration,
            };
            shared.progress.finished(&result);
            results.insert(change.id, result);
            let q = if outcome.is_success() {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            };
            let skipped = queue.finish(&change.id, q).unwrap_or_default();
            for s in skipped {
                let because = plan.changes[s.because].address.clone();
                shared.journal(
                    s.key,
                    &s.value.address,
                    JournalEvent::Skipped {
                        because: because.clone(),
                    },
                )?;
                let r = OpResult {
                    id: s.key,
                    address: s.value.address.clone(),
                    action: s.value.action,
                    outcome: OpOutcome::Skipped { because },
                    duration: Duration::ZERO,
                };
                shared.progress.finished(&r);
                results.insert(s.key, r);
            }
        }
    }
    // Whatever never started (an interrupt) is reported, not journaled: the journal says
    // "untouched", which is what a re-run must assume.
    for c in &plan.changes {
        results.entry(c.id).or_insert_with(|| OpResult {
            id: c.id,
            address: c.address.clone(),
            action: c.action,
            outcome: OpOutcome::NotRun,
            duration: Duration::ZERO,
        });
    }
    Ok(results.into_values().collect())
}

/// The next unit of work: a batch of like operations (same batch endpoint and shared keys),
/// or one operation.
fn take_unit(pending: &mut Vec<Change>, max_batch: usize) -> Vec<Change> {
    let first = pending.remove(0);
    let Some(key) = first
        .op
        .batch_key()
        .map(|(p, s)| (p.to_string(), s.clone()))
    else {
        return vec![first];
    };
    let mut unit = vec![first];
    let mut i = 0;
    while i < pending.len() && unit.len() < max_batch {
        let same = pending[i]
            .op
            .batch_key()
            .is_some_and(|(p, s)| p == key.0 && *s == key.1);
        if same {
            unit.push(pending.remove(i));
        } else {
            i += 1;
        }
    }
    unit
}

type UnitResult = Result<Vec<(Change, OpOutcome, Duration)>, ExecError>;

async fn run_unit(shared: &Shared, unit: Vec<Change>) -> UnitResult {
    let start = Instant::now();
    if unit.len() > 1 {
        match run_batch(shared, &unit).await? {
            Batched::Done(outcomes) => {
                let d = start.elapsed();
                return Ok(unit
                    .into_iter()
                    .zip(outcomes)
                    .map(|(c, o)| (c, o, d))
                    .collect());
            }
            Batched::NotSent => {
                return Ok(unit
                    .into_iter()
                    .map(|c| (c, OpOutcome::NotRun, Duration::ZERO))
                    .collect())
            }
            // The batch failed as one transaction: nothing of it happened, so each member is
            // tried on its own, and only the one Descope refuses fails.
            Batched::OneByOne => {}
        }
    }
    let mut out = Vec::with_capacity(unit.len());
    for c in unit {
        let t = Instant::now();
        let outcome = run_single(shared, &c).await?;
        out.push((c, outcome, t.elapsed()));
    }
    Ok(out)
}

/// Waits for the turn of a unit's first request; `None` when interrupted before it came (then
/// nothing was sent or journaled). Otherwise the unit is journaled as started and shown.
async fn begin(shared: &Shared, unit: &[Change]) -> Result<Option<Turn>, ExecError> {
    let Some(turn) = shared.gateway.reserve(&shared.stop).await else {
        return Ok(None);
    };
    for c in unit {
        shared.journal(c.id, &c.address, JournalEvent::Started)?;
        shared.progress.started(c);
    }
    let left = shared
        .unsent
        .fetch_sub(unit.len(), std::sync::atomic::Ordering::AcqRel)
        .saturating_sub(unit.len());
    if left == 0 {
        if let Some(n) = &shared.all_sent {
            n.notify_one();
        }
    }
    Ok(Some(turn))
}

fn failed(e: &ApiError) -> OpOutcome {
    OpOutcome::Failed {
        message: e.to_string(),
        error_code: e.error_code().map(str::to_string),
        status: e.status(),
    }
}

fn unmasked(shared: &Shared, c: &Change, v: &Value) -> Result<Value, OpOutcome> {
    shared
        .secrets
        .unmask(&c.address, v)
        .map_err(|refusal| OpOutcome::Failed {
            message: refusal.to_string(),
            error_code: None,
            status: None,
        })
}

/// The requests of one change, as planned, with secrets resolved: (request, checked, deletes).
fn requests(shared: &Shared, c: &Change) -> Result<Vec<(ApiRequest, bool, bool)>, OpOutcome> {
    let address = c.address.to_string();
    let mut out = Vec::with_capacity(c.op.steps.len());
    for step in &c.op.steps {
        let mut req = step.request(&address).map_err(|e| failed(&e))?;
        if let Some(b) = &req.body {
            req.body = Some(unmasked(shared, c, b)?);
        }
        out.push((req, step.checked, step.deletes));
    }
    if out.is_empty() {
        return Err(OpOutcome::Failed {
            message: format!("{address}: the plan holds no request for this change; plan again"),
            error_code: None,
            status: None,
        });
    }
    Ok(out)
}

async fn run_single(shared: &Shared, c: &Change) -> Result<OpOutcome, ExecError> {
    let reqs = match requests(shared, c) {
        Ok(r) => r,
        Err(outcome) => return Ok(outcome),
    };
    let check = EffectCheck {
        change: c,
        secret_fields: &shared.secret_fields,
    };
    // Only the first request may be given up: a later one (a replace's create after its
    // delete) finishes what was already begun on the wire.
    let Some(turn) = begin(shared, std::slice::from_ref(c)).await? else {
        return Ok(OpOutcome::NotRun);
    };
    let mut turn = Some(turn);
    let mut already = false;
    // The previous step's answer, for a step that names what it was given.
    let mut previous: Option<Value> = None;
    for ((mut req, checked, is_delete), step) in reqs.into_iter().zip(&c.op.steps) {
        if let Some(pointer) = &step.id_from_previous {
            let id = previous
                .as_ref()
                .and_then(|v| v.pointer(pointer))
                .and_then(Value::as_str);
            match (id, req.body.as_mut().and_then(Value::as_object_mut)) {
                (Some(id), Some(body)) => {
                    body.insert("id".into(), Value::from(id));
                }
                _ => {
                    return Ok(OpOutcome::Failed {
                        message: format!(
                            "{}: the previous request's answer holds no id at {pointer}, so {} \
                             was not sent",
                            c.address, step.path
                        ),
                        error_code: None,
                        status: None,
                    })
                }
            }
        }
        let check: &dyn OutcomeCheck = if checked { &check } else { &NoCheck };
        let result = match turn.take() {
            Some(turn) => shared.gateway.write_reserved(turn, req, check).await,
            None => shared.gateway.write(req, check).await,
        };
        match result {
            Ok(WriteOutcome::Applied(answer)) => {
                if let Some(pointer) = &step.issues_secret {
                    if let Err(outcome) = keep_issued(shared, c, &answer, pointer) {
                        return Ok(outcome);
                    }
                }
                previous = Some(answer);
            }
            // The object exists, but the answer that carried its one-time secret never came.
            Ok(WriteOutcome::AlreadyDone) if step.issues_secret.is_some() => {
                return Ok(lost_secret(c, "its answer was lost in transit"));
            }
            Ok(WriteOutcome::AlreadyDone) => already = true,
            // Deleting what is already gone is the goal reached (a resumed run, or a retry of
            // a delete that landed).
            Err(e) if is_delete && e.is_not_found() => already = true,
            Err(e) => return Ok(failed(&e)),
        }
    }
    Ok(if already && c.action != Action::Replace {
        OpOutcome::AlreadyDone
    } else {
        OpOutcome::Succeeded
    })
}

/// Hands the secret in `answer` to the output the user named, before the step counts as done.
/// The object exists either way: a failure says so, naming it and the way to a new secret.
fn keep_issued(
    shared: &Shared,
    c: &Change,
    answer: &Value,
    pointer: &str,
) -> Result<(), OpOutcome> {
    let Some(secret) = answer.pointer(pointer).and_then(Value::as_str) else {
        return Err(lost_secret(c, "Descope's answer carried none"));
    };
    let Some(out) = &shared.issued else {
        return Err(lost_secret(c, "no output for it was given"));
    };
    out.keep(&c.address, secret)
        .map_err(|why| OpOutcome::Failed {
            message: format!(
                "{address} WAS CREATED, BUT ITS SECRET COULD NOT BE WRITTEN to {place}: {why}. \
             Descope shows it only once; run `descope-mgmt access-key rotate {name} --out FILE` \
             for a new one",
                address = c.address,
                place = out.place(&c.address),
                name = c.address.key(),
            ),
            error_code: None,
            status: None,
        })
}

fn lost_secret(c: &Change, why: &str) -> OpOutcome {
    OpOutcome::Failed {
        message: format!(
            "{address} exists, but its one-time secret was not received ({why}); run \
             `descope-mgmt access-key rotate {name} --out FILE` for a new one",
            address = c.address,
            name = c.address.key(),
        ),
        error_code: None,
        status: None,
    }
}

/// The one request of a batch unit: the shared keys plus every member's item. Never sent with
/// an empty list (role delete-batch with no filter deletes every role).
fn batch_request(shared: &Shared, unit: &[Change]) -> Option<ApiRequest> {
    let batch = unit.first()?.op.batch.as_ref()?;
    let mut items = Vec::with_capacity(unit.len());
    for c in unit {
        let item = &c.op.batch.as_ref()?.item;
        if item.is_null() || item.as_str().is_some_and(|s| s.trim().is_empty()) {
            return None;
        }
        items.push(unmasked(shared, c, item).ok()?);
    }
    if items.is_empty() {
        return None;
    }
    let mut body = batch.shared.clone();
    body.insert(batch.list.clone(), Value::Array(items));
    let step = crate::plan::op::Step {
        method: "POST".into(),
        path: batch.path.clone(),
        query: vec![],
        body: Some(Value::Object(body)),
        checked: true,
        deletes: false,
        issues_secret: None,
        id_from_previous: None,
    };
    step.request(&unit[0].address.to_string()).ok()
}

enum Batched {
    Done(Vec<OpOutcome>),
    /// Interrupted while waiting for its turn: nothing was sent.
    NotSent,
    /// It failed (or could not be built), so the members must run alone.
    OneByOne,
}

/// One batch request for like operations.
async fn run_batch(shared: &Shared, unit: &[Change]) -> Result<Batched, ExecError> {
    let Some(req) = batch_request(shared, unit) else {
        return Ok(Batched::OneByOne);
    };
    let check = super::readback::BatchEffectCheck {
        changes: unit,
        secret_fields: &shared.secret_fields,
    };
    let Some(turn) = begin(shared, unit).await? else {
        return Ok(Batched::NotSent);
    };
    Ok(
        match shared.gateway.write_reserved(turn, req, &check).await {
            Ok(WriteOutcome::Applied(_)) => Batched::Done(vec![OpOutcome::Succeeded; unit.len()]),
            Ok(WriteOutcome::AlreadyDone) => {
                Batched::Done(vec![OpOutcome::AlreadyDone; unit.len()])
            }
            Err(e) if e.is_ambiguous() => {
                // It may have been committed: members already live count as done, the rest run alone.
                tracing::info!(
                    "batch of {} ended ambiguously ({e}); checking members",
                    unit.len()
                );
                Batched::OneByOne
            }
            Err(e) => {
                if !matches!(e.kind, ApiErrorKind::RateLimited { .. }) {
                    tracing::info!(
                        "batch of {} refused ({e}); sending members one by one",
                        unit.len()
                    );
                }
                Batched::OneByOne
            }
        },
    )
}
