//! Kinds whose objects are one document per tenant, behind a load call with no list endpoint
//! (tenant settings, password policies): read only for the tenants the scope names, or for
//! every tenant when it reads everything (`export`), each kept in the snapshot under
//! `<prefix><tenant>`. A tenant that does not exist has no document.

use serde_json::Value;

use super::{LiveRead, ReadScope};
use crate::api::{ApiError, ApiRequest};
use crate::model::{Address, Kind};
use crate::resource::live::{LiveGraph, LiveSnapshot};
use crate::resource::LiveResource;

pub struct PerTenantDocuments {
    pub kind: Kind,
    /// Snapshot key prefix, `<kind>/`.
    pub prefix: &'static str,
    /// The load call for one key (a tenant id; "" for the project where the kind has one).
    pub load: fn(&str) -> ApiRequest,
    /// Whether reading everything includes the project's own document (key "").
    pub project: bool,
    /// A document as the kind's live resource.
    pub to_live: fn(Address, &Value) -> LiveResource,
}

/// Every tenant's id, from the tenant list (read once, and shared with the tenant kind): what
/// a read of one thing per tenant covers when it looks at the whole project.
pub async fn every_tenant(
    gateway: &crate::api::gateway::Gateway,
    snapshot: &mut LiveSnapshot,
) -> Result<Vec<String>, ApiError> {
    let tenants = super::tenant::LIST;
    snapshot
        .read_list(gateway, crate::api::endpoints::tenant_load_all(), tenants)
        .await?;
    Ok(snapshot
        .list(tenants)
        .filter_map(|t| t.get("id")?.as_str().map(str::to_string))
        .collect())
}

impl PerTenantDocuments {
    pub fn key(&self, tenant: &str) -> String {
        format!("{}{tenant}", self.prefix)
    }

    /// Requests a read of this scope sends (not counting the tenant list `export` shares).
    pub fn count(&self, scope: &ReadScope) -> usize {
        scope
            .addresses
            .iter()
            .filter(|a| a.kind() == self.kind)
            .count()
    }

    pub async fn read(&self, io: LiveRead<'_>, scope: &ReadScope) -> Result<(), ApiError> {
        let mut keys: Vec<String> = scope
            .addresses
            .iter()
            .filter(|a| a.kind() == self.kind)
            .map(|a| a.key().to_string())
            .collect();
        if scope.everything {
            if self.project {
                keys.push(String::new());
            }
            keys.extend(every_tenant(io.gateway, io.snapshot).await?);
        }
        keys.sort();
        keys.dedup();
        let total = keys.len();
        for (i, k) in keys.into_iter().enumerate() {
            io.gateway
                .progress(self.prefix.trim_end_matches('/'), i, total);
            if io.snapshot.document(&self.key(&k)).is_none() {
                self.read_one(LiveRead::new(io.gateway, &mut *io.snapshot), &k)
                    .await?;
            }
        }
        Ok(())
    }

    /// One document into the snapshot (again, after a write).
    pub async fn read_one(&self, io: LiveRead<'_>, key: &str) -> Result<(), ApiError> {
        let req = (self.load)(key);
        match io.gateway.read(req.clone()).await {
            Ok(v) if v.is_object() => {
                io.snapshot.put_document(self.key(key), v);
                Ok(())
            }
            Ok(_) => Err(ApiError::decode(&req, "the answer is not a JSON object")),
            Err(e) if e.is_not_found() => {
                io.snapshot.remove_document(&self.key(key));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The documents read, as the kind's live resources.
    pub fn live(&self, snapshot: &LiveSnapshot, out: &mut LiveGraph) {
        for (key, doc) in snapshot.documents_under(self.prefix) {
            out.insert((self.to_live)(Address::new(self.kind, key), doc));
        }
    }
}
