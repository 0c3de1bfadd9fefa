//! Desired graph + live graph + ownership → ordered changes (docs/design.md §1-2).
//!
//! 1. Decide an action per address (create, update, delete, replace, or nothing).
//! 2. Refuse what must never happen silently: deleting protected or system resources,
//!    replacing without `--allow-replace`, claiming a name or domain nobody releases.
//! 3. Wire dependencies: creates/updates after what they need, deletes in reverse,
//!    releases of unique names and domains before their claims.
//! 4. Order topologically (ties by address) and record the fingerprints planned against.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::action::{Action, Reason};
use super::{Change, Expected, FieldChange};
use crate::kinds::{self, Claim, Reference};
use crate::model::{Address, Kind};
use crate::resource::desired::DesiredGraph;
use crate::resource::live::LiveGraph;
use crate::resource::{DesiredResource, LiveResource};
use crate::util::dependency_queue::{BuildError, DependencyQueue};

/// What state.json says about ownership.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    pub managed: BTreeSet<Address>,
    pub protected: BTreeSet<Address>,
    /// Tenants whose last applied config said `delete_cascade: true`.
    pub cascade: BTreeSet<Address>,
    /// Write-only values the last apply of each address sent (stand-ins for secrets).
    pub write_only: crate::resource::write_only::Recorded,
}

impl Ownership {
    /// What state.json records: managed addresses, and the remembered `protect` and
    /// `delete_cascade` settings.
    pub fn from_state(state: &crate::state::StateFile) -> Ownership {
        let flagged = |pick: fn(&crate::state::ManagedResource) -> bool| {
            state
                .resources
                .iter()
                .filter(|(_, r)| pick(r))
                .map(|(a, _)| a.clone())
                .collect()
        };
        Ownership {
            managed: state.resources.keys().cloned().collect(),
            protected: flagged(|r| r.protect),
            cascade: flagged(|r| r.delete_cascade),
            write_only: state
                .resources
                .iter()
                .filter(|(_, r)| !r.write_only.is_empty())
                .map(|(a, r)| (a.clone(), r.write_only.clone()))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub targets: Vec<Address>,
    pub prune: Vec<Kind>,
    pub allow_replace: Vec<Address>,
}

#[derive(Debug, Clone, Default)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Every address a change touches → live fingerprint, or absent.
    pub fingerprints: BTreeMap<Address, Expected>,
    /// Every address a change depends on but does not touch → exists.
    pub dependencies: BTreeMap<Address, Expected>,
    /// Live resources never managed (information only).
    pub unmanaged: Vec<Address>,
    /// Managed resources that no longer exist live and left no action (forgotten on apply).
    pub vanished: Vec<Address>,
    /// With `--target`: the targets and what they depend on.
    pub in_scope: BTreeSet<Address>,
}

/// One reason the plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub address: Address,
    pub message: String,
}

/// The text of [`Expected::Absent`] (drift reports use it for an object that is gone).
pub const ABSENT: &str = Expected::ABSENT;

pub fn diff(
    desired: &DesiredGraph,
    live: &LiveGraph,
    ownership: &Ownership,
    options: &PlanOptions,
) -> Result<Diff, Vec<Problem>> {
    let mut problems = Vec::new();
    let scope = Scope::new(desired, &options.targets);
    let mut out = Diff {
        in_scope: scope.0.clone().unwrap_or_default(),
        ..Diff::default()
    };
    let mut drafts: Vec<Change> = Vec::new();

    let addresses: BTreeSet<&Address> = desired
        .resources
        .keys()
        .chain(live.resources.keys())
        .chain(ownership.managed.iter())
        .collect();

    let renames = find_renames(desired, live, &scope, &mut problems);
    let renamed: BTreeSet<&Address> = renames.values().collect();
    for address in addresses {
        // A renamed object's old address is planned as the rename, under its new address.
        if !scope.contains(address) || renamed.contains(address) {
            continue;
        }
        let d = desired.resources.get(address);
        let l = live.resources.get(address);
        if let (Some(d), None, Some(from)) = (d, l, renames.get(address)) {
            drafts.push(plan_rename(d, &live.resources[from], from));
            continue;
        }
        match (d, l) {
            (Some(d), Some(l)) => {
                if let Some(change) = plan_existing(d, l, live, options, ownership, &mut problems) {
                    drafts.push(change);
                }
            }
            (Some(d), None) => drafts.push(Change::draft(
                address.clone(),
                Action::Create,
                Reason::NotInLiveProject,
                None,
                Some(kinds::of(address.kind()).create_body(d)),
                field_changes(&d.spec.fields(), &BTreeMap::new(), &d.ignore_changes),
                d.delete_cascade,
            )),
            (None, Some(l)) => {
                if let Some(change) = plan_absent_from_config(l, ownership, options, &mut problems)
                {
                    drafts.push(change);
                } else if !ownership.managed.contains(address)
                    && !l.system
                    && kinds::of(address.kind()).reports_unmanaged()
                {
                    out.unmanaged.push(address.clone());
                }
            }
            (None, None) => out.vanished.push(address.clone()),
        }
    }

    recreate_under_replaced(desired, live, &scope, &mut drafts, &mut problems);
    check_deleted_parents(live, &drafts, &mut problems);
    check_unique_claims(live, &drafts, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut deps = wire_dependencies(desired, live, &drafts);
    let mut sorted = topological_order(&drafts, &deps);
    // Swaps (docs/design.md §2, Ordering): two tenants trading a name or domain wait for each
    // other.
    // Break each such cycle with a temporary update that frees the value first, one at a time,
    // so a two-way swap needs one extra request.
    while let Err(stuck) = &sorted {
        let Some(temp) = swap_release(live, &drafts, stuck) else {
            break;
        };
        drafts.push(temp);
        deps = wire_dependencies(desired, live, &drafts);
        sorted = topological_order(&drafts, &deps);
    }
    let order = match sorted {
        Ok(order) => order,
        Err(cycle) => {
            return Err(cycle
                .into_iter()
                .map(|i| Problem {
                    address: drafts[i].address.clone(),
                    message: "takes part in a cycle of changes (e.g. two tenants swapping a name or domain); \
                              apply it in two steps: first free the value, then claim it"
                        .to_string(),
                })
                .collect())
        }
    };

    let mut position = vec![0; drafts.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    for (pos, &i) in order.iter().enumerate() {
        let mut c = drafts[i].clone();
        c.id = pos;
        c.depends_on = deps[i]
            .iter()
            .map(|&j| position[j])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        out.changes.push(c);
    }

    for c in &out.changes {
        out.fingerprints.insert(
            c.address.clone(),
            Expected::of(live.resources.get(&c.address)),
        );
    }
    // A rename changes the object at its old address: apply checks that one too.
    for from in renames.values() {
        out.fingerprints
            .insert(from.clone(), Expected::of(live.resources.get(from)));
    }
    for c in &out.changes {
        if c.action == Action::Delete {
            continue;
        }
        for dep in desired
            .resources
            .get(&c.address)
            .map(|d| d.depends_on.as_slice())
            .unwrap_or(&[])
        {
            if out.fingerprints.contains_key(dep) {
                continue;
            }
            if live.resources.contains_key(dep) {
                out.dependencies.insert(dep.clone(), Expected::Exists);
            } else {
                problems.push(Problem {
                    address: c.address.clone(),
                    message: format!(
                        "needs {dep}, which is neither in the live project nor planned"
                    ),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Every address the config names, touched or not: apply re-derives the plan and tells a
    // change the file lost from drift by these (docs/plan-format.md, Threat model).
    for a in desired.resources.keys().filter(|a| scope.contains(a)) {
        out.fingerprints
            .entry(a.clone())
            .or_insert_with(|| Expected::of(live.resources.get(a)));
    }
    Ok(out)
}

/// Addresses the plan may touch: everything, or the targets and what they depend on.
struct Scope(Option<BTreeSet<Address>>);

impl Scope {
    fn new(desired: &DesiredGraph, targets: &[Address]) -> Scope {
        if targets.is_empty() {
            return Scope(None);
        }
        let mut set = BTreeSet::new();
        let mut stack: Vec<Address> = targets.to_vec();
        while let Some(a) = stack.pop() {
            if set.insert(a.clone()) {
                if let Some(d) = desired.resources.get(&a) {
                    stack.extend(d.depends_on.iter().cloned());
                }
            }
        }
        Scope(Some(set))
    }

    fn contains(&self, a: &Address) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(a))
    }
}

fn plan_existing(
    d: &DesiredResource,
    l: &LiveResource,
    live: &LiveGraph,
    options: &PlanOptions,
    ownership: &Ownership,
    problems: &mut Vec<Problem>,
) -> Option<Change> {
    let kind = kinds::of(d.address.kind());
    let want = d.spec.fields();
    let mut have = l.spec.fields();
    kind.compare_view(d.spec.as_ref(), &mut have);
    crate::resource::write_only::fill(kind, &want, &mut have, ownership.write_only.get(&d.address));
    let mut fields = field_changes(&want, &have, &d.ignore_changes);
    let forces_replace = |f: &FieldChange| kind.replace_fields().contains(&f.field.as_str());
    // A field the API did not return is unknown: never a reason to replace (a tenant's parent).
    fields.retain(|f| !(forces_replace(f) && f.before.is_none()));
    if fields.is_empty() {
        return None;
    }
    if l.system {
        problems.push(Problem {
            address: d.address.clone(),
            message: "is a Descope system default and is never changed by this tool; remove it from the config"
                .into(),
        });
        return None;
    }
    if let Some(parent) = fields.iter().find(|f| forces_replace(f)) {
        let text = |v: &Option<Value>| {
            v.as_ref()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (reason, loses) = match parent.field.as_str() {
            "parent" => (
                Reason::ParentChanged {
                    from: text(&parent.before),
                    to: text(&parent.after),
                },
                ", destroying the tenant's users and SSO setup",
            ),
            field => (
                Reason::CreateOnlyChanged {
                    field: field.to_string(),
                    from: text(&parent.before),
                    to: text(&parent.after),
                },
                "",
            ),
        };
        if !options.allow_replace.contains(&d.address) {
            problems.push(Problem {
                address: d.address.clone(),
                message: format!(
                    "{reason}: that means delete and create{loses}. \
                     Re-run with --allow-replace {} if that is intended",
                    d.address
                ),
            });
            return None;
        }
        let children = children_of(live, &d.address);
        if !children.is_empty() {
            problems.push(Problem {
                address: d.address.clone(),
                message: format!(
                    "cannot be replaced while it has children ({}); move the children first",
                    children
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            return None;
        }
        if ownership.protected.contains(&d.address) || d.protect {
            problems.push(Problem {
                address: d.address.clone(),
                message: "is protected (protect: true) and a replace deletes it".into(),
            });
            return None;
        }
        return Some(Change::draft(
            d.address.clone(),
            Action::Replace,
            reason,
            Some(l.raw()),
            Some(kind.create_body(d)),
            fields,
            d.delete_cascade,
        ));
    }
    let names = fields.iter().map(|f| f.field.clone()).collect();
    let raw = l.raw();
    Some(Change::draft(
        d.address.clone(),
        Action::Update,
        Reason::FieldsChanged { fields: names },
        Some(raw.clone()),
        Some(kind.update_body(d, &raw)),
        fields,
        d.delete_cascade,
    ))
}

/// New address → the live address it is renamed from (`renamed_from:`): only where the live
/// project has exactly one old object and not the new one. Both at once, or two old ones, is
/// a problem the user settles (by deleting one); none is a plain create.
fn find_renames(
    desired: &DesiredGraph,
    live: &LiveGraph,
    scope: &Scope,
    problems: &mut Vec<Problem>,
) -> BTreeMap<Address, Address> {
    let mut renames: BTreeMap<Address, Address> = BTreeMap::new();
    for d in desired
        .resources
        .values()
        .filter(|d| scope.contains(&d.address))
    {
        let old: Vec<Address> = kinds::of(d.address.kind())
            .renamed_from(d)
            .into_iter()
            .filter(|a| live.resources.contains_key(a) && !desired.resources.contains_key(a))
            .collect();
        let list = |v: &[Address]| {
            v.iter()
                .map(Address::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        };
        match old.as_slice() {
            [] => {}
            _ if live.resources.contains_key(&d.address) => problems.push(Problem {
                address: d.address.clone(),
                message: format!(
                    "is renamed from {0}, but both {1} and {0} exist in the live project; delete the one \
                     to drop, then plan again",
                    list(&old),
                    d.address
                ),
            }),
            [from] if live.resources[from].system => problems.push(Problem {
                address: d.address.clone(),
                message: format!(
                    "is renamed from {from}, a Descope system default that this tool never changes"
                ),
            }),
            [from] => match renames.iter().find(|(_, f)| *f == from) {
                Some((other, _)) => problems.push(Problem {
                    address: d.address.clone(),
                    message: format!("and {other} are both renamed from {from}; only one can be"),
                }),
                None => {
                    renames.insert(d.address.clone(), from.clone());
                }
            },
            several => problems.push(Problem {
                address: d.address.clone(),
                message: format!(
                    "is renamed from {}, which all exist in the live project; delete all but one, \
                     then plan again",
                    list(several)
                ),
            }),
        }
    }
    renames
}

/// One update of the live object at `from` that gives it `d`'s name and fields.
fn plan_rename(d: &DesiredResource, l: &LiveResource, from: &Address) -> Change {
    let kind = kinds::of(d.address.kind());
    let mut have = l.spec.fields();
    kind.compare_view(d.spec.as_ref(), &mut have);
    Change::draft(
        d.address.clone(),
        Action::Update,
        Reason::Renamed {
            from: from.to_string(),
        },
        Some(l.raw()),
        Some(kind.rename_body(d, from, &l.raw())),
        field_changes(&d.spec.fields(), &have, &d.ignore_changes),
        d.delete_cascade,
    )
}

fn plan_absent_from_config(
    l: &LiveResource,
    ownership: &Ownership,
    options: &PlanOptions,
    problems: &mut Vec<Problem>,
) -> Option<Change> {
    let kind = l.address.kind();
    let module = kinds::of(kind);
    if l.system || !module.deletable() {
        // Default roles go with their tenant; the theme cannot be deleted (removing `theme:`
        // only stops managing it).
        return None;
    }
    let managed = ownership.managed.contains(&l.address);
    let reason = if managed {
        Reason::RemovedFromConfig
    } else if options.prune.contains(&kind) && module.prunable() {
        Reason::Pruned
    } else {
        return None;
    };
    if !options.targets.is_empty() && !options.targets.contains(&l.address) {
        return None;
    }
    if ownership.protected.contains(&l.address) {
        problems.push(Problem {
            address: l.address.clone(),
            message: "is protected (protect: true in state.json) but the plan would delete it; \
                      put it back in the config, or set protect: false and apply that first"
                .into(),
        });
        return None;
    }
    Some(Change::draft(
        l.address.clone(),
        Action::Delete,
        reason,
        Some(l.raw()),
        None,
        vec![],
        ownership.cascade.contains(&l.address),
    ))
}

/// A replaced tenant takes its tenant roles, and with them its default roles, along: Descope
/// deletes a tenant's roles with the tenant (docs/descope-api.md §6). Without this, an apply of a
/// replace silently destroyed unchanged roles and default roles the config still names, and
/// only the next plan noticed. Whatever the config keeps under the tenant is created again
/// after the replace; what it does not name would be lost silently, so that is refused.
fn recreate_under_replaced(
    desired: &DesiredGraph,
    live: &LiveGraph,
    scope: &Scope,
    drafts: &mut Vec<Change>,
    problems: &mut Vec<Problem>,
) {
    let replaced: Vec<Address> = drafts
        .iter()
        .filter(|c| c.action == Action::Replace)
        .map(|c| c.address.clone())
        .collect();
    for owner in replaced {
        let under: Vec<&LiveResource> = live
            .resources
            .values()
            .filter(|r| {
                kinds::of(r.address.kind())
                    .references(r.spec.as_ref())
                    .contains(&Reference::OwnedBy(owner.clone()))
            })
            .collect();
        for l in under {
            let existing = drafts.iter().position(|c| c.address == l.address);
            let planned_delete = existing.is_some_and(|i| drafts[i].action == Action::Delete);
            match desired.resources.get(&l.address) {
                // Deleted anyway; wire_dependencies runs the delete before the replace.
                _ if planned_delete => {}
                Some(d) if scope.contains(&l.address) => {
                    let change = Change::draft(
                        l.address.clone(),
                        Action::Create,
                        Reason::TenantReplaced {
                            tenant: owner_key(&owner),
                        },
                        Some(l.raw()),
                        Some(kinds::of(l.address.kind()).create_body(d)),
                        field_changes(&d.spec.fields(), &BTreeMap::new(), &d.ignore_changes),
                        false,
                    );
                    match existing {
                        Some(i) => drafts[i] = change,
                        None => drafts.push(change),
                    }
                }
                Some(_) => problems.push(Problem {
                    address: owner.clone(),
                    message: format!(
                        "replacing it also deletes {0}, which --target leaves out; add --target {0}",
                        l.address
                    ),
                }),
                None => problems.push(Problem {
                    address: owner.clone(),
                    message: format!(
                        "replacing it also deletes {}, which the config does not name; add it to the config \
                         (to create it again after the replace) or delete it first",
                        l.address
                    ),
                }),
            }
        }
    }
}

/// Descope refuses to delete a tenant that still has sub-tenants (the strict emulator models
/// it). Without this check such a plan was sealed and then failed in apply; every child must be
/// deleted in the same plan, or moved away by a replace, first.
fn check_deleted_parents(live: &LiveGraph, drafts: &[Change], problems: &mut Vec<Problem>) {
    let leaving: BTreeSet<&Address> = drafts
        .iter()
        // A replace (only ever for a changed parent) recreates the child under its new parent.
        .filter(|c| c.action.is_destructive())
        .map(|c| &c.address)
        .collect();
    for c in drafts.iter().filter(|c| c.action == Action::Delete) {
        let staying: Vec<String> = children_of(live, &c.address)
            .into_iter()
            .filter(|a| !leaving.contains(a))
            .map(owner_key)
            .collect();
        if !staying.is_empty() {
            problems.push(Problem {
                address: c.address.clone(),
                message: format!(
                    "cannot be deleted while it has child tenants that stay ({}); Descope refuses it. \
                     Delete them in the same plan (remove them from the config, or --prune tenant \
                     if unmanaged) or move them under another parent first",
                    staying.join(", ")
                ),
            });
        }
    }
}

/// Field-level differences for managed fields (those present in `want`).
fn field_changes(
    want: &BTreeMap<&'static str, Value>,
    have: &BTreeMap<&'static str, Value>,
    ignore: &[String],
) -> Vec<FieldChange> {
    want.iter()
        .filter(|(k, _)| !ignore.iter().any(|i| i == *k))
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange {
            field: (*k).to_string(),
            before: have.get(k).cloned(),
            after: Some(v.clone()),
        })
        .collect()
}

/// Live resources that cannot stay without `parent` (sub-tenants of a tenant).
fn children_of<'a>(live: &'a LiveGraph, parent: &Address) -> Vec<&'a Address> {
    live.resources
        .values()
        .filter(|r| {
            kinds::of(r.address.kind())
                .references(r.spec.as_ref())
                .contains(&Reference::ChildOf(parent.clone()))
        })
        .map(|r| &r.address)
        .collect()
}

/// The text after `<kind>.` (a tenant's id), for messages and reasons.
fn owner_key(address: &Address) -> String {
    let text = address.to_string();
    match text.split_once('.') {
        Some((_, key)) => key.to_string(),
        None => text,
    }
}

fn live_claims(r: &LiveResource) -> Vec<Claim> {
    kinds::of(r.address.kind()).claims(r.spec.as_ref())
}

/// Live holders of every unique value.
fn claim_holders(live: &LiveGraph) -> BTreeMap<Claim, Address> {
    let mut holders = BTreeMap::new();
    for r in live.resources.values() {
        for claim in live_claims(r) {
            holders.insert(claim, r.address.clone());
        }
    }
    holders
}

/// What a change leaves claimed: the values its body sets (an update body carries the live
/// values of fields the config does not manage, which stay claimed).
fn final_claims(c: &Change) -> Vec<Claim> {
    match (&c.action, &c.after) {
        (Action::Delete, _) | (_, None) => vec![],
        (_, Some(body)) => kinds::of(c.address.kind()).body_claims(body),
    }
}

fn check_unique_claims(live: &LiveGraph, drafts: &[Change], problems: &mut Vec<Problem>) {
    let holders = claim_holders(live);
    let changed: BTreeMap<&Address, &Change> = drafts.iter().map(|c| (&c.address, c)).collect();
    for c in drafts {
        for claim in final_claims(c) {
            let Some(holder) = holders.get(&claim) else {
                continue;
            };
            if holder == &c.address {
                continue;
            }
            let released = changed
                .get(holder)
                .is_some_and(|hc| !final_claims(hc).contains(&claim));
            if !released {
                problems.push(Problem {
                    address: c.address.clone(),
                    message: format!(
                        "claims {claim}, which {holder} holds and keeps; free it there first (in the config, or by hand if {holder} is unmanaged)"
                    ),
                });
            }
        }
    }
}

/// For each draft, the drafts that must succeed before it.
fn wire_dependencies(
    desired: &DesiredGraph,
    live: &LiveGraph,
    drafts: &[Change],
) -> Vec<BTreeSet<usize>> {
    // A swap's temporary release shares its address with the real change; dependencies on
    // the address mean the real change.
    let index: BTreeMap<&Address, usize> = drafts
        .iter()
        .enumerate()
        .filter(|(_, c)| !is_swap_release(c))
        .map(|(i, c)| (&c.address, i))
        .collect();
    let mut deps = vec![BTreeSet::new(); drafts.len()];
    // Values a temporary release frees, and the release itself.
    let mut freed_by: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in drafts
        .iter()
        .enumerate()
        .filter(|(_, c)| is_swap_release(c))
    {
        let kept: BTreeSet<Claim> = c
            .after
            .as_ref()
            .map(|b| kinds::of(c.address.kind()).body_claims(b))
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(l) = live.resources.get(&c.address) {
            for claim in live_claims(l) {
                if !kept.contains(&claim) {
                    freed_by.insert(claim, i);
                }
            }
        }
        if let Some(&real) = index.get(&c.address) {
            deps[real].insert(i);
        }
    }

    for (i, c) in drafts.iter().enumerate() {
        if c.action != Action::Delete {
            // Creates and updates after what they need.
            if let Some(d) = desired.resources.get(&c.address) {
                for dep in &d.depends_on {
                    if let Some(&j) = index.get(dep) {
                        if drafts[j].action != Action::Delete {
                            deps[i].insert(j);
                        }
                    }
                }
            }
            // A replace deletes first: what is being deleted under it goes before it, as
            // for a delete (else the role delete would find its tenant's roles gone).
            if c.action == Action::Replace {
                for (j, other) in drafts.iter().enumerate() {
                    if i != j
                        && other.action == Action::Delete
                        && refers_to(other, &c.address, desired, live)
                    {
                        deps[i].insert(j);
                    }
                }
            }
        } else {
            // Deletes in reverse: whatever lives under or refers to this resource goes first.
            for (j, other) in drafts.iter().enumerate() {
                if i != j && refers_to(other, &c.address, desired, live) {
                    deps[i].insert(j);
                }
            }
        }
    }

    // Release before claim: a change claiming a unique value waits for the change that frees it.
    let holders = claim_holders(live);
    for (i, c) in drafts.iter().enumerate() {
        if is_swap_release(c) {
            // It only keeps a subset of what it holds, plus a fresh temporary name.
            continue;
        }
        for claim in final_claims(c) {
            if let Some(&t) = freed_by.get(&claim) {
                if drafts[t].address != c.address {
                    deps[i].insert(t);
                }
                continue;
            }
            if let Some(holder) = holders.get(&claim) {
                if let Some(&j) = index.get(holder) {
                    if j != i {
                        deps[i].insert(j);
                    }
                }
            }
        }
    }
    deps
}

fn is_swap_release(c: &Change) -> bool {
    matches!(c.reason, Reason::ReleasesForSwap { .. })
}

/// For a cycle of changes, the temporary update of one stuck tenant update that both frees a
/// value another change claims and claims a value another change frees: it drops the freed
/// domains and takes a temporary name, so the others can proceed and the real update runs last.
fn swap_release(live: &LiveGraph, drafts: &[Change], stuck: &[usize]) -> Option<Change> {
    let holders = claim_holders(live);
    let claimed_by_others = |i: usize| -> BTreeSet<String> {
        drafts
            .iter()
            .enumerate()
            .filter(|(j, c)| *j != i && !is_swap_release(c))
            .flat_map(|(_, c)| final_claims(c))
            .collect()
    };
    for &i in stuck {
        let c = &drafts[i];
        let has_temp = drafts
            .iter()
            .any(|o| is_swap_release(o) && o.address == c.address);
        if c.action != Action::Update || has_temp {
            continue;
        }
        let (Some(l), Some(after)) = (live.resources.get(&c.address), c.after.as_ref()) else {
            continue;
        };
        let mine = final_claims(c);
        let wanted = claimed_by_others(i);
        let frees: Vec<Claim> = live_claims(l)
            .into_iter()
            .filter(|v| !mine.contains(v) && wanted.contains(v))
            .collect();
        let takes = mine
            .iter()
            .any(|v| holders.get(v).is_some_and(|h| h != &c.address));
        if frees.is_empty() || !takes {
            continue;
        }
        let Some(release) = kinds::of(c.address.kind()).release_for_swap(&kinds::Swap {
            address: &c.address,
            live: l,
            body: after,
            frees: &frees,
        }) else {
            continue;
        };
        return Some(Change::draft(
            c.address.clone(),
            Action::Update,
            Reason::ReleasesForSwap {
                values: release.values,
            },
            c.before.clone(),
            Some(release.body),
            release.fields,
            false,
        ));
    }
    None
}

/// Does `other` (a change) refer to `target` so that `target` may only be deleted after it?
fn refers_to(other: &Change, target: &Address, desired: &DesiredGraph, live: &LiveGraph) -> bool {
    let live_refers = live
        .resources
        .get(&other.address)
        .is_some_and(|r| live_depends_on(r, target));
    match other.action {
        // Something else being deleted that lived under the target.
        Action::Delete => live_refers,
        // An update that drops its reference must run first; a create/update that still needs
        // the target would have been refused by validation.
        _ => {
            live_refers
                && !desired
                    .resources
                    .get(&other.address)
                    .is_some_and(|d| d.depends_on.contains(target))
        }
    }
}

fn live_depends_on(r: &LiveResource, target: &Address) -> bool {
    kinds::of(r.address.kind())
        .references(r.spec.as_ref())
        .iter()
        .any(|reference| reference.targets().contains(target))
}

/// The dependency queue's order (the one apply runs by); among ready changes creates and
/// updates before deletes, then by kind and address, so the order is stable. `Err` holds the
/// changes of a cycle.
fn topological_order(
    drafts: &[Change],
    deps: &[BTreeSet<usize>],
) -> Result<Vec<usize>, Vec<usize>> {
    let key = |i: usize| {
        (
            drafts[i].action == Action::Delete,
            kinds::rank(drafts[i].address.kind()),
            drafts[i].address.clone(),
            i,
        )
    };
    let mut queue = DependencyQueue::builder();
    for (i, ds) in deps.iter().enumerate() {
        queue.enqueue(key(i), ds.iter().map(|&j| key(j)), ());
    }
    match queue.build() {
        Ok(queue) => Ok(queue.into_order().into_iter().map(|k| k.3).collect()),
        Err(BuildError::Cycle(keys)) => Err(dedup_indices(keys.into_iter().map(|k| k.3))),
        // Keys hold the index, so none repeats.
        Err(BuildError::Duplicate(k)) => Err(vec![k.3]),
    }
}

fn dedup_indices(v: impl Iterator<Item = usize>) -> Vec<usize> {
    v.collect::<BTreeSet<_>>().into_iter().collect()
}
