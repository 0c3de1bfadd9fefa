//! Plans: the diff of desired and live state (`diff`), the exact bodies it will send
//! (`bodies`), the hashed plan file (`file`) and its renderings (`render`).

pub mod action;
pub mod diff;
pub mod digest;
pub mod effect;
pub mod file;
pub mod op;
pub mod render;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use action::{Action, Reason};
pub use digest::{Expected, Fingerprint, PlanDigest};
pub use file::{PlanFile, VerifiedPlan};
pub use op::Op;

use crate::model::Address;

/// One field's managed value before and after (for people; apply never reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One operation of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Position in execution order; `depends_on` refers to these.
    pub id: usize,
    pub address: Address,
    pub action: Action,
    pub reason: Reason,
    /// The live object as read when planning (secrets replaced by stand-ins).
    pub before: Option<Value>,
    /// The exact body to send (create, update, import); `None` for a delete.
    pub after: Option<Value>,
    /// Field-level view of the change, for display only.
    pub fields: Vec<FieldChange>,
    pub depends_on: Vec<usize>,
    /// Tenant deletes (and replaces) also remove the tenant's users and access keys.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cascade: bool,
    /// The requests apply sends for this change, exactly.
    pub op: Op,
}

impl Change {
    pub(crate) fn draft(
        address: Address,
        action: Action,
        reason: Reason,
        before: Option<Value>,
        after: Option<Value>,
        fields: Vec<FieldChange>,
        cascade: bool,
    ) -> Change {
        let kind = crate::kinds::of(address.kind());
        let cascade = cascade && kind.cascades() && action.is_destructive();
        let body = after.as_ref().unwrap_or(&serde_json::Value::Null);
        let live = before.as_ref().unwrap_or(&serde_json::Value::Null);
        let op = match action {
            Action::Create => kind.create_op(&address, body),
            Action::Update if matches!(reason, Reason::Renamed { .. }) => {
                kind.rename_op(&address, body)
            }
            Action::Update => kind.update_op(&address, body),
            Action::Delete => kind.delete_op(&address, live, cascade),
            Action::Replace => kind
                .delete_op(&address, live, cascade)
                .then(kind.create_op(&address, body)),
        };
        Change {
            op,
            id: 0,
            address,
            action,
            reason,
            before,
            after,
            fields,
            depends_on: vec![],
            cascade,
        }
    }
}

impl Change {
    /// The same change sending `after` as its body, its op derived again as `draft` derives it.
    pub fn with_body(self, after: Value) -> Change {
        let mut c = Change::draft(
            self.address,
            self.action,
            self.reason,
            self.before,
            Some(after),
            self.fields,
            self.cascade,
        );
        c.id = self.id;
        c.depends_on = self.depends_on;
        c
    }
}

/// Who and what a plan is for; recorded in the file and checked again by apply.
#[derive(Debug, Clone)]
pub struct PlanContext {
    pub project_id: String,
    pub environment: String,
    pub config_digest: String,
    /// RFC 3339; injected so tests can plan twice and compare.
    pub created_at: String,
}

/// Diff desired against live and seal the result as a plan file.
pub fn make_plan(
    ctx: &PlanContext,
    desired: &crate::resource::desired::DesiredGraph,
    live: &crate::resource::live::LiveGraph,
    ownership: &diff::Ownership,
    options: &diff::PlanOptions,
) -> Result<PlanFile, Vec<diff::Problem>> {
    let d = diff::diff(desired, live, ownership, options)?;
    let mut secrets = Vec::new();
    for c in &d.changes {
        if let Some(after) = &c.after {
            crate::resource::live::secret_refs(after, &mut secrets);
        }
    }
    secrets.sort_by(|a, b| (&a.secret, &a.hmac).cmp(&(&b.secret, &b.hmac)));
    secrets.dedup();
    let strings = |v: &[Address]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    Ok(PlanFile {
        format: file::FORMAT.to_string(),
        format_version: file::FORMAT_VERSION,
        tool_version: crate::TOOL_VERSION.to_string(),
        created_at: ctx.created_at.clone(),
        project_id: ctx.project_id.clone(),
        environment: ctx.environment.clone(),
        config_digest: ctx.config_digest.clone(),
        options: file::PlanOptionsRecord {
            targets: strings(&options.targets),
            prune: options
                .prune
                .iter()
                .map(|k| k.as_str().to_string())
                .collect(),
            allow_replace: strings(&options.allow_replace),
        },
        summary: file::Summary::of(&d.changes),
        changes: d.changes,
        fingerprints: d.fingerprints,
        dependencies: d.dependencies,
        secrets,
        unmanaged: d.unmanaged,
        forget: d.vanished,
        config_addresses: desired
            .resources
            .keys()
            .filter(|a| options.targets.is_empty() || d.in_scope.contains(*a))
            .cloned()
            .collect(),
        protected: desired
            .resources
            .values()
            .filter(|r| r.protect)
            .map(|r| r.address.clone())
            .collect(),
        delete_cascade: desired
            .resources
            .values()
            .filter(|r| r.delete_cascade && crate::kinds::of(r.address.kind()).cascades())
            .map(|r| r.address.clone())
            .collect(),
        digest: digest::PlanDigest::unsealed(),
    }
    .seal())
}

#[cfg(test)]
mod tests;
