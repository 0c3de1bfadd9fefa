//! `descope-mgmt drift`: a read-only comparison of the live project with the configuration
//! (format in docs/drift.md).
//!
//! 1. Build the desired graph and read the live project exactly as `plan` does.
//! 2. (a) Plan in memory: every change the plan would make is a difference.
//! 3. (b) Compare state.json's recorded fingerprints with live ones: what changed outside the
//!    tool since the last apply (even in fields the config does not manage).
//! 4. (c) List unmanaged live resources, for information.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::live::read_snapshot;
use super::plan::{desired_graph, document_forms};
use super::{OpError, Session};
use crate::kinds::ReadScope;
use crate::model::Address;
use crate::plan::diff::{Ownership, PlanOptions, ABSENT};
use crate::plan::{make_plan, render, Action, PlanContext};
use crate::resource::live;
use crate::state::StateFile;
use crate::util::timestamp::Timestamp;

pub const DRIFT_FORMAT: &str = "descope-mgmt-drift";
/// Bumped when a field is removed or changes meaning; adding a field keeps the version.
pub const DRIFT_FORMAT_VERSION: u32 = 1;

/// The whole report; serialized as is for `--format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftReport {
    pub format: String,
    pub format_version: u32,
    pub environment: String,
    pub project_id: String,
    pub checked_at: String,
    /// No differences and nothing changed outside the tool (unmanaged resources do not count).
    pub in_sync: bool,
    /// (a) Where live differs from the configuration, as the plan that would fix it.
    pub differences: Vec<Difference>,
    /// (b) Managed resources whose live object no longer matches what the last apply recorded.
    pub changed_outside: Vec<OutsideChange>,
    /// (c) Live resources this tool does not manage (information only).
    pub unmanaged: Vec<Address>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    pub address: Address,
    /// What `plan` would do about it: create, update, delete or replace.
    pub action: Action,
    /// Why, in words (e.g. "name changed", "removed from config").
    pub reason: String,
    pub fields: Vec<FieldDrift>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDrift {
    /// Config field name (`name`, `domains`, `permissions`, `document`, …).
    pub field: String,
    /// Live value; `null` when the resource does not exist live or for documents.
    pub live: Option<Value>,
    /// Configured value; `null` for documents.
    pub config: Option<Value>,
    /// Flow and theme documents only: the paths that differ (`- x` only live, `+ x` only in
    /// the config, `~ x` different), e.g. `~ screens[welcome].htmlTemplate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutsideChange {
    pub address: Address,
    /// What state.json recorded after the last apply.
    pub recorded_fingerprint: String,
    /// The live object's fingerprint now, or "absent" when it was deleted.
    pub live_fingerprint: String,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.in_sync
    }
}

pub async fn drift(session: &Session) -> Result<DriftReport, OpError> {
    let desired = desired_graph(session)?;
    let state = StateFile::load(&session.state)?;
    let forms = document_forms(&desired);
    let scope = ReadScope::for_addresses(
        desired.resources.keys().chain(state.resources.keys()),
        &forms,
    );
    session.handshake().await?;
    let snapshot = read_snapshot(&session.gateway, &scope).await?;
    let key = &session.credentials.management_key;
    let live = live::build(&snapshot, &desired.secret_fields, key);

    // Drift reports, it never refuses: protection and replace rules are apply's business, so
    // they are relaxed here to let every difference show.
    let ownership = Ownership {
        protected: BTreeSet::new(),
        ..Ownership::from_state(&state)
    };
    let options = PlanOptions {
        allow_replace: desired.resources.keys().cloned().collect(),
        ..PlanOptions::default()
    };
    let ctx = PlanContext {
        project_id: session.credentials.project_id.clone(),
        environment: session.loaded.environment.clone(),
        config_digest: session.loaded.source_digest.clone(),
        created_at: Timestamp::now().to_string(),
    };
    let plan = make_plan(&ctx, &desired, &live, &ownership, &options).map_err(OpError::Plan)?;

    let differences: Vec<Difference> = plan
        .changes
        .iter()
        .map(|c| Difference {
            address: c.address.clone(),
            action: c.action,
            reason: c.reason.to_string(),
            fields: c
                .fields
                .iter()
                .map(|f| {
                    if f.field == "document" {
                        let mut paths = Vec::new();
                        let before = f.before.clone().unwrap_or(Value::Null);
                        let after = f.after.clone().unwrap_or(Value::Null);
                        render::document_diff("", &before, &after, &mut paths);
                        FieldDrift {
                            field: f.field.clone(),
                            live: None,
                            config: None,
                            paths,
                        }
                    } else {
                        FieldDrift {
                            field: f.field.clone(),
                            live: f.before.clone(),
                            config: f.after.clone(),
                            paths: vec![],
                        }
                    }
                })
                .collect(),
        })
        .collect();

    // apply records fingerprints over objects whose secrets it masked only when they were in
    // its plan: accept either form rather than report a secret's stand-in as drift.
    let unmasked = live::build(&snapshot, &[], key);
    let mut changed_outside = Vec::new();
    for (address, recorded) in &state.resources {
        let now: Vec<String> = [&live, &unmasked]
            .iter()
            .filter_map(|g| g.resources.get(address).map(|l| l.fingerprint()))
            .collect();
        // Flows are listed whenever some flow is configured or managed, so a managed flow
        // missing here really is gone.
        let live_fingerprint = match now.first() {
            None => ABSENT.to_string(),
            Some(_) if now.contains(&recorded.fingerprint) => continue,
            Some(first) => first.clone(),
        };
        changed_outside.push(OutsideChange {
            address: address.clone(),
            recorded_fingerprint: recorded.fingerprint.clone(),
            live_fingerprint,
        });
    }

    // Write-only values (secrets Descope never returns) are compared with what the last apply
    // sent, not with the live project: say so rather than imply they were checked.
    let mut warnings = live.warnings;
    for (address, d) in &desired.resources {
        let kind = crate::kinds::of(address.kind());
        if let Some(note) = crate::resource::write_only::drift_note(kind, address, &d.spec.fields())
        {
            warnings.push(note);
        }
    }

    let in_sync = differences.is_empty() && changed_outside.is_empty();
    Ok(DriftReport {
        format: DRIFT_FORMAT.to_string(),
        format_version: DRIFT_FORMAT_VERSION,
        environment: plan.environment.clone(),
        project_id: plan.project_id.clone(),
        checked_at: ctx.created_at,
        in_sync,
        differences,
        changed_outside,
        unmanaged: plan.unmanaged.clone(),
        warnings,
    })
}
