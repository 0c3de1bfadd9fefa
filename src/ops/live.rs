//! Reading the live project with the fewest requests: one list call per kind, a flow export
//! only for the flows the config names (for the diff), the theme only when it is managed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::gateway::Gateway;
use crate::api::{endpoints, ApiError};
use crate::model::Address;
use crate::resource::desired::SecretField;
use crate::resource::live::{self, LiveGraph, LiveSnapshot};
use crate::resource::DocForm;
use crate::secret::Secret;

/// Which optional parts to read.
#[derive(Debug, Clone, Default)]
pub struct LiveScope {
    /// Flow ids to export, with the form of the config's file.
    pub export_flows: BTreeMap<String, DocForm>,
    /// Read the flow list (flows are configured, managed, or being exported).
    pub list_flows: bool,
    /// Export the theme in this form.
    pub theme: Option<DocForm>,
    /// Export every listed flow in v1 form (`export`), not only `export_flows`.
    pub export_all_flows: bool,
}

impl LiveScope {
    /// What a plan or apply over these addresses needs.
    pub fn for_addresses<'a>(
        addresses: impl IntoIterator<Item = &'a Address>,
        forms: &BTreeMap<Address, DocForm>,
    ) -> LiveScope {
        let mut scope = LiveScope::default();
        for a in addresses {
            match a {
                Address::Flow(id) => {
                    scope.list_flows = true;
                    if let Some(f) = forms.get(a) {
                        scope.export_flows.insert(id.clone(), *f);
                    }
                }
                Address::Theme => scope.theme = Some(forms.get(a).copied().unwrap_or(DocForm::V1)),
                _ => {}
            }
        }
        scope
    }
}

/// Number of requests `read_snapshot` sends for this scope.
pub fn request_count(scope: &LiveScope) -> usize {
    3 + usize::from(scope.list_flows)
        + scope.export_flows.len()
        + usize::from(scope.theme.is_some())
        + usize::from(scope.theme == Some(DocForm::V2))
}

pub async fn read_snapshot(gateway: &Gateway, scope: &LiveScope) -> Result<LiveSnapshot, ApiError> {
    // Sequential on purpose: the budget spreads them anyway, and the first read doubles as the
    // credentials check (a 401 here says the key or project is wrong).
    let permissions = gateway
        .read_list(endpoints::permission_load_all(), "permissions")
        .await?;
    let roles = gateway
        .read_list(endpoints::role_load_all(), "roles")
        .await?;
    let tenants = gateway
        .read_list(endpoints::tenant_load_all(), "tenants")
        .await?;
    let flows = if scope.list_flows {
        gateway.read_list(endpoints::flow_list(), "flows").await?
    } else {
        Vec::new()
    };
    let listed: BTreeSet<&str> = flows
        .iter()
        .filter_map(|f| f.get("id").and_then(Value::as_str))
        .collect();
    let mut wanted = scope.export_flows.clone();
    if scope.export_all_flows {
        for id in listed.iter().filter(|id| !id.is_empty()) {
            wanted.entry(id.to_string()).or_insert(DocForm::V1);
        }
    }
    let mut flow_exports = BTreeMap::new();
    for (id, form) in &wanted {
        if !listed.contains(id.as_str()) {
            continue;
        }
        let doc = match form {
            DocForm::V1 => gateway.read(endpoints::flow_export_v1(id)).await?,
            // GO returns the inner `flow` of a v2 export; keep the document as the file has it.
            DocForm::V2 => gateway.read(endpoints::flow_export_v2(id)).await?,
        };
        flow_exports.insert(id.clone(), doc);
    }
    let theme = match scope.theme {
        None => None,
        Some(DocForm::V1) => Some(gateway.read(endpoints::theme_export_v1()).await?),
        Some(DocForm::V2) => Some(gateway.read(endpoints::theme_export_v2()).await?),
    };
    let theme_v1 = match scope.theme {
        Some(DocForm::V2) => Some(gateway.read(endpoints::theme_export_v1()).await?),
        _ => None,
    };
    Ok(LiveSnapshot {
        permissions,
        roles,
        tenants,
        flows,
        flow_exports,
        theme,
        theme_v1,
    })
}

pub async fn read_graph(
    gateway: &Gateway,
    scope: &LiveScope,
    secret_fields: &[SecretField],
    key: &Secret,
) -> Result<LiveGraph, ApiError> {
    let snapshot = read_snapshot(gateway, scope).await?;
    Ok(live::build(&snapshot, secret_fields, key))
}
