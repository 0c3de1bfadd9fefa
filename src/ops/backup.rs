//! `descope-mgmt backup list | restore BACKUP -out FILE`.
//!
//! Restore never writes to Descope: it writes an ordinary sealed plan that puts the backed-up
//! resources back, to be reviewed (`show`) and applied like any plan.
//!
//! 1. Load the backup; refuse one of another environment or project.
//! 2. Read the current live state of the backed-up addresses (fingerprints come from here, so
//!    apply refuses the plan if anything moves in between).
//! 3. Per resource: live and different → update whose body is built from the saved object
//!    (read-modify-write bodies for tenants, roles and permissions; the saved export as the
//!    import body for flows and the theme); deleted since → create; same → nothing.
//! 4. Order by dependencies, seal, write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::live::read_graph;
use super::{OpError, Session};
use crate::kinds;
use crate::kinds::ReadScope;
use crate::model::Address;
use crate::plan::diff::{ABSENT, EXISTS};
use crate::plan::effect::has_taken_effect;
use crate::plan::file::{PlanOptionsRecord, Summary, FORMAT, FORMAT_VERSION};
use crate::plan::{Action, Change, FieldChange, PlanFile, Reason};
use crate::resource::desired::SecretField;
use crate::resource::documents::project_onto;
use crate::resource::live::secret_refs;
use crate::resource::{DesiredResource, DocForm, LiveResource};
use crate::secret::SecretRef;
use crate::state::{
    list_backups, load_backup_at, BackedUpResource, BackupSummary, StateDir, StateFile,
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

    let saved = saved_graph(&backup.resources, &session.credentials.management_key);
    // Documents are read in the form the backup holds them (fingerprints are taken over the
    // theme's v1 export whatever the form, as apply takes them).
    let forms: BTreeMap<Address, DocForm> = saved
        .values()
        .filter_map(|l| kinds::document(l.spec.as_ref()).map(|(form, _)| (l.address.clone(), form)))
        .collect();
    let scope = ReadScope::for_addresses(backup.resources.iter().map(|r| &r.address), &forms);
    let secret_fields = backed_up_secrets(&backup.resources);
    session.handshake().await?;
    let live = read_graph(
        &session.gateway,
        &scope,
        &secret_fields,
        &session.credentials.management_key,
    )
    .await?;
    let mut warnings = live.warnings.clone();

    let mut drafts: Vec<(Change, Vec<Address>)> = Vec::new();
    let mut unchanged = Vec::new();
    for r in &backup.resources {
        let Some(d) = desired_from_saved(r, &saved) else {
            warnings.push(format!(
                "{}: the saved object cannot be read back; left out of the plan",
                r.address
            ));
            continue;
        };
        let l = live.resources.get(&r.address);
        let is_document = kinds::document(d.spec.as_ref()).is_some();
        let draft = match l {
            Some(l) if is_document => {
                let current = kinds::document(l.spec.as_ref())
                    .map(|(_, doc)| doc.clone())
                    .unwrap_or(Value::Null);
                document_update(&d, l, &current)
            }
            Some(l) => object_update(&d, r, l, &mut warnings),
            None => Some(Change::draft(
                r.address.clone(),
                Action::Create,
                Reason::NotInLiveProject,
                None,
                Some(create_from_saved(&d, &r.object)),
                vec![],
                false,
            )),
        };
        match draft {
            Some(c) if c.op.steps.is_empty() => warnings.push(format!(
                "{}: the saved object cannot be sent back; left out of the plan",
                r.address
            )),
            Some(c) => drafts.push((c, d.depends_on.clone())),
            None => unchanged.push(r.address.clone()),
        }
    }

    let changes = order(drafts, &live.resources)?;
    let mut fingerprints = BTreeMap::new();
    let mut dependencies = BTreeMap::new();
    let touched: BTreeSet<Address> = changes.iter().map(|(c, _)| c.address.clone()).collect();
    for (c, deps) in &changes {
        let fp = live
            .resources
            .get(&c.address)
            .map(LiveResource::fingerprint)
            .unwrap_or_else(|| ABSENT.to_string());
        fingerprints.insert(c.address.clone(), fp);
        for dep in deps.iter().filter(|d| !touched.contains(*d)) {
            dependencies.insert(dep.clone(), EXISTS.to_string());
        }
    }
    let changes: Vec<Change> = changes.into_iter().map(|(c, _)| c).collect();

    let state = StateFile::load(&session.state)?;
    let managed: Vec<Address> = touched
        .iter()
        .filter(|a| state.is_managed(a))
        .cloned()
        .collect();
    let unmanaged: Vec<Address> = touched
        .iter()
        .filter(|a| !state.is_managed(a))
        .cloned()
        .collect();
    let mut secrets: Vec<SecretRef> = Vec::new();
    for c in &changes {
        if let Some(after) = &c.after {
            secret_refs(after, &mut secrets);
        }
    }
    secrets.sort_by(|a, b| (&a.secret, &a.hmac).cmp(&(&b.secret, &b.hmac)));
    secrets.dedup();

    let plan = PlanFile {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        tool_version: crate::TOOL_VERSION.to_string(),
        created_at: Timestamp::now().to_string(),
        project_id: project_id.clone(),
        environment: environment.clone(),
        // Not made from a configuration: the digest of the backup it restores stands in.
        config_digest: format!("backup:{}", backup.plan_digest),
        options: PlanOptionsRecord::default(),
        summary: Summary::of(&changes),
        fingerprints,
        dependencies,
        secrets,
        unmanaged: vec![],
        forget: vec![],
        protected: managed
            .iter()
            .filter(|a| state.protected(a))
            .cloned()
            .collect(),
        delete_cascade: managed
            .iter()
            .filter(|a| state.get(a).is_some_and(|r| r.delete_cascade))
            .cloned()
            .collect(),
        config_addresses: managed,
        changes,
        digest: String::new(),
    }
    .seal();

    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| OpError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    write_atomic(&req.out, plan.to_canonical_string().as_bytes())
        .map_err(|e| OpError::Io(e.to_string()))?;
    Ok(RestoreOutcome {
        plan,
        saved_to: req.out.clone(),
        unchanged,
        unmanaged,
        warnings,
    })
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
        delete_cascade: false,
        ignore_changes: vec![],
    })
}

/// An import of the saved document when the live one differs from it.
fn document_update(d: &DesiredResource, l: &LiveResource, current: &Value) -> Option<Change> {
    let (_, document) = kinds::document(d.spec.as_ref())?;
    let live_view = project_onto(current, document);
    if live_view == *document {
        return None;
    }
    Some(Change::draft(
        d.address.clone(),
        Action::Update,
        Reason::FieldsChanged {
            fields: vec!["document".into()],
        },
        Some(l.raw.clone()),
        Some(kinds::of(d.address.kind()).create_body(d)),
        vec![FieldChange {
            field: "document".into(),
            before: Some(live_view),
            after: Some(document.clone()),
        }],
        false,
    ))
}

/// An update whose body is the saved object's (every updatable field, managed or not), or
/// nothing when the live object already carries it.
fn object_update(
    d: &DesiredResource,
    r: &BackedUpResource,
    l: &LiveResource,
    warnings: &mut Vec<String>,
) -> Option<Change> {
    let kind = kinds::of(d.address.kind());
    let after = kind.update_body(d, &r.object);
    let mut draft = Change::draft(
        d.address.clone(),
        Action::Update,
        Reason::FieldsChanged { fields: vec![] },
        Some(l.raw.clone()),
        Some(after),
        vec![],
        false,
    );
    if has_taken_effect(&draft, Some(l)) {
        return None;
    }
    let want = d.spec.fields();
    let have = l.spec.fields();
    let mut fields: Vec<FieldChange> = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange {
            field: (*k).to_string(),
            before: have.get(k).cloned(),
            after: Some(v.clone()),
        })
        .collect();
    if let Some(i) = fields
        .iter()
        .position(|f| kind.replace_fields().contains(&f.field.as_str()))
    {
        // Descope sets a parent only at creation; restoring it would be a replace, which a
        // restore never plans on its own.
        warnings.push(format!(
            "{}: its parent changed since the backup ({} -> {}); the restore keeps the current parent",
            d.address,
            fields[i].after.clone().unwrap_or(Value::Null),
            fields[i].before.clone().unwrap_or(Value::Null)
        ));
        fields.remove(i);
    }
    let names: Vec<String> = if fields.is_empty() {
        // Only fields the configuration never manages differ (e.g. a role's `default` flag).
        vec!["unmanaged fields".into()]
    } else {
        fields.iter().map(|f| f.field.clone()).collect()
    };
    draft.reason = Reason::FieldsChanged { fields: names };
    draft.fields = fields;
    Some(draft)
}

/// A create body from the saved object: the planner's create body, plus the saved fields it
/// does not manage, so the resource comes back as it was.
fn create_from_saved(d: &DesiredResource, saved: &Value) -> Value {
    let kind = kinds::of(d.address.kind());
    let mut body = kind.create_body(d);
    if let (Some(b), Some(s)) = (body.as_object_mut(), saved.as_object()) {
        for key in kind.restore_carried() {
            if let Some(v) = s.get(*key) {
                b.entry(key.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    body
}

/// Dependency order (ties by kind, then address); `depends_on` ids refer to earlier changes.
#[allow(clippy::type_complexity)]
fn order(
    drafts: Vec<(Change, Vec<Address>)>,
    live: &BTreeMap<Address, LiveResource>,
) -> Result<Vec<(Change, Vec<Address>)>, OpError> {
    let index: BTreeMap<Address, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (c.address.clone(), i))
        .collect();
    let mut problems = Vec::new();
    let mut needs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); drafts.len()];
    for (i, (c, deps)) in drafts.iter().enumerate() {
        for dep in deps {
            match index.get(dep) {
                Some(&j) if j != i => {
                    needs[i].insert(j);
                }
                Some(_) => {}
                None if live.contains_key(dep) => {}
                None => problems.push(crate::plan::diff::Problem {
                    address: c.address.clone(),
                    message: format!(
                        "needs {dep}, which is neither in the live project nor in the backup"
                    ),
                }),
            }
        }
    }
    if !problems.is_empty() {
        return Err(OpError::Plan(problems));
    }
    let mut placed: Vec<Option<usize>> = vec![None; drafts.len()];
    let mut sequence = Vec::new();
    while sequence.len() < drafts.len() {
        let next = (0..drafts.len())
            .filter(|&i| placed[i].is_none() && needs[i].iter().all(|&j| placed[j].is_some()))
            .min_by_key(|&i| (drafts[i].0.address.kind(), drafts[i].0.address.clone()));
        let Some(i) = next else {
            return Err(OpError::Plan(
                (0..drafts.len())
                    .filter(|&i| placed[i].is_none())
                    .map(|i| crate::plan::diff::Problem {
                        address: drafts[i].0.address.clone(),
                        message: "takes part in a dependency cycle in the backup".into(),
                    })
                    .collect(),
            ));
        };
        placed[i] = Some(sequence.len());
        sequence.push(i);
    }
    let mut slots: Vec<Option<(Change, Vec<Address>)>> = drafts.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for (pos, &i) in sequence.iter().enumerate() {
        if let Some((mut c, deps)) = slots[i].take() {
            c.id = pos;
            c.depends_on = needs[i]
                .iter()
                .filter_map(|&j| placed[j])
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            out.push((c, deps));
        }
    }
    Ok(out)
}
