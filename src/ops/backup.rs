//! `descope-mgmt backup list | restore BACKUP -out FILE`.
//!
//! Restore never writes to Descope: it writes an ordinary sealed plan that puts the backed-up
//! resources back, to be reviewed (`show`) and applied like any plan.
//!
//! 1. Load the backup; refuse one of another environment or project.
//! 2. The saved objects, read by their kinds, become a desired graph (every field a kind
//!    models is stated, so all of them come back).
//! 3. Read the live project and plan with the same planner as `plan` (`make_plan`), limited
//!    to the backed-up addresses: the same ordering, unique-value swaps, replaces (only with
//!    `--allow-replace`) and secret handling.
//! 4. What state.json does not manage stays unmanaged after the apply; write the plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{OpError, Session};
use crate::kinds;
use crate::kinds::ReadScope;
use crate::model::Address;
use crate::plan::diff::{Ownership, PlanOptions};
use crate::plan::{make_plan, Action, PlanContext, PlanDigest, PlanFile};
use crate::resource::desired::{DesiredGraph, SecretField};
use crate::resource::live::secret_refs;
use crate::resource::{DesiredResource, DocForm, LiveResource};
use crate::state::{
    list_backups, load_backup_at, read_backup_bytes, BackedUpResource, BackupSummary, StateDir,
    StateFile,
};
use crate::util::atomic::write_atomic;
use crate::util::timestamp::Timestamp;

pub fn list(dir: &StateDir) -> Result<Vec<BackupSummary>, OpError> {
    Ok(list_backups(dir)?)
}

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub backup: PathBuf,
    pub out: PathBuf,
    /// Addresses whose restore may delete and re-create them (the undo of a replace).
    pub allow_replace: Vec<Address>,
}

#[derive(Debug)]
pub struct RestoreOutcome {
    pub plan: PlanFile,
    pub saved_to: PathBuf,
    /// Backed-up resources that are live exactly as saved: nothing to do.
    pub unchanged: Vec<Address>,
    /// Restored resources state.json does not manage (deleted by a removal from the config):
    /// they come back unmanaged, so the next plan does not delete them again.
    pub unmanaged: Vec<Address>,
    pub warnings: Vec<String>,
}

/// The backup path as given, or, when only a file name is given, in the environment's
/// `backups/` (what `backup list` prints).
pub fn resolve_backup_path(dir: &StateDir, given: &Path) -> PathBuf {
    if given.exists() || given.components().count() > 1 {
        given.to_path_buf()
    } else {
        dir.backups_dir().join(given)
    }
}

pub async fn restore(session: &Session, req: &RestoreRequest) -> Result<RestoreOutcome, OpError> {
    let path = resolve_backup_path(&session.state, &req.backup);
    let backup = load_backup_at(&session.state, &path)?;
    check_backup(session, &backup, &path)?;
    let restored = restore_plan(
        session,
        &backup,
        backup_id(&session.state, &path)?,
        Timestamp::now().to_string(),
        &req.allow_replace,
    )
    .await?;
    let plan = restored.plan;
    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    write_atomic(&req.out, plan.to_canonical_string().as_bytes())
        .map_err(|e| OpError::Io(e.to_string()))?;
    Ok(RestoreOutcome {
        plan,
        saved_to: req.out.clone(),
        unchanged: restored.unchanged,
        unmanaged: restored.unmanaged,
        warnings: restored.warnings,
    })
}

/// What a restore plan's `config_digest` names: `backup:` and the sha256 of the backup file's
/// bytes, so apply re-derives the plan from exactly that backup.
fn backup_id(dir: &StateDir, path: &Path) -> Result<String, OpError> {
    let bytes = read_backup_bytes(dir, path)?;
    Ok(format!(
        "{}{}",
        super::apply::RESTORE_PREFIX,
        PlanDigest::of(&bytes)
    ))
}

/// The restore plan made now from the backup `plan` names (apply's re-derivation of a restore
/// plan): the backup is found in this environment's `backups/` by its digest.
pub async fn rederive(session: &Session, plan: &PlanFile) -> Result<PlanFile, OpError> {
    let refuse =
        |detail: String| OpError::from(crate::apply::verify::Refusal::NotDerived { detail });
    let mut found = None;
    for b in list_backups(&session.state)? {
        if backup_id(&session.state, &b.path)? == plan.config_digest {
            found = Some(b.path);
            break;
        }
    }
    let Some(path) = found else {
        return Err(refuse(format!(
            "it restores the backup {}, which is not in {}",
            plan.config_digest,
            session.state.backups_dir().display()
        )));
    };
    let backup = load_backup_at(&session.state, &path)?;
    check_backup(session, &backup, &path)?;
    let allow_replace = plan
        .options
        .allow_replace
        .iter()
        .map(|a| a.parse::<Address>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(format!("its allow_replace option: {e}")))?;
    let restored = restore_plan(
        session,
        &backup,
        plan.config_digest.clone(),
        plan.created_at.clone(),
        &allow_replace,
    )
    .await?;
    Ok(restored.plan)
}

fn check_backup(
    session: &Session,
    backup: &crate::state::Backup,
    path: &Path,
) -> Result<(), OpError> {
    let environment = &session.loaded.environment;
    let project_id = &session.credentials.project_id;
    if &backup.environment != environment {
        return Err(OpError::Usage(format!(
            "{} is a backup of environment `{}`, not `{environment}`; run with --env {}",
            path.display(),
            backup.environment,
            backup.environment
        )));
    }
    if &backup.project_id != project_id {
        return Err(OpError::Usage(format!(
            "{} is a backup of project {}, but environment `{environment}` is project {project_id}",
            path.display(),
            backup.project_id
        )));
    }
    Ok(())
}

struct Restored {
    plan: PlanFile,
    unchanged: Vec<Address>,
    unmanaged: Vec<Address>,
    warnings: Vec<String>,
}

/// The restore plan of `backup`: its saved objects as a desired graph, planned against the
/// live project by `make_plan` (deterministic, so apply's re-derivation gets the same plan).
async fn restore_plan(
    session: &Session,
    backup: &crate::state::Backup,
    backup_id: String,
    created_at: String,
    allow_replace: &[Address],
) -> Result<Restored, OpError> {
    let environment = &session.loaded.environment;
    let project_id = &session.credentials.project_id;
    let mut secret_notes = Vec::new();
    let resources: Vec<BackedUpResource> = backup
        .resources
        .iter()
        .map(|r| rebase_secrets(session, r, &mut secret_notes))
        .collect();
    let saved = saved_graph(&resources, &session.credentials.management_key);
    let mut warnings = secret_notes;
    let mut desired = DesiredGraph {
        secret_fields: backed_up_secrets(&resources),
        ..DesiredGraph::default()
    };
    let state = StateFile::load(&session.state)?;
    for r in &resources {
        match desired_from_saved(r, &saved, &state) {
            Some(d) => {
                desired.resources.insert(d.address.clone(), d);
            }
            None => warnings.push(format!(
                "{}: the saved object cannot be read back; left out of the plan",
                r.address
            )),
        }
    }
    // Documents are read in the form the backup holds them (fingerprints are taken over the
    // theme's v1 export whatever the form, as apply takes them).
    let forms: BTreeMap<Address, DocForm> = saved
        .values()
        .filter_map(|l| kinds::document(l.spec.as_ref()).map(|(form, _)| (l.address.clone(), form)))
        .collect();
    let scope = ReadScope::for_addresses(desired.resources.keys(), &forms);
    let live = session.read_live(&scope, &desired.secret_fields).await?;
    warnings.extend(live.warnings.iter().cloned());

    let ctx = PlanContext {
        project_id: project_id.clone(),
        environment: environment.clone(),
        // Not made from a configuration: the backup it restores stands in (apply re-derives
        // the plan from exactly that file).
        config_digest: backup_id,
        created_at,
    };
    let options = PlanOptions {
        // Only the backed-up resources (and what they need): nothing else is deleted.
        targets: desired.resources.keys().cloned().collect(),
        prune: vec![],
        allow_replace: allow_replace.to_vec(),
    };
    let mut plan = make_plan(
        &ctx,
        &desired,
        &live,
        &Ownership::from_state(&state),
        &options,
    )
    .map_err(OpError::Plan)?;
    // What the apply records as managed is what state.json already manages: a resource the
    // config had dropped comes back unmanaged, so the next plan does not delete it again.
    let touched: Vec<Address> = plan.changes.iter().map(|c| c.address.clone()).collect();
    let (managed, unmanaged): (Vec<Address>, Vec<Address>) = desired
        .resources
        .keys()
        .cloned()
        .partition(|a| state.is_managed(a));
    plan.config_addresses = managed.clone();
    plan.protected = managed
        .iter()
        .filter(|a| state.protected(a))
        .cloned()
        .collect();
    plan.delete_cascade = managed
        .iter()
        .filter(|a| state.get(a).is_some_and(|r| r.delete_cascade))
        .cloned()
        .collect();
    // The targets are the restore's own scope, not a user's `--target`; `--allow-replace`
    // stays on record for the reviewer.
    plan.options.targets.clear();
    // A resource that comes back whole also gets the saved fields no config manages.
    let objects: BTreeMap<&Address, &Value> =
        resources.iter().map(|r| (&r.address, &r.object)).collect();
    plan.changes = std::mem::take(&mut plan.changes)
        .into_iter()
        .map(|c| match (c.action, &c.after, objects.get(&c.address)) {
            (Action::Create | Action::Replace, Some(body), Some(saved)) => {
                let body = with_carried(&c.address, body, saved);
                c.with_body(body)
            }
            _ => c,
        })
        .collect();
    let plan = plan.seal();
    let unchanged = desired
        .resources
        .keys()
        .filter(|a| !touched.contains(a))
        .cloned()
        .collect();
    let unmanaged = unmanaged
        .into_iter()
        .filter(|a| touched.contains(a))
        .collect();

    Ok(Restored {
        plan,
        unchanged,
        unmanaged,
        warnings,
    })
}

/// A backup holds a secret attribute as a stand-in of the value it had live. When that value
/// was the variable's (the HMAC matches the variable's value now), restoring sends it again.
/// When it was not — changed outside descope-mgmt before the backup — the value itself was
/// never stored anywhere and cannot come back: the restore brings back the variable's value
/// instead, and says so (issue 14 §5). An unset variable is left as it is: apply then refuses
/// naming it.
fn rebase_secrets(
    session: &Session,
    r: &BackedUpResource,
    notes: &mut Vec<String>,
) -> BackedUpResource {
    let mut r = r.clone();
    let Some(attrs) = r
        .object
        .get_mut("customAttributes")
        .and_then(Value::as_object_mut)
    else {
        return r;
    };
    for (attribute, v) in attrs.iter_mut() {
        let (Some(var), Some(hmac)) = (
            v.get("secret").and_then(Value::as_str).map(str::to_string),
            v.get("hmac").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some(now) = session.recompute_secret(&var) else {
            continue;
        };
        if now.hmac != hmac {
            notes.push(format!(
                "{}: custom attribute `{attribute}` held a value other than {var}'s when it was backed up \
                 (changed outside descope-mgmt); that value was never stored, so the restore sets {var}'s current value",
                r.address
            ));
            *v = now.to_json();
        }
    }
    r
}

/// Custom attributes the backup holds as secret stand-ins: the live values of the same
/// attributes are masked the same way, so they compare and the plan never holds a value.
fn backed_up_secrets(resources: &[BackedUpResource]) -> Vec<SecretField> {
    let mut out = Vec::new();
    for r in resources {
        let Some(attrs) = r.object.get("customAttributes").and_then(Value::as_object) else {
            continue;
        };
        for (attribute, v) in attrs {
            let mut refs = Vec::new();
            secret_refs(v, &mut refs);
            if let Some(s) = refs.first() {
                out.push(SecretField {
                    address: r.address.clone(),
                    attribute: attribute.clone(),
                    var: s.secret.clone(),
                });
            }
        }
    }
    out
}

/// The saved objects read by their kinds, as live ones are.
fn saved_graph(
    resources: &[BackedUpResource],
    key: &crate::secret::Secret,
) -> BTreeMap<Address, LiveResource> {
    resources
        .iter()
        .filter_map(|r| {
            kinds::of(r.address.kind())
                .read_saved(&r.address, &r.object, key)
                .map(|l| (r.address.clone(), l))
        })
        .collect()
}

/// The saved object as a desired resource, with the dependencies a create or update needs
/// (of alternatives, the one the backup has, as Descope resolves default roles).
fn desired_from_saved(
    r: &BackedUpResource,
    saved: &BTreeMap<Address, LiveResource>,
    state: &StateFile,
) -> Option<DesiredResource> {
    let l = saved.get(&r.address)?;
    let depends_on = kinds::of(r.address.kind())
        .references(l.spec.as_ref())
        .iter()
        .filter_map(|reference| {
            let targets = reference.targets();
            targets
                .iter()
                .find(|a| saved.contains_key(*a))
                .or(targets.last())
                .cloned()
        })
        .collect();
    Some(DesiredResource {
        address: r.address.clone(),
        spec: l.spec.clone(),
        depends_on,
        protect: false,
        // A replace deletes first: with the cascade the config last asked for.
        delete_cascade: state.get(&r.address).is_some_and(|m| m.delete_cascade),
        ignore_changes: vec![],
    })
}

/// A create body plus the saved fields the planner does not manage (a role's `default` flag),
/// so the resource comes back as it was.
fn with_carried(address: &Address, body: &Value, saved: &Value) -> Value {
    let mut body = body.clone();
    if let (Some(b), Some(s)) = (body.as_object_mut(), saved.as_object()) {
        for key in kinds::of(address.kind()).restore_carried() {
            if let Some(v) = s.get(*key) {
                b.entry(key.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    body
}
