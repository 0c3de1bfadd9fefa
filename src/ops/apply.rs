//! `descope-mgmt apply`: do exactly what the reviewed plan says, or nothing.
//!
//! 1. The plan file: canonical bytes and digest (before any network).
//! 2. Lock the environment's state directory for the whole apply.
//! 3. Bind and freshness: project, environment, one use, secrets, live fingerprints (per
//!    operation when the journal shows an unfinished earlier run).
//! 4. Back up the live objects the plan changes or deletes, before the first write.
//! 5. Execute in dependency order, journaling every operation.
//! 6. Refresh fingerprints into state.json, mark the plan used if everything succeeded,
//!    append the audit record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::live::read_kinds;
use super::{OpError, Session};
use crate::apply::execute::{execute, ExecOptions, IssuedSecrets, OpOutcome, OpResult, Progress};
use crate::apply::issued::KeyFiles;
use crate::apply::readback::secret_fields_of;
use crate::apply::verify::{verify, OpProgress, Refusal, VerifyInput};
use crate::kinds::{self, ReadScope, ResourceKind};
use crate::model::Address;
use crate::plan::{Action, Change, PlanFile, VerifiedPlan};
use crate::resource::live::{self, LiveGraph};
use crate::resource::DocForm;
use crate::state::{
    append_audit, write_backup, AuditChange, AuditRecord, BackedUpResource, Backup, ChangeResult,
    Identity, Journal, JournalEntry, JournalEvent, OpStatus, StateFile, StateLock,
};
use crate::util::timestamp::Timestamp;

pub struct ApplyRequest {
    /// Read from disk and checked (bytes, digest): only `PlanFile::read_verified` makes one.
    pub plan: VerifiedPlan,
    pub lock_timeout: Duration,
    /// `--access-key-out DIR`: where each new access key's cleartext is written; required
    /// exactly when the plan creates or replaces a key.
    pub access_key_out: Option<PathBuf>,
}

#[derive(Debug)]
pub struct ApplyReport {
    pub results: Vec<OpResult>,
    pub warnings: Vec<String>,
    pub backup: Option<PathBuf>,
    pub duration: Duration,
    /// True when this run resumed an earlier, unfinished apply of the same plan.
    pub resumed: bool,
    pub requests: u64,
    pub rate_limited: u64,
}

impl ApplyReport {
    pub fn count(&self, pick: impl Fn(&OpResult) -> bool) -> usize {
        self.results.iter().filter(|r| pick(r)).count()
    }
    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r.outcome, OpOutcome::Failed { .. }))
    }
    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r.outcome, OpOutcome::Skipped { .. }))
    }
    pub fn succeeded(&self, action: Action) -> usize {
        self.count(|r| r.action == action && r.outcome.is_success())
    }
    pub fn not_run(&self) -> usize {
        self.count(|r| matches!(r.outcome, OpOutcome::NotRun))
    }
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(|r| r.outcome.is_success())
    }
}

/// The `--access-key-out` directory, checked before the lock and any request: a plan that
/// creates or replaces a key needs it (Descope shows a key's secret once), and a plan that
/// creates none cannot use it.
pub fn issued_secrets_needed(plan: &PlanFile, dir: Option<&Path>) -> Result<(), OpError> {
    let issuing: Vec<&Address> = plan
        .changes
        .iter()
        .filter(|c| c.op.issues_secret())
        .map(|c| &c.address)
        .collect();
    match (dir, issuing.is_empty()) {
        (None, true) => Ok(()),
        (None, false) => Err(OpError::Usage(format!(
            "refusing to apply: this plan creates or replaces {} ({}), whose secret Descope \
             shows only once. Apply it with --access-key-out DIR: each new key's secret is \
             written to DIR/<name>.key (mode 0600) and nowhere else. Nothing was written",
            match issuing.len() {
                1 => "an access key".to_string(),
                n => format!("{n} access keys"),
            },
            issuing
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (Some(dir), true) => Err(OpError::Usage(format!(
            "--access-key-out {}: this plan creates no access key, so nothing would be written \
             there; apply it without the flag",
            dir.display()
        ))),
        (_, false) => Ok(()),
    }
}

/// Forms of the flow/theme documents a plan imports, to read them back the same way.
fn plan_forms(plan: &PlanFile) -> BTreeMap<Address, DocForm> {
    plan.changes
        .iter()
        .filter_map(|c| {
            let after = c.after.as_ref()?;
            let form = crate::kinds::of(c.address.kind()).document_form(after)?;
            Some((c.address.clone(), form))
        })
        .collect()
}

pub async fn apply(
    session: &Session,
    req: ApplyRequest,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, OpError> {
    let started = Instant::now();
    let plan = req.plan;
    // Offline, before the lock and any request: who and what the plan was made for.
    bind(session, &plan)?;
    issued_secrets_needed(&plan, req.access_key_out.as_deref())?;
    let _lock = StateLock::acquire(&session.state, req.lock_timeout)?;

    let mut state = StateFile::load(&session.state)?;
    // The configuration apply was given decides where secrets may go and what the plan must be.
    let planning = super::plan::planning(session, &state)?;
    let secret_policy = session.secret_resolver(&planning.desired.secret_fields);
    let journal_summary = if Journal::exists(&session.state, &plan.digest)? {
        Some(Journal::read(&session.state, &plan.digest)?)
    } else {
        None
    };
    let resumed = journal_summary
        .as_ref()
        .is_some_and(|j| j.is_unfinished(plan.changes.len()));
    let progress_by_op: BTreeMap<usize, OpProgress> = journal_summary
        .as_ref()
        .map(|j| {
            plan.changes
                .iter()
                .map(|c| {
                    let p = match j.status(c.id) {
                        OpStatus::Untouched | OpStatus::Skipped { .. } => OpProgress::Untouched,
                        OpStatus::InFlight => OpProgress::InFlight,
                        OpStatus::Done => OpProgress::Finished,
                        OpStatus::Failed { .. } => OpProgress::Failed,
                    };
                    (c.id, p)
                })
                .collect()
        })
        .unwrap_or_default();

    let secret_fields = secret_fields_of(&plan.changes);
    let scope = ReadScope::for_addresses(
        plan.changes
            .iter()
            .map(|c| &c.address)
            .chain(plan.config_addresses.iter()),
        &BTreeMap::new(),
    );
    // Read as the planner reads (its scope, its secret fields), so fingerprints compare.
    let is_restore = plan.config_digest.starts_with(RESTORE_PREFIX);
    let (live, derived) = if is_restore {
        let live = session.read_live(&scope, &secret_fields).await?;
        let derived = if journal_summary.is_none() {
            Some(super::backup::rederive(session, &plan).await)
        } else {
            None
        };
        (live, derived)
    } else {
        let read = ReadScope::for_addresses(
            planning
                .desired
                .resources
                .keys()
                .chain(state.resources.keys())
                .chain(plan.changes.iter().map(|c| &c.address)),
            &super::plan::document_forms(&planning.desired),
        );
        let live = session.read_live(&read, &planning.secret_fields).await?;
        // A resume trusts the journal the verified first run wrote; a first run re-derives.
        let derived = if journal_summary.is_none() {
            let options = super::plan::parse_options(&super::plan::PlanRequest {
                targets: plan.options.targets.clone(),
                prune: plan.options.prune.clone(),
                allow_replace: plan.options.allow_replace.clone(),
                ..Default::default()
            })
            .map_err(|e| {
                OpError::from(Refusal::NotDerived {
                    detail: format!("its `options` do not parse ({e})"),
                })
            });
            Some(options.and_then(|options| {
                super::plan::derive(
                    session,
                    &planning,
                    &live,
                    &state,
                    &options,
                    plan.created_at.clone(),
                )
                .map_err(|e| {
                    OpError::from(Refusal::NotDerived {
                        detail: format!("the planner cannot plan this configuration now: {e}"),
                    })
                })
            }))
        } else {
            None
        };
        (live, derived)
    };
    let before = Before {
        live: &live,
        scope: &scope,
        secret_fields: &secret_fields,
    };
    let recorded: BTreeMap<Address, String> = state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), r.fingerprint.clone()))
        .collect();
    let recompute = |var: &str| session.recompute_secret(var);
    // A journal in which every operation ended well is a used plan too, even when state.json
    // does not say so (lost, or the run died between its last operation and saving state).
    let journal_complete = journal_summary
        .as_ref()
        .is_some_and(|j| j.entries > 0 && j.all_done(plan.changes.len()));
    let verified = match verify(&VerifyInput {
        plan: &plan,
        live: &live,
        project_id: &session.credentials.project_id,
        environment: &session.loaded.environment,
        already_applied: state.was_applied(&plan.digest) || journal_complete,
        progress: &progress_by_op,
        recorded: &recorded,
        recompute_secret: &recompute,
        secrets: &secret_policy,
    }) {
        Ok(v) => v,
        Err(refusal @ Refusal::AlreadyApplied { .. })
            if journal_complete && !state.was_applied(&plan.digest) =>
        {
            // Refused like any used plan, but first record what that run could not: without
            // it, state.json would never list what the plan created (ownership for later
            // deletes) nor mark the plan used. Only state.json is written, never the project.
            state.bind_project(&session.state, &session.credentials.project_id)?;
            let report = ApplyReport {
                results: plan
                    .changes
                    .iter()
                    .map(|c| OpResult {
                        id: c.id,
                        address: c.address.clone(),
                        action: c.action,
                        outcome: OpOutcome::AlreadyDone,
                        duration: Duration::ZERO,
                    })
                    .collect(),
                warnings: Vec::new(),
                backup: None,
                duration: Duration::ZERO,
                resumed: true,
                requests: 0,
                rate_limited: 0,
            };
            record_state(session, &plan, &mut state, &report, &before, None).await?;
            return Err(refusal.into());
        }
        Err(refusal) => return Err(refusal.into()),
    };
    let mut verified = verified;
    // After verification, so a plan stale on what it touches is refused as stale (naming the
    // fields that moved) rather than as "not what the planner makes".
    if let Some(derived) = derived {
        let derived = derived?;
        let drift = crate::apply::rederive::compare(&plan, &derived, &live)
            .map_err(|detail| Refusal::NotDerived { detail })?;
        verified.warnings.extend(drift);
    }
    state.bind_project(&session.state, &session.credentials.project_id)?;
    // Before the backup and the first write: a key is never created with nowhere to put its
    // secret (the files it would get must not exist yet; a resumed run's done keys are past).
    let issued = match req.access_key_out.as_deref() {
        Some(dir) => Some(Arc::new(
            KeyFiles::open(
                dir,
                plan.changes
                    .iter()
                    .filter(|c| c.op.issues_secret() && !verified.already_done.contains(&c.id))
                    .map(|c| &c.address),
            )
            .map_err(OpError::Usage)?,
        )),
        None => None,
    };

    // The backup holds what the plan will overwrite or remove, including the previous export
    // of each flow it imports, so a bad flow can be rolled back.
    let backup = if plan
        .changes
        .iter()
        .any(|c| !verified.already_done.contains(&c.id))
    {
        let mut resources = Vec::new();
        let forms = plan_forms(&plan);
        for c in &plan.changes {
            if verified.already_done.contains(&c.id) {
                continue;
            }
            let form = forms.get(&c.address).copied().unwrap_or(DocForm::V1);
            // A rename changes the object at its old address: that is what is saved.
            let address = match &c.reason {
                crate::plan::Reason::Renamed { from } => from
                    .parse::<Address>()
                    .unwrap_or_else(|_| c.address.clone()),
                _ => c.address.clone(),
            };
            // A create has nothing to back up unless the object exists anyway (the theme).
            let exists = c.action != Action::Create || live.resources.contains_key(&address);
            let object = match crate::kinds::of(address.kind()).backup_read(&address, form) {
                Some(req) if exists => Some(
                    session
                        .gateway
                        .read_document(req, address.kind().as_str())
                        .await?,
                ),
                Some(_) => None,
                None => live.resources.get(&address).map(|l| l.raw()),
            };
            if let Some(object) = object {
                resources.push(BackedUpResource { address, object });
            }
        }
        let backup = Backup::new(&plan.environment, &plan.project_id, &plan.digest, resources);
        Some(write_backup(&session.state, &backup)?)
    } else {
        None
    };

    // An earlier run that died between creating a key and writing its secret: the key is live
    // (so it counts as done), but its one-time secret is gone unless the file was written.
    for c in &plan.changes {
        let finished_before = progress_by_op.get(&c.id) == Some(&OpProgress::Finished);
        let written = issued.as_ref().is_some_and(|k| k.path(&c.address).exists());
        if verified.already_done.contains(&c.id)
            && !finished_before
            && c.op.issues_secret()
            && !written
        {
            verified.warnings.push(format!(
                "{} WAS CREATED BY AN INTERRUPTED APPLY, BUT ITS SECRET WAS NEVER WRITTEN: run \
                 `descope-mgmt access-key rotate {} --out FILE` for a new one",
                c.address,
                c.address.key()
            ));
        }
    }
    let mut journal = Journal::open(&session.state, &plan.digest)?;
    // Operations an earlier run left in flight (or failed) that verification found done live:
    // their end is recorded now, so the journal of a completed apply shows every operation
    // done (the executor only journals what it runs).
    for c in &plan.changes {
        let finished_before = progress_by_op.get(&c.id) == Some(&OpProgress::Finished);
        if verified.already_done.contains(&c.id) && !finished_before {
            journal.record(&JournalEntry::now(
                c.id,
                c.address.clone(),
                JournalEvent::AlreadyDone,
            ))?;
        }
    }
    // A plan that only creates changes nothing but what it creates, so the read that records
    // their fingerprints goes out as soon as the last create is sent rather than one round
    // trip after its answer; it counts only if it shows every create that succeeded
    // (`record_state`).
    let all_sent = Arc::new(tokio::sync::Notify::new());
    let only_creates = plan.changes.iter().all(|c| c.action == Action::Create);
    let read_back = (only_creates && !plan.changes.is_empty()).then(|| {
        let kinds = written_kinds(plan.changes.iter());
        let (gateway, scope, all_sent) = (session.gateway.clone(), scope.clone(), all_sent.clone());
        tokio::spawn(async move {
            all_sent.notified().await;
            // After the last create, not beside it, wherever requests race.
            tokio::time::sleep(READ_BACK_GAP).await;
            read_kinds(&gateway, &scope, &kinds).await
        })
    });
    let results = execute(
        &plan,
        session.gateway.clone(),
        journal,
        &verified.already_done,
        secret_policy.clone(),
        progress,
        &ExecOptions {
            issued: issued.clone().map(|k| k as Arc<dyn IssuedSecrets>),
            interrupt: Some(session.interrupt.clone()),
            parallelism: session.parallelism,
            all_sent: Some(all_sent.clone()),
            ..ExecOptions::default()
        },
    )
    .await
    .map_err(|e| OpError::Io(e.to_string()))?;
    // Sends the read now if the last create never went out (a failure, an interrupt).
    all_sent.notify_one();
    let early = match read_back {
        Some(task) => task.await.ok().and_then(Result::ok),
        None => None,
    };

    let mut report = ApplyReport {
        results,
        warnings: verified.warnings,
        backup,
        duration: Duration::ZERO,
        resumed,
        requests: 0,
        rate_limited: 0,
    };
    record_state(session, &plan, &mut state, &report, &before, early).await?;
    audit(session, &plan, &report)?;
    let stats = session.gateway.stats();
    report.requests = stats.requests;
    report.rate_limited = stats.rate_limited;
    report.duration = started.elapsed();
    Ok(report)
}

/// How long after the last create is sent its read-back goes: requests sent at the same
/// moment may be handled in either order, and a read-back handled first is sent again.
const READ_BACK_GAP: Duration = Duration::from_millis(10);

/// The kinds of `changes`, in the registry's order.
fn written_kinds<'a>(changes: impl Iterator<Item = &'a Change>) -> Vec<&'static dyn ResourceKind> {
    let written: BTreeSet<&str> = changes.map(|c| c.address.kind().as_str()).collect();
    kinds::all()
        .iter()
        .copied()
        .filter(|k| written.contains(k.kind().as_str()))
        .collect()
}

/// `config_digest` of a plan `backup restore` made: it names the backup, not a configuration.
pub const RESTORE_PREFIX: &str = "backup:";

/// The checks that need no network and no lock: the plan is for this project and environment,
/// and was made from the configuration apply was given (or from a backup of this environment).
fn bind(session: &Session, plan: &PlanFile) -> Result<(), OpError> {
    if plan.project_id != session.credentials.project_id {
        return Err(Refusal::OtherProject {
            plan: plan.project_id.clone(),
            configured: session.credentials.project_id.clone(),
        }
        .into());
    }
    if plan.environment != session.loaded.environment {
        return Err(Refusal::OtherEnvironment {
            plan: plan.environment.clone(),
            configured: session.loaded.environment.clone(),
        }
        .into());
    }
    if !plan.config_digest.starts_with(RESTORE_PREFIX)
        && plan.config_digest != session.loaded.source_digest
    {
        return Err(Refusal::OtherConfig {
            plan: plan.config_digest.clone(),
            given: session.loaded.source_digest.clone(),
        }
        .into());
    }
    Ok(())
}

/// state.json after an apply: deleted addresses forgotten, every configured address that
/// exists live is managed with its fresh fingerprint, protect flags as the config says.
///
/// Fingerprints come from the read before the apply (`before`) for every kind the apply did
/// not write, and from one read of each written kind after it. Creating an object changes no
/// object of another kind; an update or delete may (a deleted permission leaves its roles, a
/// deleted role the tenants' default roles), so a plan with either reads every kind again.
#[allow(clippy::too_many_arguments)]
/// What apply read before its writes, which recording the state after them starts from.
struct Before<'a> {
    live: &'a LiveGraph,
    scope: &'a ReadScope,
    secret_fields: &'a [crate::resource::desired::SecretField],
}

async fn record_state(
    session: &Session,
    plan: &PlanFile,
    state: &mut StateFile,
    report: &ApplyReport,
    read: &Before<'_>,
    early: Option<crate::resource::live::LiveSnapshot>,
) -> Result<(), OpError> {
    let (before, scope, secret_fields) = (read.live, read.scope, read.secret_fields);
    let succeeded: BTreeSet<&Address> = report
        .results
        .iter()
        .filter(|r| r.outcome.is_success())
        .map(|r| &r.address)
        .collect();
    for c in &plan.changes {
        if c.action == Action::Delete && succeeded.contains(&c.address) {
            state.forget(&c.address);
        }
    }
    for a in &plan.forget {
        state.forget(a);
    }
    // A renamed object is managed under its new address only.
    for c in plan
        .changes
        .iter()
        .filter(|c| succeeded.contains(&c.address))
    {
        if let crate::plan::Reason::Renamed { from } = &c.reason {
            if let Ok(from) = from.parse::<Address>() {
                state.forget(&from);
            }
        }
    }
    let written: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| succeeded.contains(&c.address))
        .collect();
    let only_creates = written.iter().all(|c| c.action == Action::Create);
    let reread: Vec<&'static dyn ResourceKind> = if only_creates {
        written_kinds(written.iter().copied())
    } else {
        kinds::all().to_vec()
    };
    let key = &session.credentials.management_key;
    // The read sent as the last create went out counts only if it shows every create that
    // succeeded: then it was answered after each of them took effect, and nothing else
    // changed. Otherwise it is read again now.
    let early = early
        .map(|s| live::build(&s, secret_fields, key))
        .filter(|g| only_creates && written.iter().all(|c| g.resources.contains_key(&c.address)));
    // A failure here leaves the journal and the previous state, which the next plan
    // reconciles.
    let fresh = match early {
        _ if reread.is_empty() => Ok(LiveGraph::default()),
        Some(graph) => Ok(graph),
        None => read_kinds(&session.gateway, scope, &reread)
            .await
            .map(|s| live::build(&s, secret_fields, key)),
    };
    match fresh {
        Ok(fresh) => {
            let protected: BTreeSet<&Address> = plan.protected.iter().collect();
            let cascade: BTreeSet<&Address> = plan.delete_cascade.iter().collect();
            for a in &plan.config_addresses {
                let now = match fresh.resources.get(a) {
                    Some(l) => Some(l),
                    None if reread.iter().any(|k| k.kind() == a.kind()) => None,
                    None => before.resources.get(a),
                };
                if let Some(l) = now {
                    state.set_managed(a.clone(), l.fingerprint(), protected.contains(a));
                    state.set_attributes(a, crate::kinds::of(a.kind()).recorded_attributes(l));
                    state.set_delete_cascade(a, cascade.contains(a));
                }
            }
            // Which attributes now hold secrets: what the last successful write of each
            // address sent (a swap's temporary release comes before the real update).
            for c in &written {
                if c.action != Action::Delete {
                    if let Some(after) = &c.after {
                        state.set_secrets(
                            &c.address,
                            crate::resource::live::secret_attributes(after),
                        );
                    }
                    let kind = crate::kinds::of(c.address.kind());
                    let previous = state
                        .get(&c.address)
                        .map(|r| r.write_only.clone())
                        .unwrap_or_default();
                    let changed = c
                        .fields
                        .iter()
                        .map(|f| (f.field.as_str(), f.after.as_ref()));
                    state.set_write_only(
                        &c.address,
                        crate::resource::write_only::record(kind, &previous, changed),
                    );
                }
            }
        }
        Err(e) => tracing::warn!("could not refresh fingerprints after apply: {e}"),
    }
    if report.all_succeeded() {
        state.mark_applied(&plan.digest, Timestamp::now());
    }
    state.save(&session.state)?;
    Ok(())
}

fn audit(session: &Session, plan: &PlanFile, report: &ApplyReport) -> Result<(), OpError> {
    let cwd = session.loaded.base_dir.clone();
    let cwd = if cwd.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cwd
    };
    let changes = report
        .results
        .iter()
        .map(|r| {
            let (result, error) = match &r.outcome {
                OpOutcome::Succeeded => (ChangeResult::Succeeded, None),
                OpOutcome::AlreadyDone => (ChangeResult::AlreadyDone, None),
                OpOutcome::Failed { message, .. } => (ChangeResult::Failed, Some(message.clone())),
                OpOutcome::Skipped { because } => (
                    ChangeResult::Skipped,
                    Some(format!("skipped: {because} failed")),
                ),
                OpOutcome::NotRun => (
                    ChangeResult::NotRun,
                    Some("interrupted before it started".into()),
                ),
            };
            AuditChange {
                address: r.address.clone(),
                action: r.action.verb().to_string(),
                result,
                duration_ms: r.duration.as_millis() as u64,
                error,
            }
        })
        .collect();
    let record = AuditRecord::new(
        Identity::discover(Path::new(&cwd)),
        &plan.environment,
        &plan.project_id,
        &plan.digest,
        changes,
    );
    append_audit(&session.state, &record)?;
    Ok(())
}
