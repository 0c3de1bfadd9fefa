//! `descope-mgmt list KIND`: what the live project holds of one kind, each marked as managed
//! (state.json), named in the configuration, or Descope's own. Read-only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{OpError, Session};
use crate::kinds::ReadScope;
use crate::model::{Address, Kind};
use crate::state::StateFile;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub address: Address,
    /// The object's display name (`name`, else its id).
    pub name: String,
    /// state.json manages it: plans update it, and delete it when the config drops it.
    pub managed: bool,
    /// The configuration names it.
    pub in_config: bool,
    /// A Descope default (system permission, built-in role): never touched.
    pub system: bool,
}

/// `tenants`, `tenant`, `roles`, … → the kind (singular or plural, as users type it).
pub fn parse_kind(text: &str) -> Result<Kind, OpError> {
    let t = text.trim().to_ascii_lowercase();
    crate::kinds::all()
        .iter()
        .map(|k| k.kind())
        .find(|k| t == k.as_str() || t == format!("{}s", k.as_str()))
        .ok_or_else(|| {
            let names: Vec<String> = crate::kinds::all()
                .iter()
                .map(|k| format!("{}s", k.kind().as_str()))
                .collect();
            OpError::Usage(format!(
                "`{text}` is not a resource kind; one of: {}",
                names.join(", ")
            ))
        })
}

pub async fn list(session: &Session, kind: Kind) -> Result<Vec<Listed>, OpError> {
    let desired = super::plan::desired_graph(session)?;
    let state = StateFile::load(&session.state)?;
    let mut scope = ReadScope::for_addresses(
        desired
            .resources
            .keys()
            .chain(state.resources.keys())
            .filter(|a| a.kind() == kind),
        &BTreeMap::new(),
    );
    scope.kinds.push(kind);
    let live = session.read_live(&scope, &desired.secret_fields).await?;
    Ok(live
        .resources
        .values()
        .filter(|r| r.address.kind() == kind)
        .map(|r| Listed {
            address: r.address.clone(),
            name: ["name", "id"]
                .iter()
                .find_map(|f| r.raw().get(*f).and_then(|v| v.as_str()).map(str::to_string))
                .unwrap_or_default(),
            managed: state.is_managed(&r.address),
            in_config: desired.resources.contains_key(&r.address),
            system: r.system,
        })
        .collect())
}
