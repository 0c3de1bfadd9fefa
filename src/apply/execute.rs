//! The executor: runs a verified plan's changes in dependency order, up to `parallelism` at
//! once, batching ready role and permission operations where Descope has batch endpoints,
//! journaling each operation's start and end before moving on (docs/design.md §2).
//!
//! 1. Build a dependency queue of the plan's changes; operations a previous run finished
//!    (verified live) succeed at once.
//! 2. Take ready operations, group them into batches, start them while capacity allows.
//! 3. As each finishes, journal it and release or skip its dependents.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use super::readback::EffectCheck;
use crate::api::gateway::{Gateway, NoCheck, WriteOutcome};
use crate::api::{endpoints, ApiError, ApiErrorKind, ApiRequest};
use crate::model::{Address, Kind};
use crate::plan::{Action, Change, PlanFile};
use crate::resource::desired::SecretField;
use crate::resource::live::unmask;
use crate::state::journal::{Journal, JournalEntry, JournalEvent};
use crate::util::dependency_queue::{DependencyQueue, Outcome};

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
    /// Not started because the apply was interrupted (Ctrl-C); a re-run does it.
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
    pub parallelism: usize,
    /// Most members in one batch request.
    pub max_batch: usize,
    /// Set (by a Ctrl-C handler) to start nothing new: operations in flight finish and are
    /// journaled, the rest are reported as not run, and a re-run of the plan completes it.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            parallelism: 8,
            max_batch: 50,
            interrupt: None,
        }
    }
}

/// Resolves `${secret:VAR}` variables for the bodies about to be sent.
pub type SecretResolver = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

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
    });
    let mut results: BTreeMap<usize, OpResult> = BTreeMap::new();
    let mut pending: Vec<Change> = Vec::new();
    let mut running: JoinSet<Vec<(Change, OpOutcome, Duration)>> = JoinSet::new();
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

        let interrupted = || {
            opts.interrupt
                .as_ref()
                .is_some_and(|f| f.load(AtomicOrdering::SeqCst))
        };
        while !interrupted() && running.len() < parallelism && !pending.is_empty() {
            let unit = take_unit(&mut pending, opts.max_batch);
            for c in &unit {
                shared.journal(c.id, &c.address, JournalEvent::Started)?;
                shared.progress.started(c);
            }
            let shared = shared.clone();
            running.spawn(async move { run_unit(&shared, unit).await });
        }

        let Some(joined) = running.join_next().await else {
            break;
        };
        let finished = match joined {
            Ok(f) => f,
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

/// Role and permission operations of one kind, action and tenant share a batch endpoint.
fn batch_key(c: &Change) -> Option<(Kind, Action, Option<String>)> {
    match (&c.address, c.action) {
        (Address::Permission(_), Action::Create | Action::Update | Action::Delete) => {
            Some((Kind::Permission, c.action, None))
        }
        (Address::Role { .. }, Action::Create | Action::Update) => {
            Some((Kind::Role, c.action, None))
        }
        // Role delete-batch takes one tenantId for all names.
        (Address::Role { tenant, .. }, Action::Delete) => {
            Some((Kind::Role, c.action, tenant.clone()))
        }
        _ => None,
    }
}

/// The next unit of work: a batch of like operations, or one operation.
fn take_unit(pending: &mut Vec<Change>, max_batch: usize) -> Vec<Change> {
    let first = pending.remove(0);
    let Some(key) = batch_key(&first) else {
        return vec![first];
    };
    let mut unit = vec![first];
    let mut i = 0;
    while i < pending.len() && unit.len() < max_batch {
        if batch_key(&pending[i]).as_ref() == Some(&key) {
            unit.push(pending.remove(i));
        } else {
            i += 1;
        }
    }
    unit
}

async fn run_unit(shared: &Shared, unit: Vec<Change>) -> Vec<(Change, OpOutcome, Duration)> {
    let start = Instant::now();
    if unit.len() > 1 {
        if let Some(outcomes) = run_batch(shared, &unit).await {
            let d = start.elapsed();
            return unit
                .into_iter()
                .zip(outcomes)
                .map(|(c, o)| (c, o, d))
                .collect();
        }
        // The batch failed as one transaction: nothing of it happened, so each member is
        // tried on its own, and only the one Descope refuses fails.
    }
    let mut out = Vec::with_capacity(unit.len());
    for c in unit {
        let t = Instant::now();
        let outcome = run_single(shared, &c).await;
        out.push((c, outcome, t.elapsed()));
    }
    out
}

fn failed(e: &ApiError) -> OpOutcome {
    OpOutcome::Failed {
        message: e.to_string(),
        error_code: e.error_code().map(str::to_string),
        status: e.status(),
    }
}

fn body(shared: &Shared, c: &Change) -> Result<Value, OpOutcome> {
    let after = c.after.clone().unwrap_or(Value::Null);
    unmask(&after, &|var| (shared.secrets)(var)).map_err(|message| OpOutcome::Failed {
        message: format!("{}: {message}", c.address),
        error_code: None,
        status: None,
    })
}

fn setup_error(c: &Change, e: ApiError) -> OpOutcome {
    failed(&ApiError {
        address: Some(c.address.to_string()),
        ..e
    })
}

/// The requests one change needs, in order (a replace is a delete, then a create).
fn requests(shared: &Shared, c: &Change) -> Result<Vec<(ApiRequest, bool)>, OpOutcome> {
    let addr = &c.address;
    // (request, checked): checked writes consult the live object after an ambiguous failure.
    let reqs: Vec<(ApiRequest, bool)> = match (addr, c.action) {
        (Address::Tenant(id), Action::Delete) => {
            vec![(endpoints::tenant_delete(id, c.cascade), true)]
        }
        (Address::Tenant(id), Action::Replace) => vec![
            (endpoints::tenant_delete(id, c.cascade), false),
            (endpoints::tenant_create(body(shared, c)?), true),
        ],
        (Address::Tenant(_), Action::Create) => {
            vec![(endpoints::tenant_create(body(shared, c)?), true)]
        }
        (Address::Tenant(_), Action::Update) => {
            vec![(endpoints::tenant_update(body(shared, c)?), true)]
        }
        (Address::TenantDefaultRoles(id), _) => {
            let b = body(shared, c)?;
            let roles = crate::resource::live::string_list(&b, "defaultRoles");
            vec![(endpoints::tenant_update_default_roles(id, &roles), true)]
        }
        (Address::Permission(name), Action::Delete) => {
            vec![(endpoints::permission_delete(name), true)]
        }
        (Address::Permission(_), Action::Create | Action::Replace) => {
            vec![(endpoints::permission_create(body(shared, c)?), true)]
        }
        (Address::Permission(_), Action::Update) => {
            vec![(endpoints::permission_update(body(shared, c)?), true)]
        }
        (Address::Role { tenant, name }, Action::Delete) => {
            vec![(endpoints::role_delete(name, tenant.as_deref()), true)]
        }
        (Address::Role { .. }, Action::Create | Action::Replace) => {
            vec![(endpoints::role_create(body(shared, c)?), true)]
        }
        (Address::Role { .. }, Action::Update) => {
            vec![(endpoints::role_update(body(shared, c)?), true)]
        }
        (Address::Flow(id), Action::Delete) => {
            vec![(
                endpoints::flow_delete(std::slice::from_ref(id)).map_err(|e| setup_error(c, e))?,
                false,
            )]
        }
        (Address::Flow(id), _) => {
            let b = body(shared, c)?;
            // The plan keeps the file's form: v2 bodies are {"flow": {flowId, …}}.
            let req = if b.get("flow").and_then(|f| f.get("flowId")).is_some() {
                endpoints::flow_import_v2(id, b["flow"].clone())
            } else {
                endpoints::flow_import_v1(id, b)
            };
            vec![(req.map_err(|e| setup_error(c, e))?, false)]
        }
        (Address::Theme, _) => {
            let b = body(shared, c)?;
            let theme = b.get("theme").cloned().unwrap_or(Value::Null);
            let req = if theme.get("styles").is_some() {
                endpoints::theme_import_v2(theme)
            } else {
                endpoints::theme_import_v1(theme)
            };
            vec![(req.map_err(|e| setup_error(c, e))?, false)]
        }
    };
    Ok(reqs
        .into_iter()
        .map(|(r, checked)| (r.for_address(addr), checked))
        .collect())
}

async fn run_single(shared: &Shared, c: &Change) -> OpOutcome {
    let reqs = match requests(shared, c) {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let check = EffectCheck {
        change: c,
        secret_fields: &shared.secret_fields,
    };
    let mut already = false;
    for (req, checked) in reqs {
        let is_delete = req.path.ends_with("/delete");
        let result = if checked {
            shared.gateway.write(req, &check).await
        } else {
            shared.gateway.write(req, &NoCheck).await
        };
        match result {
            Ok(WriteOutcome::Applied(_)) => {}
            Ok(WriteOutcome::AlreadyDone) => already = true,
            // Deleting what is already gone is the goal reached (a resumed run, or a retry of
            // a delete that landed).
            Err(e) if is_delete && e.is_not_found() => already = true,
            Err(e) => return failed(&e),
        }
    }
    if already && c.action != Action::Replace {
        OpOutcome::AlreadyDone
    } else {
        OpOutcome::Succeeded
    }
}

/// One batch request for like operations; `None` when it failed and members must run alone.
async fn run_batch(shared: &Shared, unit: &[Change]) -> Option<Vec<OpOutcome>> {
    let first = &unit[0];
    let bodies: Vec<Value> = unit
        .iter()
        .map(|c| body(shared, c))
        .collect::<Result<_, _>>()
        .ok()?;
    let names: Vec<String> = unit
        .iter()
        .filter_map(|c| match &c.address {
            Address::Permission(n) | Address::Role { name: n, .. } => Some(n.clone()),
            _ => None,
        })
        .collect();
    let req = match (&first.address, first.action) {
        (Address::Permission(_), Action::Create) => endpoints::permission_create_batch(bodies),
        (Address::Permission(_), Action::Update) => endpoints::permission_update_batch(bodies),
        (Address::Permission(_), Action::Delete) => endpoints::permission_delete_batch(&names),
        (Address::Role { .. }, Action::Create) => endpoints::role_create_batch(bodies),
        (Address::Role { .. }, Action::Update) => endpoints::role_update_batch(bodies),
        (Address::Role { tenant, .. }, Action::Delete) => {
            endpoints::role_delete_batch(&names, tenant.as_deref())
        }
        _ => return None,
    }
    .ok()?;
    let check = super::readback::BatchEffectCheck {
        changes: unit,
        secret_fields: &shared.secret_fields,
    };
    match shared.gateway.write(req, &check).await {
        Ok(WriteOutcome::Applied(_)) => Some(vec![OpOutcome::Succeeded; unit.len()]),
        Ok(WriteOutcome::AlreadyDone) => Some(vec![OpOutcome::AlreadyDone; unit.len()]),
        Err(e) if e.is_ambiguous() => {
            // It may have been committed: members already live count as done, the rest run alone.
            tracing::info!(
                "batch of {} ended ambiguously ({e}); checking members",
                unit.len()
            );
            None
        }
        Err(e) => {
            if let ApiErrorKind::RateLimited { .. } = e.kind {
                return None;
            }
            tracing::info!(
                "batch of {} refused ({e}); sending members one by one",
                unit.len()
            );
            None
        }
    }
}
