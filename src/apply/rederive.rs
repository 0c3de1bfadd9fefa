//! A first apply re-derives the plan and requires identity (docs/plan-format.md, Threat model).
//!
//! The planner is deterministic: from the configuration apply was given, the options the plan
//! records and live objects that match the recorded fingerprints it makes exactly one change
//! set. So a plan file edited between review and apply (its digest recomputed) shows up as a
//! difference between the file and what the planner makes now. Where the live object moved
//! since planning (drift), a difference is the world's doing, not the file's: it is reported,
//! and the change is not done.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::Address;
use crate::plan::file::Summary;
use crate::plan::{Change, PlanFile};
use crate::resource::live::{secret_refs, LiveGraph};

/// Compares the plan file with the one derived now. `Ok` holds warnings (drift on addresses
/// the plan does not touch); `Err` names the first difference.
pub fn compare(
    plan: &PlanFile,
    derived: &PlanFile,
    live: &LiveGraph,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();

    // Fields apply uses as they are must say what the changes say.
    if plan.summary != Summary::of(&plan.changes) {
        return Err("`summary` does not count the plan's changes".into());
    }
    let mut secrets = Vec::new();
    for c in &plan.changes {
        if let Some(after) = &c.after {
            secret_refs(after, &mut secrets);
        }
    }
    secrets.sort_by(|a, b| (&a.secret, &a.hmac).cmp(&(&b.secret, &b.hmac)));
    secrets.dedup();
    if plan.secrets != secrets {
        return Err("`secrets` does not list the secret stand-ins of the plan's changes".into());
    }

    // Fingerprints: one for every address the config names or a change touches, and nothing
    // else. Drift: a recorded fingerprint live no longer matches.
    let mut drifted = BTreeSet::new();
    for (address, want) in &derived.fingerprints {
        match plan.fingerprints.get(address) {
            None if derived.changes.iter().any(|c| &c.address == address) => {
                return Err(format!(
                    "the planner changes {address} ({}), but the plan holds no change to it",
                    actions(&derived.changes, address)
                ))
            }
            None => {
                return Err(format!(
                    "the plan records no fingerprint for {address}, which the configuration names"
                ))
            }
            Some(recorded) if !recorded.matches(live.resources.get(address)) => {
                drifted.insert(address.clone());
            }
            // "exists" (or any other value) where the planner records the object itself would
            // loosen apply's freshness check.
            Some(recorded) if recorded != want => {
                return Err(format!(
                    "the fingerprint recorded for {address} is not the one the planner records"
                ));
            }
            Some(_) => {}
        }
    }

    // Changes, address by address (ids may shift when drift adds a change elsewhere).
    let mine = by_address(&plan.changes);
    let theirs = by_address(&derived.changes);
    let addresses: BTreeSet<&Address> = mine.keys().chain(theirs.keys()).copied().collect();
    for address in addresses {
        let (a, b) = (
            mine.get(address).cloned().unwrap_or_default(),
            theirs.get(address).cloned().unwrap_or_default(),
        );
        if a == b {
            continue;
        }
        if drifted.contains(address) {
            if a.is_empty() {
                warnings.push(format!(
                    "{address} changed live since planning; the plan does not touch it, and this apply will not either (plan again to see the difference)"
                ));
                continue;
            }
            // Touched and moved: verification refuses it as stale before this point; a
            // difference here is refused the same way.
            return Err(format!("{address} changed live since planning"));
        }
        return Err(match (a.is_empty(), b.is_empty()) {
            (true, _) => format!(
                "the planner changes {address} ({}), but the plan holds no change to it",
                actions(&derived.changes, address)
            ),
            (_, true) => format!(
                "the plan changes {address} ({}), but the planner makes no change to it",
                actions(&plan.changes, address)
            ),
            _ => format!(
                "the change to {address} differs from what the planner makes (in `{}`)",
                first_field_difference(&a, &b)
            ),
        });
    }
    if drifted.is_empty() && plan.changes != derived.changes {
        return Err(
            "the order of the changes (`id`, `depends_on`) differs from what the planner makes"
                .into(),
        );
    }

    if let Some(extra) = plan
        .fingerprints
        .keys()
        .find(|a| !derived.fingerprints.contains_key(*a))
    {
        return Err(format!(
            "the plan records a fingerprint for {extra}, which neither the configuration names nor a change touches"
        ));
    }

    // What the configuration alone decides.
    for (field, a, b) in [
        (
            "config_addresses",
            &plan.config_addresses,
            &derived.config_addresses,
        ),
        ("protected", &plan.protected, &derived.protected),
        (
            "delete_cascade",
            &plan.delete_cascade,
            &derived.delete_cascade,
        ),
        ("forget", &plan.forget, &derived.forget),
    ] {
        if a != b {
            return Err(format!("`{field}` differs from what the planner makes"));
        }
    }
    if drifted.is_empty() {
        if plan.dependencies != derived.dependencies {
            return Err("`dependencies` differs from what the planner makes".into());
        }
    } else if let Some((a, _)) = plan
        .dependencies
        .iter()
        .find(|(a, e)| derived.dependencies.get(*a) != Some(*e))
    {
        return Err(format!(
            "`dependencies` names {a}, which the planner does not"
        ));
    }
    if plan.unmanaged != derived.unmanaged {
        warnings.push(
            "the live project's unmanaged resources changed since planning (information only)"
                .into(),
        );
    }
    Ok(warnings)
}

fn actions(changes: &[Change], address: &Address) -> String {
    changes
        .iter()
        .filter(|c| &c.address == address)
        .map(|c| c.action.verb())
        .collect::<Vec<_>>()
        .join(", then ")
}

/// Each address's changes in order, without ids; dependencies by address.
fn by_address(changes: &[Change]) -> BTreeMap<&Address, Vec<Value>> {
    let address_of: BTreeMap<usize, &Address> =
        changes.iter().map(|c| (c.id, &c.address)).collect();
    let mut out: BTreeMap<&Address, Vec<Value>> = BTreeMap::new();
    for c in changes {
        let mut v = serde_json::to_value(c).expect("changes serialize");
        if let Some(o) = v.as_object_mut() {
            o.remove("id");
            let deps: BTreeSet<String> = c
                .depends_on
                .iter()
                .map(|d| {
                    address_of
                        .get(d)
                        .map_or_else(|| format!("#{d}"), |a| a.to_string())
                })
                .collect();
            o.insert("depends_on".into(), serde_json::json!(deps));
        }
        out.entry(&c.address).or_default().push(v);
    }
    out
}

fn first_field_difference(a: &[Value], b: &[Value]) -> String {
    if a.len() != b.len() {
        return "number of changes".into();
    }
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x.as_object(), y.as_object()) {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                if x.get(k) != y.get(k) {
                    return k.clone();
                }
            }
        }
    }
    "order".into()
}
