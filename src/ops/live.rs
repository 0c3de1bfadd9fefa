//! Reading the live project with the fewest requests: each kind reads what it needs (one list
//! call per kind, a flow export only for the flows the config names, the theme only when it is
//! managed), and a list two kinds share is read once.

use crate::api::gateway::Gateway;
use crate::api::ApiError;
use crate::kinds::{self, LiveRead, ReadScope};
use crate::resource::desired::SecretField;
use crate::resource::live::{self, LiveGraph, LiveSnapshot};
use crate::secret::Secret;

/// Number of requests `read_snapshot` sends for this scope.
pub fn request_count(scope: &ReadScope) -> usize {
    kinds::all().iter().map(|k| k.read_count(scope)).sum()
}

pub async fn read_snapshot(gateway: &Gateway, scope: &ReadScope) -> Result<LiveSnapshot, ApiError> {
    // In kind order: the first read doubles as the credentials check (a 401 there says the key
    // or project is wrong).
    let mut snapshot = LiveSnapshot::default();
    for kind in kinds::all() {
        kind.read(LiveRead::new(gateway, &mut snapshot), scope)
            .await?;
    }
    Ok(snapshot)
}

pub async fn read_graph(
    gateway: &Gateway,
    scope: &ReadScope,
    secret_fields: &[SecretField],
    key: &Secret,
) -> Result<LiveGraph, ApiError> {
    let snapshot = read_snapshot(gateway, scope).await?;
    Ok(live::build(&snapshot, secret_fields, key))
}
