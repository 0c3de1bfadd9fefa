//! `descope-mgmt plan`: config + live project + state.json → a sealed plan file.
//!
//! 1. Build the desired graph from the loaded configuration.
//! 2. Read the live project (one list per kind; exports only for configured flows/theme).
//! 3. Read ownership from state.json.
//! 4. Diff, order, seal; save when asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::live::request_count;
use super::{OpError, Session};
use crate::kinds::ReadScope;
use crate::model::{Address, Kind};
use crate::plan::diff::{Ownership, PlanOptions};
use crate::plan::{make_plan, PlanContext, PlanFile};
use crate::resource::desired::{self, DesiredGraph, DesiredInput, SecretField};
use crate::resource::DocForm;
use crate::state::StateFile;
use crate::util::atomic::write_atomic;
use crate::util::timestamp::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub out: Option<PathBuf>,
    /// Also keep the plan under `state/<env>/plans/<digest>.json` (what `apply` without a plan
    /// file applies, so an interrupted run can be resumed from there).
    pub keep_in_state: bool,
    pub targets: Vec<String>,
    pub prune: Vec<String>,
    pub allow_replace: Vec<String>,
}

#[derive(Debug)]
pub struct PlanOutcome {
    pub plan: PlanFile,
    pub saved_to: Option<PathBuf>,
    /// Requests the apply will send, and how long the rate budget alone makes that take.
    pub apply_requests: usize,
    pub apply_estimate: Duration,
    pub warnings: Vec<String>,
}

pub fn parse_options(req: &PlanRequest) -> Result<PlanOptions, OpError> {
    let addr = |s: &String, flag: &str| {
        s.parse::<Address>()
            .map_err(|e| OpError::Usage(format!("{flag} {s}: {e}")))
    };
    let mut prune = Vec::new();
    for k in &req.prune {
        let kind: Kind = k
            .parse()
            .map_err(|e: crate::model::AddressError| OpError::Usage(format!("--prune {k}: {e}")))?;
        if !crate::kinds::of(kind).prunable() {
            let prunable: Vec<&str> = crate::kinds::all()
                .iter()
                .filter(|k| k.prunable())
                .map(|k| k.kind().as_str())
                .collect();
            return Err(OpError::Usage(format!(
                "--prune {k}: only {} can be pruned (flows and the theme never are)",
                prunable.join(", ")
            )));
        }
        prune.push(kind);
    }
    Ok(PlanOptions {
        targets: req
            .targets
            .iter()
            .map(|t| addr(t, "--target"))
            .collect::<Result<_, _>>()?,
        prune,
        allow_replace: req
            .allow_replace
            .iter()
            .map(|t| addr(t, "--allow-replace"))
            .collect::<Result<_, _>>()?,
    })
}

pub fn desired_graph(session: &Session) -> Result<DesiredGraph, OpError> {
    let loaded = &session.loaded;
    let read = |rel: &str| loaded.read_json(rel).map_err(|d| d.to_string());
    let read_text = |rel: &str| {
        use crate::util::input::{inside, read, InputFile};
        inside(&loaded.base_dir, rel, InputFile::Certificate)
            .and_then(|p| read(&p, InputFile::Certificate))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| e.to_string())
    };
    desired::build(&DesiredInput {
        config: &loaded.config,
        secrets: &loaded.secrets,
        key: &session.credentials.management_key,
        read_document: &read,
        read_text: &read_text,
    })
    .map_err(|errors| OpError::Usage(errors.join("\n")))
}

/// The forms of the configured flow and theme documents.
pub fn document_forms(desired: &DesiredGraph) -> BTreeMap<Address, DocForm> {
    desired
        .resources
        .values()
        .filter_map(|r| {
            crate::kinds::document(r.spec.as_ref()).map(|(form, _)| (r.address.clone(), form))
        })
        .collect()
}

/// What a plan is made from besides the live project: the desired graph, what to read, and
/// which live fields hold secrets. `plan` and `apply` (re-deriving the plan it was given) use
/// the same.
pub struct Planning {
    pub desired: DesiredGraph,
    pub scope: ReadScope,
    pub secret_fields: Vec<SecretField>,
}

pub fn planning(session: &Session, state: &StateFile) -> Result<Planning, OpError> {
    let desired = desired_graph(session)?;
    let forms = document_forms(&desired);
    let scope = ReadScope::for_addresses(
        desired.resources.keys().chain(state.resources.keys()),
        &forms,
    );

    // Secrets the config names, and those state.json remembers from earlier applies: a tenant
    // removed from the config (or an attribute dropped from it) still holds its secret live,
    // and the plan's `before` must show only the stand-in.
    let mut secret_fields = desired.secret_fields.clone();
    for (address, managed) in &state.resources {
        for (attribute, var) in &managed.secrets {
            if !secret_fields
                .iter()
                .any(|f| &f.address == address && &f.attribute == attribute)
            {
                secret_fields.push(SecretField {
                    address: address.clone(),
                    attribute: attribute.clone(),
                    var: var.clone(),
                });
            }
        }
    }
    Ok(Planning {
        desired,
        scope,
        secret_fields,
    })
}

/// The plan the planner makes from these inputs (deterministic: the same inputs give the same
/// file, `created_at` included).
pub fn derive(
    session: &Session,
    planning: &Planning,
    live: &crate::resource::live::LiveGraph,
    state: &StateFile,
    options: &PlanOptions,
    created_at: String,
) -> Result<PlanFile, OpError> {
    let ownership = Ownership::from_state(state);
    let ctx = PlanContext {
        project_id: session.credentials.project_id.clone(),
        environment: session.loaded.environment.clone(),
        config_digest: session.loaded.source_digest.clone(),
        created_at,
    };
    make_plan(&ctx, &planning.desired, live, &ownership, options).map_err(OpError::Plan)
}

pub async fn plan(session: &Session, req: &PlanRequest) -> Result<PlanOutcome, OpError> {
    let options = parse_options(req)?;
    // A plan reads state.json for ownership and secrets, never the recorded objects and
    // fingerprints: 10k of them are megabytes held through the live read for nothing.
    let state = StateFile::load(&session.state)?.into_ownership_only();
    let mut planning = planning(session, &state)?;
    // A kind read only when named is read for `--prune KIND` too.
    planning.scope.kinds.extend(options.prune.iter().copied());

    // Without --prune a target or replace must be in the config or state.json, which is
    // known before any request; with it, a live resource may be a target too.
    let offline = options.prune.is_empty();
    if offline {
        known_addresses(&options, &planning.desired, None, &state)?;
    }
    let live = session
        .read_live(&planning.scope, &planning.secret_fields)
        .await?;
    if !offline {
        known_addresses(&options, &planning.desired, Some(&live), &state)?;
    }
    let plan = derive(
        session,
        &planning,
        &live,
        &state,
        &options,
        Timestamp::now().to_string(),
    )?;
    let Planning { desired, scope, .. } = planning;
    let warnings: Vec<String> = desired
        .warnings
        .iter()
        .chain(&live.warnings)
        .cloned()
        .collect();
    // Writing the plan's text is the last large thing a plan does: the graphs it was made
    // from are not held through it (a 10k-tenant plan's peak memory).
    drop((desired, live, state));
    let scope = &scope;

    // The one place a plan file is written (docs/plan-format.md): `-out FILE` on this machine,
    // and the copy apply keeps (to resume) wherever the state lives.
    let text = plan.to_canonical_string();
    if let Some(path) = &req.out {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| OpError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        write_atomic(path, text.as_bytes()).map_err(|e| OpError::Io(e.to_string()))?;
    }
    let kept = if req.keep_in_state {
        Some(session.state.save_plan(&plan.digest, text.as_bytes())?)
    } else {
        None
    };
    let saved_to = req.out.clone().or(kept);
    let apply_requests = estimate_requests(&plan, scope);
    Ok(PlanOutcome {
        apply_estimate: session.gateway.estimate(apply_requests),
        apply_requests,
        saved_to,
        warnings,
        plan,
    })
}

/// A `--target` or `--allow-replace` naming nothing would silently plan nothing for it; an
/// address is known when the config, state.json or (with `live`) the live project holds it.
fn known_addresses(
    options: &PlanOptions,
    desired: &DesiredGraph,
    live: Option<&crate::resource::live::LiveGraph>,
    state: &StateFile,
) -> Result<(), OpError> {
    let empty = crate::resource::live::LiveGraph::default();
    let live_graph = live.unwrap_or(&empty);
    let known = |a: &Address| {
        desired.resources.contains_key(a)
            || live_graph.resources.contains_key(a)
            || state.resources.contains_key(a)
    };
    let flagged = options
        .targets
        .iter()
        .map(|a| ("--target", a))
        .chain(options.allow_replace.iter().map(|a| ("--allow-replace", a)));
    for (flag, address) in flagged {
        if known(address) {
            continue;
        }
        let names: Vec<String> = desired
            .resources
            .keys()
            .chain(live_graph.resources.keys())
            .chain(state.resources.keys())
            .map(Address::to_string)
            .collect();
        let hint = crate::config::diagnostic::did_you_mean(
            &address.to_string(),
            names.iter().map(String::as_str),
        )
        .map(|h| format!("; {h}"))
        .unwrap_or_default();
        let searched = if live.is_some() {
            "the configuration, the live project or state.json"
        } else {
            "the configuration or state.json"
        };
        return Err(OpError::Usage(format!(
            "{flag} {address}: no such resource in {searched}{hint}"
        )));
    }
    Ok(())
}

/// Requests an apply of `plan` sends: the live reads to verify, one write per change (two for a
/// replace), and the reads that refresh fingerprints afterwards.
pub fn estimate_requests(plan: &PlanFile, scope: &ReadScope) -> usize {
    let writes: usize = plan
        .changes
        .iter()
        .map(|c| {
            if c.action == crate::plan::Action::Replace {
                2
            } else {
                1
            }
        })
        .sum();
    if writes == 0 {
        return 0;
    }
    1 + 2 * request_count(scope) + writes
}
