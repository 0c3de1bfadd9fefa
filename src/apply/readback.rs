//! Reading one resource back from the live project: to decide whether an ambiguous write took
//! effect (the gateway's outcome check) and to record fresh fingerprints after an apply.

use crate::api::gateway::{CheckFuture, CheckResult, Gateway, OutcomeCheck};
use crate::api::ApiError;
use crate::model::Address;
use crate::plan::effect::has_taken_effect;
use crate::plan::Change;
use crate::resource::desired::SecretField;
use crate::resource::live::{self, LiveSnapshot};
use crate::resource::LiveResource;

/// Read the live object at `address` (`None` when it does not exist), normalized the way the
/// planner read it so it can be compared with a change's `after`.
pub async fn read_one(
    gateway: &Gateway,
    address: &Address,
    secret_fields: &[SecretField],
) -> Result<Option<LiveResource>, ApiError> {
    let graph = read_around(gateway, address, secret_fields).await?;
    Ok(graph.resources.get(address).cloned())
}

/// One read that shows `address`, as its kind reads it: the tenant itself, or the whole list of
/// its kind (so one read answers for every member of a role or permission batch).
async fn read_around(
    gateway: &Gateway,
    address: &Address,
    secret_fields: &[SecretField],
) -> Result<live::LiveGraph, ApiError> {
    let mut snapshot = LiveSnapshot::default();
    crate::kinds::of(address.kind())
        .read_one(crate::kinds::LiveRead::new(gateway, &mut snapshot), address)
        .await?;
    let key = &gateway.transport().credentials().management_key;
    Ok(live::build(&snapshot, secret_fields, key))
}

/// The gateway's outcome check for one change: does the live object already show it?
pub struct EffectCheck<'a> {
    pub change: &'a Change,
    pub secret_fields: &'a [SecretField],
}

impl OutcomeCheck for EffectCheck<'_> {
    fn check<'a>(&'a self, gateway: &'a Gateway) -> CheckFuture<'a> {
        Box::pin(async move {
            let live = read_one(gateway, &self.change.address, self.secret_fields).await?;
            Ok(if has_taken_effect(self.change, live.as_ref()) {
                CheckResult::Done
            } else {
                CheckResult::NotDone
            })
        })
    }
}

/// The outcome check for a batch request, which Descope applies as one transaction: done when
/// every member's change shows live. Without it an ambiguous failure of a batch that had
/// committed was sent again blind (docs/design.md §2: read before retrying).
pub struct BatchEffectCheck<'a> {
    pub changes: &'a [Change],
    pub secret_fields: &'a [SecretField],
}

impl OutcomeCheck for BatchEffectCheck<'_> {
    fn check<'a>(&'a self, gateway: &'a Gateway) -> CheckFuture<'a> {
        Box::pin(async move {
            let Some(first) = self.changes.first() else {
                return Ok(CheckResult::NotDone);
            };
            // Members of one batch are of one kind, so one list read shows them all.
            let graph = read_around(gateway, &first.address, self.secret_fields).await?;
            let all = self
                .changes
                .iter()
                .all(|c| has_taken_effect(c, graph.resources.get(&c.address)));
            Ok(if all {
                CheckResult::Done
            } else {
                CheckResult::NotDone
            })
        })
    }
}

/// Secret stand-ins a plan carries in tenant custom attributes, so live read-backs are masked
/// exactly as when planning: those of the bodies, and those of `before` — the planner also masks
/// attributes state.json remembers as secret after the config stopped naming them (a deleted
/// tenant, a dropped attribute); reading them unmasked here would make every such plan look
/// stale and put the values in the backup.
pub fn secret_fields_of(changes: &[Change]) -> Vec<SecretField> {
    let mut out: Vec<SecretField> = Vec::new();
    for c in changes {
        for body in [c.after.as_ref(), c.before.as_ref()].into_iter().flatten() {
            for (attribute, var) in crate::resource::live::secret_attributes(body) {
                let field = SecretField {
                    address: c.address.clone(),
                    attribute,
                    var,
                };
                if !out.contains(&field) {
                    out.push(field);
                }
            }
        }
    }
    out
}
