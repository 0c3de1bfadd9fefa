//! Apply's checks before any write (docs/design.md §1-2): the plan is for this project and
//! environment, has not been used, its secrets still resolve to the same values, and every
//! resource it touches or needs is as it was when planned — per operation when resuming.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::secrets::{SecretPolicy, SecretRefusal};
use crate::model::Address;
use crate::plan::effect::{changed_fields, has_taken_effect, matches_before};
use crate::plan::{Expected, PlanFile};
use crate::resource::live::LiveGraph;
use crate::secret::SecretRef;

/// How far a previous run of this plan got with one operation (from the journal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpProgress {
    Untouched,
    /// Started, no end recorded: the process died or the outcome was ambiguous.
    InFlight,
    Finished,
    Failed,
}

pub struct VerifyInput<'a> {
    pub plan: &'a PlanFile,
    pub live: &'a LiveGraph,
    pub project_id: &'a str,
    pub environment: &'a str,
    pub already_applied: bool,
    /// Per operation id; empty for a first run.
    pub progress: &'a BTreeMap<usize, OpProgress>,
    /// Fingerprints state.json recorded for managed addresses (drift on untouched ones warns).
    pub recorded: &'a BTreeMap<Address, String>,
    /// Recomputes a secret's stand-in from the variable's current value and the current key;
    /// `None` when the variable is not set.
    pub recompute_secret: &'a dyn Fn(&str) -> Option<SecretRef>,
    /// Where stand-ins may resolve: the fields the configuration declares as `${secret:VAR}`.
    pub secrets: &'a SecretPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleResource {
    pub address: Address,
    pub expected: String,
    pub changed_fields: Vec<String>,
}

/// Why apply refuses the plan (exit 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    OtherProject {
        plan: String,
        configured: String,
    },
    OtherEnvironment {
        plan: String,
        configured: String,
    },
    AlreadyApplied {
        digest: String,
    },
    /// The plan was made from another configuration than the one apply was given.
    OtherConfig {
        plan: String,
        given: String,
    },
    /// The plan file is not what the planner makes now (an edit between review and apply).
    NotDerived {
        detail: String,
    },
    SecretChanged {
        var: String,
    },
    SecretMissing {
        var: String,
    },
    /// A stand-in in a request body that would not resolve (undeclared field, variable or HMAC).
    Secret(SecretRefusal),
    Stale(Vec<StaleResource>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OtherProject { plan, configured } => write!(
                f,
                "the plan is for project {plan}, but this environment is configured for project {configured}; \
                 check --env and DESCOPE_PROJECT_ID, or plan again"
            ),
            Refusal::OtherEnvironment { plan, configured } => write!(
                f,
                "the plan is for environment `{plan}`, not `{configured}`; run apply with --env {plan}"
            ),
            Refusal::AlreadyApplied { digest } => write!(
                f,
                "this plan ({digest}) was already applied in full; plans are used once. Run plan again"
            ),
            Refusal::OtherConfig { plan, given } => write!(
                f,
                "the plan was made from another configuration ({plan}) than the one given ({given}); \
                 apply it with the configuration it was planned from (the reviewed commit), or plan again"
            ),
            Refusal::NotDerived { detail } => write!(
                f,
                "the plan file is not what the planner makes from this configuration and the live project: {detail}. \
                 Nothing was written. Was the plan file edited after review? Run plan again"
            ),
            Refusal::SecretChanged { var } => write!(
                f,
                "secret {var} changed or key rotated: plan again"
            ),
            Refusal::SecretMissing { var } => write!(
                f,
                "secret variable {var} is not set; set it as when planning, or plan again"
            ),
            Refusal::Secret(r) => write!(f, "secret stand-in refused: {r}. Nothing was written"),
            Refusal::Stale(list) => {
                writeln!(
                    f,
                    "the live project changed since planning; {} resource(s) are not as planned:",
                    list.len()
                )?;
                for s in list {
                    let what = if s.changed_fields.is_empty() {
                        String::new()
                    } else {
                        format!(" (changed: {})", s.changed_fields.join(", "))
                    };
                    writeln!(f, "  {} — expected {}{what}", s.address, s.expected)?;
                }
                write!(f, "Nothing was written. Run plan again to see the current differences.")
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Operations a previous run finished, confirmed live: skipped this time.
    pub already_done: BTreeSet<usize>,
    pub warnings: Vec<String>,
}

pub fn verify(input: &VerifyInput<'_>) -> Result<Verified, Refusal> {
    let plan = input.plan;
    if plan.project_id != input.project_id {
        return Err(Refusal::OtherProject {
            plan: plan.project_id.clone(),
            configured: input.project_id.to_string(),
        });
    }
    if plan.environment != input.environment {
        return Err(Refusal::OtherEnvironment {
            plan: plan.environment.clone(),
            configured: input.environment.to_string(),
        });
    }
    if input.already_applied {
        return Err(Refusal::AlreadyApplied {
            digest: plan.digest.to_string(),
        });
    }
    for s in &plan.secrets {
        match (input.recompute_secret)(&s.secret) {
            None => {
                return Err(Refusal::SecretMissing {
                    var: s.secret.clone(),
                })
            }
            Some(now) if now.hmac != s.hmac => {
                return Err(Refusal::SecretChanged {
                    var: s.secret.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for c in &plan.changes {
        input.secrets.check(c).map_err(Refusal::Secret)?;
    }

    let mut stale = Vec::new();
    let mut verified = Verified::default();
    for c in &plan.changes {
        let live = input.live.resources.get(&c.address);
        let fingerprint = plan
            .fingerprints
            .get(&c.address)
            .unwrap_or(&Expected::Absent);
        let progress = input
            .progress
            .get(&c.id)
            .copied()
            .unwrap_or(OpProgress::Untouched);
        // An address can appear twice (a swap's temporary step, then the real update): once
        // the earlier step ran, the later one starts from that step's result, not `before`.
        let earlier_step_ran = plan
            .changes
            .iter()
            .rfind(|p| p.id < c.id && p.address == c.address)
            .is_some_and(|p| {
                let ran = input
                    .progress
                    .get(&p.id)
                    .is_some_and(|s| *s != OpProgress::Untouched);
                ran && has_taken_effect(p, live)
            });
        let before_ok = matches_before(live, fingerprint)
            || left_by_owner_change(plan, &c.address, live)
            || earlier_step_ran;
        let after_ok = has_taken_effect(c, live);
        let ok = match progress {
            OpProgress::Finished if after_ok => {
                verified.already_done.insert(c.id);
                true
            }
            // A finished import (flows, theme) cannot be read back from a list entry; it is
            // idempotent, so it simply runs again.
            OpProgress::Finished => before_ok || !plan_kind_readable(c),
            OpProgress::InFlight | OpProgress::Failed => {
                if after_ok {
                    verified.already_done.insert(c.id);
                }
                // A replace is a delete then a create: stopped between the two, the object is
                // absent, neither `before` nor `after`; running it again finishes it (the
                // delete finds nothing to delete, the create runs).
                let half_replaced = c.action == crate::plan::Action::Replace && live.is_none();
                before_ok || after_ok || half_replaced || !plan_kind_readable(c)
            }
            OpProgress::Untouched => before_ok,
        };
        if !ok {
            stale.push(StaleResource {
                address: c.address.clone(),
                expected: if *fingerprint == Expected::Absent {
                    "absent".into()
                } else {
                    "unchanged since planning".into()
                },
                changed_fields: changed_fields(c.before.as_ref(), live.map(|l| l.raw()).as_ref()),
            });
        }
    }
    for (dep, want) in &plan.dependencies {
        if !want.matches(input.live.resources.get(dep)) {
            stale.push(StaleResource {
                address: dep.clone(),
                expected: "to exist (a planned change needs it)".into(),
                changed_fields: vec!["(deleted since planning)".into()],
            });
        }
    }
    if !stale.is_empty() {
        return Err(Refusal::Stale(stale));
    }

    let touched: BTreeSet<&Address> = plan.changes.iter().map(|c| &c.address).collect();
    for (addr, recorded) in input.recorded {
        if touched.contains(addr) {
            continue;
        }
        match input.live.resources.get(addr) {
            Some(l) if &l.fingerprint() != recorded => verified
                .warnings
                .push(format!("{addr} changed outside descope-mgmt since the last apply (not touched by this plan)")),
            None => verified
                .warnings
                .push(format!("{addr} is managed but no longer exists live (not touched by this plan)")),
            _ => {}
        }
    }
    Ok(verified)
}

/// What the plan's own creates and replaces of an owner (a tenant) do to the objects inside it,
/// as a resume finds them before their operations run: a tenant this plan creates (or
/// re-creates) brings its default roles into existence, empty; a tenant it replaces takes its
/// tenant roles with it when deleted. That state is the `before` the operation was planned
/// against ("absent", or the old tenant's objects), not a change made behind the plan's back.
fn left_by_owner_change(
    plan: &PlanFile,
    address: &Address,
    live: Option<&crate::resource::LiveResource>,
) -> bool {
    use crate::plan::Action;
    let Some(owner) = crate::kinds::of(address.kind()).owner(address) else {
        return false;
    };
    let owner_action = plan
        .changes
        .iter()
        .find(|c| c.address == owner)
        .map(|c| c.action);
    let empty = live.is_some_and(|l| {
        l.spec
            .fields()
            .values()
            .all(crate::resource::is_default_value)
    });
    match (owner_action, live) {
        // Between a replace's delete and its create there is no owner, nor anything in it.
        (Some(Action::Replace), None) => true,
        // A created owner brings its parts into existence, empty (a tenant's default roles).
        (Some(Action::Create | Action::Replace), Some(_)) => empty,
        _ => false,
    }
}

fn plan_kind_readable(c: &crate::plan::Change) -> bool {
    crate::kinds::of(c.address.kind()).verifiable()
}
