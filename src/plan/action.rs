//! The closed set of things a plan can do to one resource, each with its symbol, and the typed
//! reason it is done.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Delete, then create again: destructive, only with `--allow-replace`.
    Replace,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Replace => "replace",
        }
    }

    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

/// Why a change is in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// In the config, not in the live project.
    NotInLiveProject,
    /// Managed (recorded in state.json), no longer in the config.
    RemovedFromConfig,
    /// Never managed, deleted because of `--prune KIND`.
    Pruned,
    /// Managed fields differ.
    FieldsChanged { fields: Vec<String> },
    /// Descope sets a tenant's parent only at creation.
    ParentChanged { from: String, to: String },
    /// A field Descope sets only at creation changed (an SSO application's OIDC client id or
    /// its type).
    CreateOnlyChanged {
        field: String,
        from: String,
        to: String,
    },
    /// A temporary update that frees a unique name or domain for another resource (a swap).
    ReleasesForSwap { values: Vec<String> },
    /// Created again because its tenant is replaced: Descope deletes a tenant's roles (and so
    /// its default roles) with the tenant.
    TenantReplaced { tenant: String },
    /// The live object at `from` (an address) renamed to this one (`renamed_from:`), in place.
    Renamed { from: String },
}

/// A value as a reason shows it: an empty one is "(none)", not nothing.
fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "(none)"
    } else {
        s
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotInLiveProject => f.write_str("not in live project"),
            Reason::RemovedFromConfig => f.write_str("removed from config"),
            Reason::Pruned => f.write_str("not in config (--prune)"),
            Reason::FieldsChanged { fields } => {
                let list = match fields.as_slice() {
                    [] => String::new(),
                    [one] => one.clone(),
                    [init @ .., last] => format!("{} and {last}", init.join(", ")),
                };
                write!(f, "{list} changed")
            }
            Reason::ParentChanged { from, to } => {
                write!(
                    f,
                    "parent changed from {} to {} (Descope sets the parent only at creation)",
                    or_none(from),
                    or_none(to)
                )
            }
            Reason::CreateOnlyChanged { field, from, to } => {
                write!(
                    f,
                    "{field} changed from {} to {} (Descope sets it only at creation)",
                    or_none(from),
                    or_none(to)
                )
            }
            Reason::ReleasesForSwap { values } => {
                write!(f, "temporarily releases {} for a swap", values.join(", "))
            }
            Reason::TenantReplaced { tenant } => {
                write!(f, "tenant.{tenant} is replaced, which deletes it")
            }
            Reason::Renamed { from } => write!(f, "renamed from {from}"),
        }
    }
}
